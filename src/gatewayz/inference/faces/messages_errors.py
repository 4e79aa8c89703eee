"""Errors in Anthropic's shape, for the Messages face (POST /v1/messages).

Anthropic's errors are `{"type": "error", "error": {"type": ..., "message": ...}, "request_id": ...}`
under the statuses of its errors page: 400 invalid_request_error (also used for other 4XX),
401 authentication_error, 402 billing_error, 403 permission_error, 404 not_found_error,
409 conflict_error, 413 request_too_large, 429 rate_limit_error, 500 api_error, 504 timeout_error,
529 overloaded_error. The official SDK picks its exception class from the status alone
(`anthropic._error_classes.make_status_error`, with `error.details.error_code` refining a few
statuses; no `details` is sent here, so only the status counts), so the status is what must be
right: the gateway's 503 "no provider can serve this now" becomes Anthropic's 529, which the SDK
raises as `OverloadedError` and retries.

The gateway's own errors carry OpenAI-ish types (`server_error`, `insufficient_quota`, ...) and
codes (`upstream_timeout`, ...); `anthropic_type` maps them, and is what mid-stream errors (which
have no status any more) go by.
"""

from __future__ import annotations

from typing import Any

import orjson

from .base import sse_event

_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}

# Types Anthropic itself uses: an upstream Anthropic error relayed by type keeps it.
_ANTHROPIC_TYPES = frozenset(_STATUS_TYPES.values()) | {"api_error"}

# The gateway's (OpenAI-shaped) types and codes that name an Anthropic type of their own.
_OPENAI_TYPES = {
    "insufficient_quota": "billing_error",
    "rate_limit_error": "rate_limit_error",
    "invalid_request_error": "invalid_request_error",
    "authentication_error": "authentication_error",
    "permission_error": "permission_error",
    "not_found_error": "not_found_error",
    "server_error": "api_error",
}
_CODES = {
    "upstream_timeout": "timeout_error",
    "timeout": "timeout_error",
    "service_unavailable": "overloaded_error",
    "overloaded": "overloaded_error",
    "insufficient_quota": "billing_error",
    "rate_limit_exceeded": "rate_limit_error",
    "upstream_rate_limited": "rate_limit_error",
    "model_not_found": "not_found_error",
    "not_found": "not_found_error",
    "request_too_large": "request_too_large",
}


def anthropic_status(status: int) -> int:
    """The status Anthropic would answer with: the gateway's 503 is Anthropic's 529 (overloaded)."""
    return 529 if status == 503 else status


def anthropic_type(status: int | None, openai_type: str | None = None, code: str | None = None) -> str:
    """The Anthropic error type for a gateway error.

    The status decides when it names one (the SDK's exception follows the status, so the type
    should agree with it); without a status (a mid-stream error) the code, then the type do.
    """
    if status is not None:
        if status == 503:
            return "overloaded_error"
        mapped = _STATUS_TYPES.get(status)
        if mapped is not None:
            return mapped
        if status >= 500:
            return "api_error"
        return "invalid_request_error"
    if code and code in _CODES:
        return _CODES[code]
    if openai_type:
        if openai_type in _ANTHROPIC_TYPES:
            return openai_type
        if openai_type in _OPENAI_TYPES:
            return _OPENAI_TYPES[openai_type]
    return "api_error"


def error_body(error_type: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    """The body of an Anthropic error (also the data of a stream's `error` event)."""
    body: dict[str, Any] = {"type": "error", "error": {"type": error_type, "message": message}}
    if request_id:
        body["request_id"] = request_id
    return body


def anthropic_error(
    status: int,
    message: str,
    openai_type: str | None = None,
    code: str | None = None,
    *,
    request_id: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """(status, body) of a gateway error as Anthropic would send it."""
    return anthropic_status(status), error_body(anthropic_type(status, openai_type, code), message, request_id)


def error_event(
    status: int | None,
    message: str,
    openai_type: str | None = None,
    code: str | None = None,
    *,
    request_id: str | None = None,
) -> bytes:
    """A stream's `event: error` (the HTTP status is long sent: only the type tells what failed)."""
    body = error_body(anthropic_type(status, openai_type, code), message, request_id)
    return sse_event("error", orjson.dumps(body))
