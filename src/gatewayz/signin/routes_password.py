"""Email + password: `POST /auth/signup`, `/auth/login`, `/auth/password-reset`(`/confirm`).
Turned off with GATEWAYZ_SIGNIN_PASSWORD_ENABLED=false (the routes then answer 404)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from gatewayz.accounts import service
from gatewayz.audit.records import audit_user_action, write_audit
from gatewayz.errors import AuthenticationFailed, InvalidRequest
from gatewayz.services import Services
from gatewayz.signin import factors
from gatewayz.signin.identities import sign_in
from gatewayz.signin.passwords import (
    check_password,
    create_reset,
    needs_rehash,
    normal_email,
    set_password,
    use_reset,
    user_and_password,
)
from gatewayz.signin.respond import errors, method_disabled, signed_response, signin_of
from gatewayz.signin.schemas import PasswordSignIn, ResetConfirm, ResetRequest, SignedIn, SignUp, Status
from gatewayz.signin.sessions import Sessions
from gatewayz.signin.wiring import Signin

router = APIRouter(prefix="/auth", tags=["Sign-in"])
METHOD = "password"


def _enabled(request: Request) -> tuple[Services, Signin]:
    svc, signin = signin_of(request)
    if not svc.settings.signin_password_enabled:
        raise method_disabled("Email + password")
    return svc, signin


@router.post("/signup", status_code=201, response_model=SignedIn, responses=errors(404, 409))
async def sign_up(body: SignUp, request: Request) -> Response:
    """Create an account with an email and a password (at least 10 characters); answers a session
    and the first API key."""
    svc, signin = _enabled(request)
    ip = svc.auth.client_ip(request)
    async with svc.db.transaction() as session:
        user = await service.create_user(session, email=body.email, name=body.name, role="user")
        await set_password(session, user.id, body.password)
        signed = await sign_in(session, signin.sessions, request, ip, user, METHOD, created=True,
                               secret=svc.settings.key_hash_secret_bytes, environment=svc.settings.environment)
    return signed_response(svc, signed, 201)


@router.post("/login", response_model=SignedIn, responses=errors(401, 404, 429))
async def password_sign_in(body: PasswordSignIn, request: Request) -> Response:
    """With a second factor on, `totp_code` (or a one-time `recovery_code`) is required too."""
    svc, signin = _enabled(request)
    ip = svc.auth.client_ip(request)
    email = normal_email(body.email)
    await signin.guard.check(request, METHOD, email, ip)
    secret = svc.settings.key_hash_secret_bytes
    async with svc.db.transaction() as session:
        user, password = await user_and_password(session, email)
        if not await check_password(password.password_hash if password else None, body.password) or user is None:
            await signin.guard.failed(request, METHOD, "wrong_password", email, ip, user.id if user else None)
            raise AuthenticationFailed("Wrong email or password.", code="invalid_credentials")
        factor = await factors.enabled_factor(session, user.id)
        if factor is not None:
            if body.totp_code:
                good = await factors.check_code(session, svc.secret_box, factor, body.totp_code)
            elif body.recovery_code:
                good = await factors.use_recovery_code(session, secret, user.id, body.recovery_code)
            else:
                raise AuthenticationFailed("This account has a second factor: send totp_code (or recovery_code).",
                                           code="totp_required")
            if not good:
                await signin.guard.failed(request, METHOD, "wrong_second_factor", email, ip, user.id)
                raise AuthenticationFailed("Wrong second-factor code.", code="invalid_totp_code")
        assert password is not None
        if needs_rehash(password.password_hash):
            await set_password(session, user.id, body.password)
        signed = await sign_in(session, signin.sessions, request, ip, user, METHOD, created=False,
                               secret=secret, environment=svc.settings.environment)
    return signed_response(svc, signed)


@router.post("/password-reset", status_code=202, response_model=Status, responses=errors(404, 429))
async def request_reset(body: ResetRequest, request: Request) -> Status:
    """Always 202 (whether the email has an account is not told). The token goes to the account's
    email once the notification outbox exists; until then it is logged in `dev` only."""
    svc, signin = _enabled(request)
    ip = svc.auth.client_ip(request)
    await signin.guard.check(request, "password_reset", normal_email(body.email), ip)
    async with svc.db.transaction() as session:
        user, _ = await user_and_password(session, body.email)
        if user is not None and user.is_active:
            await create_reset(session, svc.settings.key_hash_secret_bytes, user,
                               svc.settings.password_reset_ttl_seconds, svc.settings.environment)
            await write_audit(session, request, actor_user_id=None, actor_key_id=None, actor_type="anonymous",
                              action="password.reset_request", target_type="user", target_id=user.id,
                              before=None, after=None)
    return Status(status="accepted")


@router.post("/password-reset/confirm", response_model=Status, responses=errors(404, 429))
async def confirm_reset(body: ResetConfirm, request: Request) -> Status:
    """Set a new password with a reset token: it works once, before it expires, and ends every
    session of the account."""
    svc, signin = _enabled(request)
    ip = svc.auth.client_ip(request)
    await signin.guard.check(request, "password_reset", None, ip)
    async with svc.db.transaction() as session:
        user_id = await use_reset(session, svc.settings.key_hash_secret_bytes, body.token)
        if user_id is not None:
            await set_password(session, user_id, body.password)
            invalidation = await Sessions.revoke_all(session, user_id)
            await audit_user_action(session, request, user_id, "password.reset", {"sessions_ended": True})
    if user_id is None:
        await signin.guard.failed(request, "password_reset", "bad_reset_token", None, ip)
        raise InvalidRequest("This reset token is unknown, used or expired.", param="token",
                             code="invalid_reset_token")
    await svc.publish(invalidation)
    return Status(status="reset")
