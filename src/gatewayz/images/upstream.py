"""Image calls on the providers' wires, and their answers read back.

- OpenAI protocol (OpenAI, DeepInfra, Together, xAI, Nebius, ...): `POST {images_path}` with
  OpenAI's JSON body; the answer `{"created", "data": [{"b64_json" | "url", "revised_prompt"}],
  "usage"?}`. Edits: multipart to `{image_edits_path}`.
- Gemini protocol (Google's Imagen, Vertex or the Gemini API): `POST /models/{model}:predict`
  with `{"instances": [{"prompt"}], "parameters": {"sampleCount", "aspectRatio", ...}}`; the
  answer `{"predictions": [{"bytesBase64Encoded", "mimeType"}]}` (a filtered image has no bytes).

A provider's answer is input like any other: items that are neither valid base64 nor an http(s)
URL are dropped (and not charged), and never more than the `n` asked for are kept.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from gatewayz.images.pricing import ImagePrice, ImageSpec, ImageUsage
from gatewayz.images.request import GATEWAY_FIELDS
from gatewayz.providers.adapters import UpstreamCall, _headers, _url
from gatewayz.providers.router import Route
from gatewayz.providers.upstream import UpstreamFailure

JSON = dict[str, Any]
MAX_TOKENS = 100_000_000
ASPECT_RATIOS = {"1:1": 1.0, "3:4": 3 / 4, "4:3": 4 / 3, "9:16": 9 / 16, "16:9": 16 / 9}
MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass(slots=True)
class ImageItem:
    data: bytes | None  # the image itself, or
    url: str | None  # where the provider keeps it
    content_type: str
    revised_prompt: str | None = None


@dataclass(slots=True)
class ImageResult:
    items: list[ImageItem]
    usage: ImageUsage | None
    created: int | None


def content_type_of(data: bytes, declared: str | None = None) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return declared if declared in MIME_TYPES.values() else "application/octet-stream"


def _decoded(value: Any) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOKENS:
        return None
    return value


def read_usage(usage: Any) -> ImageUsage | None:
    """gpt-image usage (`input_tokens`, `output_tokens`, `input_tokens_details`), if believable."""
    if not isinstance(usage, dict):
        return None
    total_in, output = _count(usage.get("input_tokens")), _count(usage.get("output_tokens"))
    if total_in is None or output is None:
        return None
    details = usage.get("input_tokens_details")
    details = details if isinstance(details, dict) else {}
    images = _count(details.get("image_tokens", 0)) or 0
    text = _count(details.get("text_tokens", total_in - images))
    if text is None or text + images > total_in:
        text, images = total_in, 0
    return ImageUsage(text, images, output)


# -- building the call ---------------------------------------------------------------------------


def _path(route: Route, path: str | None, what: str) -> str:
    if path is None:
        raise ValueError(f"{route.provider} does not {what}")
    return path.replace("{model}", route.upstream_model)


def _openai_payload(route: Route, body: JSON, spec: ImageSpec, price: ImagePrice | None) -> JSON:
    payload = {k: v for k, v in body.items() if k not in GATEWAY_FIELDS}
    payload["model"] = route.upstream_model
    payload["n"] = spec.n
    sizes = price.sizes if price is not None else []
    if "size" in body or len(sizes) > 1:
        payload["size"] = spec.size
    if "quality" in body or (price is not None and len(price.qualities(spec.size)) > 1):
        payload["quality"] = spec.quality
    takes_format = price is None or price.parameters is None or "response_format" in price.parameters
    if not takes_format:
        payload.pop("response_format", None)
    return payload


def aspect_ratio(size: str) -> str:
    width, _, height = size.partition("x")
    if not (width.isdigit() and height.isdigit()) or not int(height):
        return "1:1"
    ratio = int(width) / int(height)
    return min(ASPECT_RATIOS, key=lambda name: abs(ASPECT_RATIOS[name] - ratio))


def _gemini_payload(body: JSON, spec: ImageSpec) -> JSON:
    parameters: JSON = {"sampleCount": spec.n, "aspectRatio": aspect_ratio(spec.size)}
    if body.get("output_format") in MIME_TYPES:
        parameters["outputOptions"] = {"mimeType": MIME_TYPES[body["output_format"]]}
    if isinstance(body.get("negative_prompt"), str):
        parameters["negativePrompt"] = body["negative_prompt"]
    if isinstance(body.get("seed"), int) and not isinstance(body.get("seed"), bool):
        parameters["seed"] = body["seed"]
    return {"instances": [{"prompt": body["prompt"]}], "parameters": parameters}


def generation_call(route: Route, body: JSON, spec: ImageSpec, price: ImagePrice | None) -> UpstreamCall:
    """The upstream call for one route; ValueError when the route cannot make images."""
    path = _path(route, route.spec.images_path, "generate images")
    if route.spec.protocol == "gemini":
        payload = _gemini_payload(body, spec)
    elif route.spec.protocol == "openai":
        payload = _openai_payload(route, body, spec, price)
    else:
        raise ValueError(f"{route.provider} ({route.spec.protocol} protocol) does not generate images")
    return UpstreamCall("POST", _url(route.spec, path), _headers(route.spec), orjson.dumps(payload))


def edit_call(route: Route, fields: JSON, files: list[tuple[str, str, str, bytes]], spec: ImageSpec,
              price: ImagePrice | None) -> UpstreamCall:
    """A multipart edit: `fields` as form values, `files` as (field, filename, content type, bytes)."""
    path = _path(route, route.spec.image_edits_path, "edit images")
    if route.spec.protocol != "openai":
        raise ValueError(f"{route.provider} ({route.spec.protocol} protocol) does not edit images")
    payload = _openai_payload(route, fields, spec, price)
    boundary = "gatewayz-" + secrets.token_hex(16)
    parts: list[bytes] = []
    for name, value in payload.items():
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{text}\r\n'.encode())
    for name, filename, content_type, data in files:
        safe = filename.replace('"', "").replace("\r", "").replace("\n", "") or "image"
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{safe}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n")
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    headers = _headers(route.spec, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    return UpstreamCall("POST", _url(route.spec, path), headers, b"".join(parts))


# -- reading the answer --------------------------------------------------------------------------


def _openai_items(data: JSON) -> list[ImageItem]:
    items: list[ImageItem] = []
    for entry in data.get("data") or ():
        if not isinstance(entry, dict):
            continue
        revised = entry.get("revised_prompt") if isinstance(entry.get("revised_prompt"), str) else None
        raw = _decoded(entry.get("b64_json"))
        if raw is not None:
            items.append(ImageItem(raw, None, content_type_of(raw), revised))
            continue
        url = entry.get("url")
        if isinstance(url, str) and url.startswith(("https://", "http://")) and len(url) <= 8192:
            items.append(ImageItem(None, url, "", revised))
    return items


def _gemini_items(data: JSON) -> list[ImageItem]:
    items: list[ImageItem] = []
    for entry in data.get("predictions") or ():
        if not isinstance(entry, dict):
            continue
        raw = _decoded(entry.get("bytesBase64Encoded"))
        if raw is not None:
            declared = entry.get("mimeType") if isinstance(entry.get("mimeType"), str) else None
            items.append(ImageItem(raw, None, content_type_of(raw, declared), entry.get("prompt")
                                   if isinstance(entry.get("prompt"), str) else None))
    return items


def read_result(route: Route, data: JSON, spec: ImageSpec) -> ImageResult:
    """The images of a provider's answer (at most `n`); none at all is the provider's failure."""
    if route.spec.protocol == "gemini":
        items, usage, created = _gemini_items(data), None, None
    else:
        items, usage = _openai_items(data), read_usage(data.get("usage"))
        created = data.get("created") if isinstance(data.get("created"), int) else None
    if not items:
        raise UpstreamFailure(route.provider, "protocol", "answered without any image")
    return ImageResult(items[: spec.n], usage, created)
