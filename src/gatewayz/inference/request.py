"""Reading and checking inference request bodies: cheap checks, clear 400s naming the param.

Only what the gateway itself relies on is checked; every other OpenAI parameter passes through
to the provider, which validates it (its 400 is relayed as ours).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from gatewayz.errors import GatewayError, InvalidRequest
from gatewayz.providers.router import parse_fallback_models, parse_preference
from gatewayz.storage.text import unstorable

MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_TOKENS = 2**31 - 1  # per choice; with n <= 128 and any sane price, a hold fits the ledger
JSON = dict[str, Any]


def _too_large() -> GatewayError:
    return GatewayError(
        "Request body too large.", status=413, type="invalid_request_error", code="request_too_large"
    )


def _refuse_media_type(content_type: str | None) -> None:
    """Bodies are JSON whatever the Content-Type says, as OpenAI accepts them (none, JSON, +json,
    or text/plain as fetch() sends a string); one declared as something else (a form, multipart,
    XML, ...) is a 415 rather than a puzzling JSON error."""
    if content_type is None or content_type.startswith("application/json"):
        return
    media = content_type.partition(";")[0].strip().lower()
    if media in ("", "application/json", "text/plain") or media.endswith("+json"):
        return
    raise GatewayError(
        f"Unsupported Content-Type {media!r}: send the body as JSON (Content-Type: application/json).",
        status=415,
        type="invalid_request_error",
        code="unsupported_media_type",
    )


async def read_json_object(request: Request) -> JSON:
    """Read through the (capped) receive channel chunk by chunk, stopping as soon as the body
    exceeds MAX_BODY_BYTES, rather than buffer it all and measure it afterwards."""
    headers = request.headers
    _refuse_media_type(headers.get("content-type"))
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if not raw:
        raise InvalidRequest("The request body is empty; send a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest("The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


MAX_MODEL_LENGTH = 256  # what a usage record can keep


def require_model(body: JSON) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest(
            "'model' is required and must be a non-empty string.",
            param="model",
            code="missing_required_parameter" if model is None else "invalid_type",
        )
    model = model.strip()
    # The id is stored on the usage record: one that cannot be stored would make settlement fail.
    if len(model) > MAX_MODEL_LENGTH or not model.isprintable() or unstorable(model):
        raise InvalidRequest(
            f"'model' must be at most {MAX_MODEL_LENGTH} printable characters.", param="model", code="invalid_value"
        )
    return model


def _optional(body: JSON, name: str, kind: type | tuple[type, ...], label: str) -> None:
    value = body.get(name)
    if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)):
        raise InvalidRequest(f"'{name}' must be {label}.", param=name, code="invalid_type")


def check_chat(body: JSON) -> str:
    model = require_model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRequest("Each message must be an object.", param=f"messages[{index}]")
        role = message.get("role")
        if not isinstance(role, str) or role not in ("system", "developer", "user", "assistant", "tool", "function"):
            raise InvalidRequest(f"Invalid role {role!r}.", param=f"messages[{index}].role")
    _optional(body, "stream", bool, "a boolean")
    _optional(body, "stream_options", dict, "an object")
    _optional(body, "tools", list, "an array")
    _optional(body, "n", int, "an integer")
    if isinstance(body.get("n"), int) and not 1 <= body["n"] <= 128:
        raise InvalidRequest("'n' must be between 1 and 128.", param="n")
    for name in ("max_tokens", "max_completion_tokens"):
        _optional(body, name, int, "an integer")
        value = body.get(name)
        if isinstance(value, int) and not 1 <= value <= MAX_TOKENS:
            raise InvalidRequest(f"'{name}' must be between 1 and {MAX_TOKENS}.", param=name)
    check_routing(body)
    return model


def check_routing(body: JSON) -> None:
    """The gateway's own routing fields (`models`, `provider`): refused early with a 400 when malformed."""
    parse_fallback_models(body.get("models"))
    parse_preference(body.get("provider"))


def check_embeddings(body: JSON) -> str:
    model = require_model(body)
    value = body.get("input")
    if value is None or value == "" or value == []:
        raise InvalidRequest("'input' is required.", param="input", code="missing_required_parameter")
    if not isinstance(value, str | list):
        raise InvalidRequest("'input' must be a string or an array.", param="input", code="invalid_type")
    check_routing(body)
    return model


def include_usage(body: JSON) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True
