"""One exception hierarchy, rendered as the OpenAI error shape.

Every error leaving the gateway is `{"error": {"message", "type", "param", "code"}}` with the
status the OpenAI API would use, so the official SDKs raise their typed exceptions.
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = structlog.get_logger("gatewayz.errors")


class GatewayError(Exception):
    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.param, self.code)


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class AuthenticationFailed(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"


class NotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class Conflict(GatewayError):
    status = 409
    type = "invalid_request_error"
    code = "conflict"


class ServiceUnavailable(GatewayError):
    status = 503
    type = "server_error"
    code = "service_unavailable"


def error_body(message: str, type: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


ANTHROPIC_FACE = "/v1/messages"  # errors under this path are in Anthropic's shape (its SDK reads them)


def error_payload(
    status: int, message: str, type: str, param: str | None = None, code: str | None = None, *, path: str = ""
) -> tuple[int, bytes]:
    """The status and JSON body of an error, in the shape of the API face the path belongs to."""
    if path.startswith(ANTHROPIC_FACE):
        from gatewayz.inference.faces.messages_errors import anthropic_error

        status, body = anthropic_error(status, message, type, code)
        return status, orjson.dumps(body)
    return status, orjson.dumps(error_body(message, type, param, code))


def error_response(
    status: int,
    message: str,
    type: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    *,
    path: str = "",
) -> Response:
    status, body = error_payload(status, message, type, param, code, path=path)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
}


def _validation_param(loc: tuple[Any, ...]) -> str | None:
    # "[key]" marks an error in a mapping's key, already named by the part before it
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "[key]") and p != ""]
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


def _validation_response(exc: RequestValidationError, path: str) -> Response:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "Invalid request", "type": ""}
    if first.get("type") == "json_invalid":
        return error_response(400, "The request body is not valid JSON.", "invalid_request_error", path=path)
    param = _validation_param(tuple(first.get("loc", ())))
    message = str(first.get("msg", "Invalid request"))
    if param:
        message = f"Invalid value for '{param}': {message}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem(s))"
    return error_response(400, message, "invalid_request_error", param, "invalid_value", path=path)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def _gateway_error(request: Request, exc: GatewayError) -> Response:
        return error_response(exc.status, exc.message, exc.type, exc.param, exc.code, exc.headers,
                              path=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return _validation_response(exc, request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code
        message = exc.detail if isinstance(exc.detail, str) else "Request failed"
        code = "not_found" if status == 404 else None
        return error_response(
            status,
            message,
            _STATUS_TYPES.get(status, "server_error"),
            code=code,
            headers=getattr(exc, "headers", None),
            path=request.url.path,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        request_id = request.scope.get("gatewayz.request_id", "")
        log.exception("unhandled_error", path=request.url.path, request_id=request_id)
        return error_response(
            500,
            f"The server had an error while processing your request (request id {request_id}).",
            "server_error",
            path=request.url.path,
        )
