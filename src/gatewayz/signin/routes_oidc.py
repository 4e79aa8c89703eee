"""The OpenID Connect authorization-code flow with PKCE, for the dashboard:
`GET /auth/oidc/{provider}/login` redirects to the provider; its `/callback` checks state and nonce,
exchanges the code, verifies the ID token, opens a session (cookie) and redirects to the dashboard.

The flow's state, nonce and PKCE verifier travel in an encrypted, HttpOnly cookie scoped to
/auth/oidc/ that lives 10 minutes: nothing is stored server-side for a flow never finished."""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from gatewayz.errors import AuthenticationFailed, NotFound, ServiceUnavailable
from gatewayz.services import Services
from gatewayz.signin.http import FetchFailed
from gatewayz.signin.identities import set_cookies
from gatewayz.signin.oidc import OidcProvider, verified_email
from gatewayz.signin.respond import complete_identity, errors, signin_of
from gatewayz.signin.tokens import TokenRefused
from gatewayz.signin.wiring import Signin

router = APIRouter(prefix="/auth/oidc", tags=["Sign-in"])
FLOW_COOKIE = "gw_oidc_flow"
FLOW_PATH = "/auth/oidc/"
FLOW_SECONDS = 600


def provider_of(signin: Signin, name: str) -> OidcProvider:
    provider = signin.oidc.get(name)
    if provider is None:
        raise NotFound(f"No sign-in provider named {name[:64]!r}.", param="provider", code="signin_method_disabled")
    return provider


def redirect_uri(svc: Services, request: Request, provider: OidcProvider) -> str:
    if provider.config.redirect_uri:
        return provider.config.redirect_uri
    base = svc.settings.public_url or str(request.base_url)
    return f"{base.rstrip('/')}/auth/oidc/{provider.name}/callback"


@router.get("/{provider}/login", status_code=302, response_class=RedirectResponse, responses=errors(503))
async def oidc_login(provider: str, request: Request) -> Response:
    svc, signin = signin_of(request)
    oidc = provider_of(signin, provider)
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    try:
        url = await oidc.authorization_url(redirect_uri(svc, request, oidc), state, nonce, verifier)
    except FetchFailed as exc:
        raise ServiceUnavailable(f"The provider {provider!r} could not be reached.") from exc
    flow = orjson.dumps({"p": provider, "s": state, "n": nonce, "v": verifier, "t": time.time() + FLOW_SECONDS})
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(FLOW_COOKIE, svc.secret_box.encrypt(flow.decode()), max_age=FLOW_SECONDS, path=FLOW_PATH,
                        secure=svc.settings.session_cookie_secure, httponly=True, samesite="lax")
    return response


def _flow(svc: Services, request: Request, provider: str) -> dict[str, Any] | None:
    sealed = request.cookies.get(FLOW_COOKIE)
    if not sealed or len(sealed) > 4096:
        return None
    try:
        flow = orjson.loads(svc.secret_box.decrypt(sealed))
    except Exception:
        return None
    if not isinstance(flow, dict) or flow.get("p") != provider or not float(flow.get("t", 0)) > time.time():
        return None
    return flow


@router.get("/{provider}/callback", status_code=303, response_class=RedirectResponse,
            responses=errors(401, 409, 429, 503))
async def oidc_callback(
    provider: str,
    request: Request,
    code: Annotated[str | None, Query(max_length=4096)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    svc, signin = signin_of(request)
    oidc = provider_of(signin, provider)
    ip = svc.auth.client_ip(request)
    await signin.guard.check(request, oidc.provider_key, None, ip)
    flow = _flow(svc, request, provider)
    reason = ("provider_error" if error else "missing_flow" if flow is None
              else "wrong_state" if not state or not hmac.compare_digest(state.encode(), str(flow["s"]).encode())
              else "missing_code" if not code else None)
    if reason is not None:
        await signin.guard.failed(request, oidc.provider_key, reason, None, ip)
        raise AuthenticationFailed("The sign-in could not be completed (state missing, wrong or expired, or the "
                                   "provider refused); start again.", code="invalid_oidc_flow")
    assert flow is not None and code is not None
    try:
        token = await oidc.exchange(code, redirect_uri(svc, request, oidc), str(flow["v"]))
        claims = await oidc.verify_id_token(token, nonce=str(flow["n"]))
    except TokenRefused as exc:
        await signin.guard.failed(request, oidc.provider_key, exc.reason, None, ip)
        raise AuthenticationFailed("The provider's answer could not be verified; start again.",
                                   code="invalid_token") from exc
    except FetchFailed as exc:
        raise ServiceUnavailable(f"The provider {provider!r} could not be reached.") from exc
    # A browser redirect cannot show an API key: the dashboard creates one with the session.
    signed = await complete_identity(request, oidc.provider_key, str(claims["sub"]), verified_email(claims),
                                     first_key=False)
    response = RedirectResponse(svc.settings.signin_redirect_url, status_code=303)
    set_cookies(response, signed, secure=svc.settings.session_cookie_secure,
                max_age=int(svc.settings.session_ttl_seconds))
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH, secure=svc.settings.session_cookie_secure, httponly=True,
                           samesite="lax")
    return response
