"""Sign-in with a provider's token: `POST /auth/privy` and `POST /auth/oidc/{provider}/token`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from gatewayz.errors import ServiceUnavailable
from gatewayz.signin.http import FetchFailed
from gatewayz.signin.oidc import verified_email
from gatewayz.signin.privy import PROVIDER as PRIVY
from gatewayz.signin.respond import (
    complete_identity,
    errors,
    method_disabled,
    signed_response,
    signin_of,
    token_refused,
)
from gatewayz.signin.routes_oidc import provider_of
from gatewayz.signin.schemas import IdTokenSignIn, PrivySignIn, SignedIn
from gatewayz.signin.tokens import TokenRefused

router = APIRouter(prefix="/auth", tags=["Sign-in"])


@router.post("/privy", response_model=SignedIn, responses=errors(401, 404, 409, 429))
async def privy_sign_in(body: PrivySignIn, request: Request) -> Response:
    """Exchange a Privy access token (and optionally its identity token) for a session; the first
    sign-in creates the user and answers their first API key too."""
    svc, signin = signin_of(request)
    if signin.privy is None:
        raise method_disabled("Privy")
    ip = svc.auth.client_ip(request)
    await signin.guard.check(request, PRIVY, None, ip)
    try:
        subject, email = await signin.privy.verify(body.access_token, body.identity_token)
    except TokenRefused as exc:
        await signin.guard.failed(request, PRIVY, exc.reason, None, ip)
        raise token_refused("Privy") from exc
    return signed_response(svc, await complete_identity(request, PRIVY, subject, email))


@router.post("/oidc/{provider}/token", response_model=SignedIn, responses=errors(401, 409, 429, 503))
async def oidc_token_sign_in(provider: str, body: IdTokenSignIn, request: Request) -> Response:
    """For API clients that hold an ID token of a configured OpenID Connect provider."""
    svc, signin = signin_of(request)
    oidc = provider_of(signin, provider)
    ip = svc.auth.client_ip(request)
    await signin.guard.check(request, oidc.provider_key, None, ip)
    try:
        claims = await oidc.verify_id_token(body.id_token)
    except TokenRefused as exc:
        await signin.guard.failed(request, oidc.provider_key, exc.reason, None, ip)
        raise token_refused("ID") from exc
    except FetchFailed as exc:
        raise ServiceUnavailable(f"The provider {provider!r} could not be reached.") from exc
    signed = await complete_identity(request, oidc.provider_key, str(claims["sub"]), verified_email(claims))
    return signed_response(svc, signed)
