"""The inference hot path, served in front of FastAPI's middleware stack and router.

`POST` to the inference endpoints (`HOT_ROUTES` of inference/routes.py; a trailing slash served as
if it were absent) skips Starlette's routing, FastAPI's middleware layers and dependency solving:
one lean code path gives them everything the edge layers give every other request, from the same
functions: the request id (and the caller's echoed `x-client-request-id`), the body cap while the
body streams in (413), the access log line, the app's exception handlers (the error shape of the
path's face, Anthropic's under /v1/messages) and the 500 in our shape for anything unhandled.
Authentication before the body is read, 415 and disconnects are the inference service's own.

Everything else (other methods on these paths: a 405 with `Allow`; every other path) goes through
FastAPI as before, and the FastAPI routes of these operations stay registered for the OpenAPI
document.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from gatewayz.http.access_log import log_request
from gatewayz.http.bodylimit import INFERENCE_BODY_LIMIT, serve_capped
from gatewayz.middleware import assign_request_id

Endpoint = Callable[[Request], Awaitable[Any]]  # -> a Response
Handler = Callable[[Request, Exception], Awaitable[Response]]


class GatewayApp(FastAPI):
    """FastAPI, with `serve_hot` routes answered before its own stack is entered."""

    hot_routes: Mapping[str, Endpoint] = {}
    hot_access_log = False

    def serve_hot(self, routes: Mapping[str, Endpoint], *, access_log: bool) -> None:
        self.hot_routes = dict(routes)
        self.hot_access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            endpoint = self.hot_routes.get(path)
            if endpoint is None and len(path) > 1 and path[-1] == "/":
                endpoint = self.hot_routes.get(path.rstrip("/"))
                if endpoint is not None:
                    scope["path"] = path.rstrip("/")
            if endpoint is not None:
                scope["app"] = self
                await serve_hot(self, endpoint, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


async def serve_hot(app: GatewayApp, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
    id_headers = assign_request_id(scope)
    started = time.perf_counter()
    status = 0  # of the response the client got (0: none started yet)
    finished: float | None = None

    async def hot_send(message: Message) -> None:
        nonlocal status, finished
        if message["type"] == "http.response.start":
            status = message["status"]
            message["headers"] = [*message.get("headers", []), *id_headers]
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            finished = time.perf_counter()
        await send(message)

    async def run(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
            await response(scope, receive, send)
        except Exception as exc:
            if status:
                raise  # the response has started: nothing left to answer with
            handler = _handler(app, exc)
            if handler is not None:
                await (await handler(request, exc))(scope, receive, send)
                return
            await (await _error_handler(app)(request, exc))(scope, receive, send)
            raise  # as Starlette's ServerErrorMiddleware does: the server logs it as well

    try:
        await serve_capped(run, scope, receive, hot_send, INFERENCE_BODY_LIMIT)
    except BaseException:
        status = status or 500
        raise
    finally:
        if app.hot_access_log:
            log_request(scope, status, started, finished)


def _handler(app: FastAPI, exc: Exception) -> Handler | None:
    """The handler Starlette's ExceptionMiddleware would pick (by status, then by class)."""
    handlers: dict[Any, Any] = app.exception_handlers
    if isinstance(exc, HTTPException) and exc.status_code in handlers:
        return handlers[exc.status_code]  # type: ignore[no-any-return]
    for cls in type(exc).__mro__:
        if cls in handlers and cls is not Exception:
            return handlers[cls]  # type: ignore[no-any-return]
    return None


def _error_handler(app: FastAPI) -> Handler:
    """The handler of unhandled exceptions (ServerErrorMiddleware's)."""
    handlers: dict[Any, Any] = app.exception_handlers
    return handlers.get(500) or handlers[Exception]  # type: ignore[no-any-return]
