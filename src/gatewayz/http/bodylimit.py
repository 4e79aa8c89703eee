"""Cap every request body while it streams in, so an unauthenticated client cannot make the process
buffer hundreds of megabytes (Starlette and FastAPI read a whole body before anyone looks at it).

A Content-Length above the cap is refused before a byte of the body is read. Without one (chunked
uploads) `receive` is wrapped: bytes are counted as they arrive and the request is answered 413 the
moment the cap is crossed; the server then discards whatever the client still sends. A request
that announces its length needs no wrapper: the server never delivers more than it announced.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatewayz.errors import GatewayError, error_payload
from gatewayz.inference.request import MAX_BODY_BYTES

INFERENCE_PREFIX = "/v1/"
INFERENCE_BODY_LIMIT = MAX_BODY_BYTES  # 32 MiB: long conversations with inline images
DEFAULT_BODY_LIMIT = 1024 * 1024  # management routes take small JSON objects


def body_limit(path: str) -> int:
    return INFERENCE_BODY_LIMIT if path.startswith(INFERENCE_PREFIX) else DEFAULT_BODY_LIMIT


class BodyTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body too large: the limit of this endpoint is {_size(limit)}.")


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit % (1024 * 1024) == 0 else f"{limit} bytes"


async def send_too_large(send: Send, limit: int, path: str) -> None:
    status, body = error_payload(
        413, BodyTooLarge(limit).message, BodyTooLarge.type, None, BodyTooLarge.code, path=path
    )
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await serve_capped(self.app, scope, receive, send, body_limit(scope["path"]))


async def serve_capped(app: ASGIApp, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    """Run `app` with its request body capped at `limit` bytes (413 beyond it)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if value.isdigit() and int(value) > limit:
                await send_too_large(send, limit, scope["path"])
                return
            await app(scope, receive, send)
            return
    await _capped(app, scope, receive, send, limit)


async def _capped(app: ASGIApp, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    received = 0
    exceeded = False  # the cap was crossed
    started = False  # a response has started (the app's, or our 413)
    replaced = False  # the app's answer to the interrupted read is being dropped for our 413

    async def capped_receive() -> Message:
        nonlocal received, exceeded
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                exceeded = True
                raise BodyTooLarge(limit)  # stops the reader; the answer is sent by guarded_send
        return message

    async def guarded_send(message: Message) -> None:
        nonlocal started, replaced
        if replaced:
            return
        if message["type"] == "http.response.start":
            started = True
            if exceeded:
                # Whatever the app made of the interrupted read (our 413 from the GatewayError
                # handler, FastAPI's "error parsing the body" 400), the client gets the same 413.
                replaced = True
                await send_too_large(send, limit, scope["path"])
                return
        await send(message)

    try:
        await app(scope, capped_receive, guarded_send)
    except BodyTooLarge:
        if started and not replaced:
            raise
    if exceeded and not started:
        await send_too_large(send, limit, scope["path"])
