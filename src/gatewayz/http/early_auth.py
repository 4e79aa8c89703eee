"""Identify the caller before any request body is read.

FastAPI reads and validates a route's body model BEFORE it runs the route's dependencies, so an
anonymous client could make the process read (and parse) a body on every /admin and /user route.
Here, a POST/PUT/PATCH/DELETE to a route that needs an API key is answered 401 at once when the key is
missing, unknown, revoked or expired — the same answer and the same security event the route's own
check gives. Only the identity is checked (no request cap consumed): the route's dependency then
makes the full check (scopes, IP, referer, cap) as an in-process cache hit.

Those routes take JSON objects only; a body declared as anything else (or not declared at all) is a
415 that says what to send, instead of the validator's puzzling "Input should be a valid dictionary".
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from gatewayz.errors import GatewayError, error_response

# Routes anyone may call. Future unauthenticated routes (sign-in, payment webhooks) join here.
PUBLIC_PATHS = frozenset({"/health", "/ping", "/docs", "/redoc", "/openapi.json",
                          "/api/stripe/webhook",  # signed by Stripe (payments/webhook_route.py)
                          "/api/stripe/packages"})
PUBLIC_PREFIXES = ("/health/", "/static/docs/", "/auth/", "/r/")  # /auth/: sign-in; /r/: invite links
# Routes that authenticate before they read their body themselves (the inference service: raw
# bodies, no body models; tests/test_edge_bodies.py checks that no /v1 route declares one). The
# hot path then pays for one authentication, not two.
AUTHENTICATE_THEMSELVES = ("/v1/",)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})  # DELETE /user/account has a body


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class EarlyAuthMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in BODY_METHODS
            and not scope["path"].startswith(AUTHENTICATE_THEMSELVES)
            and not is_public(scope["path"])
        ):
            conn = HTTPConnection(scope)
            try:
                await conn.app.state.services.auth.identify(conn)
                require_json(scope)
            except GatewayError as exc:
                response = error_response(
                    exc.status, exc.message, exc.type, exc.param, exc.code, exc.headers, path=scope["path"]
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def require_json(scope: Scope) -> None:
    has_body, media = False, ""
    for name, value in scope["headers"]:
        if name == b"content-length":
            has_body = has_body or value != b"0"
        elif name == b"transfer-encoding":
            has_body = True
        elif name == b"content-type":
            media = value.decode("latin-1").partition(";")[0].strip().lower()
    if has_body and not (media == "application/json" or media.endswith("+json")):
        said = f"Unsupported Content-Type {media!r}" if media else "The request body has no Content-Type"
        raise GatewayError(
            f"{said}: send it as JSON (Content-Type: application/json).",
            status=415,
            type="invalid_request_error",
            code="unsupported_media_type",
        )
