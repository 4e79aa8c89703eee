"""Paths and methods the routes do not know, answered in JSON.

- A trailing slash is served as if it were absent (`/v1/chat/completions/` is the chat route):
  no route is declared with one, and a redirect would be worse than useless — an SDK does not
  safely repeat a POST body on a 307, and Starlette's redirect has an empty, non-JSON body.
- A wrong method is a 405 in the OpenAI error shape whose `Allow` header lists every method the
  path accepts (Starlette's lists only those of the first route that matched the path).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from gatewayz.errors import error_response


class TrailingSlashMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if len(path) > 1 and path[-1] == "/":
            scope["path"] = path.rstrip("/") or "/"
        await self.app(scope, receive, send)


PROBED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route accepts on this path (asked of the router itself: only on a 405)."""
    allowed = []
    for method in PROBED_METHODS:
        probe = {**scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in app.router.routes):
            allowed.append(method)
    return allowed


def install_routing_handlers(app: FastAPI) -> None:
    @app.exception_handler(405)
    async def _method_not_allowed(request: Request, exc: HTTPException) -> Response:
        allowed = allowed_methods(app, request.scope)
        if not allowed and exc.headers and "Allow" in exc.headers:
            allowed = [m.strip() for m in exc.headers["Allow"].split(",")]
        return error_response(
            405,
            f"Method {request.method} is not allowed on {request.url.path}; allowed: {', '.join(allowed)}.",
            "invalid_request_error",
            code="method_not_allowed",
            headers={"Allow": ", ".join(allowed)},
            path=request.url.path,
        )
