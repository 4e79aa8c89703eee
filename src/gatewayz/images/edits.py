"""Reading an edit request: multipart (`image` or `image[]`, `mask`, `prompt` and the other
fields as form values), bounded: the body is capped by the HTTP edge (32 MiB, 413 beyond it) while
it streams in, the number of parts and the size of a non-file value here."""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from gatewayz.errors import GatewayError, InvalidRequest
from gatewayz.images.upstream import content_type_of

JSON = dict[str, Any]
FileUpload = tuple[str, str, str, bytes]  # field, filename, content type, bytes
MAX_FILES = 16
MAX_FIELDS = 32
MAX_FIELD_BYTES = 64 * 1024
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
FILE_FIELDS = ("image", "image[]", "mask")


def _media(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def _number(name: str, value: str) -> Any:
    if name == "n":
        if not value.strip().isdigit():
            raise InvalidRequest("'n' must be an integer.", param="n", code="invalid_type")
        return int(value)
    return value


def _set(fields: JSON, name: str, value: str) -> None:
    """One form value; bracketed names as the SDKs send nested fields (`provider[order][]`,
    `models[]`): objects and lists."""
    head, _, rest = name.partition("[")
    path = [head, *(part.rstrip("]") for part in rest.split("[") if rest)] if rest else [head]
    if len(path) > 4 or not all(path[:-1]) or not head:
        raise InvalidRequest(f"'{name}' is not a field name this endpoint reads.", param=name, code="invalid_value")
    target = fields
    for index, key in enumerate(path[:-1]):
        following = path[index + 1]
        node = target.get(key)
        if node is None:
            node = target[key] = [] if following == "" else {}
        if not isinstance(node, list if following == "" else dict):
            raise InvalidRequest(f"'{name}' mixes a list and a value.", param=name, code="invalid_value")
        if following == "":
            node.append(value)
            return
        target = node
    last = path[-1]
    if last in target:
        raise InvalidRequest(f"'{name}' is given twice.", param=name, code="invalid_value")
    target[last] = _number(last, value) if target is fields else value


def uploads_digest(files: list[FileUpload]) -> str:
    """The uploads in order, for the idempotency fingerprint: the same key with other images is a
    different request, not a replay."""
    digest = hashlib.sha256()
    for field, filename, kind, data in files:
        digest.update(f"{field}\0{filename}\0{kind}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


async def read_edit(request: Request) -> tuple[JSON, list[FileUpload]]:
    if _media(request) != "multipart/form-data":
        raise GatewayError("Send an image edit as multipart/form-data (image, mask, prompt, ...).", status=415,
                           type="invalid_request_error", code="unsupported_media_type")
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES)
    except GatewayError:
        raise
    except Exception as exc:  # MultiPartException and malformed framing
        raise InvalidRequest(f"The multipart body cannot be read: {str(exc)[:200]}", code="invalid_body") from exc
    fields: JSON = {}
    files: list[FileUpload] = []
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name not in FILE_FIELDS:
                    raise InvalidRequest(f"Unexpected file field '{name}'.", param=name, code="unsupported_parameter")
                data = await value.read()
                kind = content_type_of(data)
                if kind not in IMAGE_TYPES:
                    raise InvalidRequest(f"'{name}' must be a PNG, JPEG or WEBP image.", param=name,
                                         code="invalid_image")
                files.append((name, value.filename or "image", kind, data))
            elif name in FILE_FIELDS:
                raise InvalidRequest(f"'{name}' must be a file.", param=name, code="invalid_type")
            else:
                _set(fields, name, value)
    finally:
        await form.close()
    if not any(f[0] in ("image", "image[]") for f in files):
        raise InvalidRequest("Missing required parameter: 'image'.", param="image", code="missing_required_parameter")
    if sum(1 for f in files if f[0] == "mask") > 1:
        raise InvalidRequest("Only one 'mask' may be given.", param="mask", code="invalid_value")
    return fields, files
