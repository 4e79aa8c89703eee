"""`POST /user/password`: change the account's password, or set a first one.

Changing needs the current password (a wrong one counts as a failed sign-in: the same lockout
guards it). Setting a first password (an account made by Privy or OpenID Connect) turns an API
key into a way to sign in, so it needs a signed-in session, not a key, and the second factor
when one is on. Either way every other session of the account ends (in every process within a
second); API keys are not touched.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from gatewayz.accounts.dependencies import require_scope
from gatewayz.accounts.principal import Principal
from gatewayz.audit.records import audit_user_action
from gatewayz.errors import InvalidRequest, PermissionDenied
from gatewayz.signin import factors
from gatewayz.signin.passwords import check_password, set_password
from gatewayz.signin.respond import errors, method_disabled, signin_of
from gatewayz.signin.schemas import PasswordChange, Status
from gatewayz.signin.sessions import Sessions
from gatewayz.signin.tables import SigninPassword

router = APIRouter(tags=["Sign-in"])
METHOD = "password_change"


@router.post("/user/password", response_model=Status, responses=errors(400, 403, 404, 429))
async def change_password(body: PasswordChange, request: Request,
                          principal: Principal = Depends(require_scope("keys"))) -> Status:
    svc, signin = signin_of(request)
    if not svc.settings.signin_password_enabled:
        raise method_disabled("Email + password")
    if principal.is_sandbox:
        raise PermissionDenied("Sandbox (test) keys cannot change the account's password.", code="sandbox_key")
    ip = svc.auth.client_ip(request)
    account = str(principal.user_id)
    await signin.guard.check(request, METHOD, account, ip)
    async with svc.db.transaction() as session:
        stored = await session.get(SigninPassword, principal.user_id)
        if stored is not None:
            if body.current_password is None or not await check_password(stored.password_hash,
                                                                         body.current_password):
                await signin.guard.failed(request, METHOD, "wrong_password", account, ip, principal.user_id)
                raise InvalidRequest("The current password is wrong (or missing).", param="current_password",
                                     code="wrong_password")
        else:
            if principal.session_id is None:
                raise PermissionDenied("Set a first password from a signed-in session, not with an API key.",
                                       code="session_required")
            factor = await factors.enabled_factor(session, principal.user_id)
            if factor is not None and (body.totp_code is None or not await factors.check_code(
                    session, svc.secret_box, factor, body.totp_code)):
                await signin.guard.failed(request, METHOD, "wrong_second_factor", account, ip, principal.user_id)
                raise InvalidRequest("This account has a second factor: give a current code in 'totp_code'.",
                                     param="totp_code", code="invalid_totp_code")
        await set_password(session, principal.user_id, body.new_password)
        invalidation = await Sessions.revoke_all(session, principal.user_id, keep=principal.session_id)
        await audit_user_action(session, request, principal.user_id,
                                "password.change" if stored is not None else "password.set",
                                {"other_sessions_ended": True},
                                key_id=principal.key_id if principal.session_id is None else None)
    await svc.publish(invalidation)
    return Status(status="changed" if stored is not None else "set")
