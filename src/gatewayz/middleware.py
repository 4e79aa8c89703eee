"""Pure-ASGI middleware (no BaseHTTPMiddleware: it costs throughput on every request)."""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


class RequestIdMiddleware:
    """Every request gets the gateway's own id (`x-request-id` on the response): it keys holds,
    usage records and the ledger, so a caller can never choose or collide with it. A caller's own
    `x-client-request-id` (or `x-request-id`), when sane, is kept as a correlation field only:
    echoed as `x-client-request-id` and stored on the usage record."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = assign_request_id(scope)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, send_with_id)


def assign_request_id(scope: Scope) -> list[tuple[bytes, bytes]]:
    """Give the request its id (scope, log context) and return the response headers that carry it."""
    client_id = None
    for name, value in scope["headers"]:
        if name == b"x-client-request-id" or (name == b"x-request-id" and client_id is None):
            candidate = value.decode("latin-1")
            if _SAFE_ID.match(candidate):
                client_id = candidate
    request_id = new_request_id()
    scope["gatewayz.request_id"] = request_id
    bind_contextvars(request_id=request_id)  # every log line of this request carries it (this task only)
    headers = [(b"x-request-id", request_id.encode())]
    if client_id is not None:
        scope["gatewayz.client_request_id"] = client_id
        headers.append((b"x-client-request-id", client_id.encode()))
    return headers
