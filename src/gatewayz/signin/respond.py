"""What every sign-in route shares: the caller's facts, finishing a sign-in, the answer."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from gatewayz.errors import AuthenticationFailed, NotFound
from gatewayz.services import Services, services
from gatewayz.signin.identities import set_cookies, sign_in, user_for_identity
from gatewayz.signin.schemas import SignedIn
from gatewayz.signin.wiring import Signin


def signin_of(request: Request) -> tuple[Services, Signin]:
    svc = services(request)
    return svc, svc.signin


async def complete_identity(request: Request, provider: str, subject: str, email: str | None,
                            *, first_key: bool = True) -> SignedIn:
    """Link (or create) the provider's user and open a session, in one transaction."""
    svc, signin = signin_of(request)
    ip = svc.auth.client_ip(request)
    async with svc.db.transaction() as session:
        user, created = await user_for_identity(session, provider, subject, email)
        return await sign_in(session, signin.sessions, request, ip, user, provider, created=created,
                             secret=svc.settings.key_hash_secret_bytes, environment=svc.settings.environment,
                             first_key=first_key)


def signed_response(svc: Services, signed: SignedIn, status: int = 200) -> Response:
    response = Response(orjson.dumps(signed.model_dump(mode="json")), status_code=status,
                        media_type="application/json")
    set_cookies(response, signed, secure=svc.settings.session_cookie_secure,
                max_age=int(svc.settings.session_ttl_seconds))
    return response


ERROR_TEXT = {
    400: "Invalid request, code or token", 401: "The credentials, token or sign-in flow are not valid",
    403: "Not allowed (scope, CSRF token)", 404: "This sign-in method or provider is not configured",
    409: "The email belongs to another account, or a sign-in of it is being set up", 429: "Too many failed sign-ins",
    503: "The sign-in provider could not be reached",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route, for the OpenAPI document (http/openapi.py adds the usual ones)."""
    return {status: {"description": ERROR_TEXT[status],
                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            for status in statuses}


def method_disabled(what: str) -> NotFound:
    return NotFound(f"{what} sign-in is not configured on this gateway.", code="signin_method_disabled")


def token_refused(what: str) -> AuthenticationFailed:
    return AuthenticationFailed(f"The {what} token is not valid.", code="invalid_token")
