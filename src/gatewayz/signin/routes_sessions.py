"""A user's sessions and second factor: `/user/sessions`, `/user/totp/*`, `POST /auth/logout`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from gatewayz.accounts import service
from gatewayz.accounts.dependencies import require_scope
from gatewayz.accounts.principal import Principal
from gatewayz.audit.records import audit_user_action
from gatewayz.errors import InvalidRequest
from gatewayz.http.params import RowId
from gatewayz.signin import factors
from gatewayz.signin.identities import clear_cookies
from gatewayz.signin.respond import errors, signin_of
from gatewayz.signin.schemas import RecoveryCodes, SessionList, SessionOut, Status, TotpCode, TotpEnrolment
from gatewayz.signin.sessions import Sessions

router = APIRouter(tags=["Sessions"])
keys_scope = require_scope("keys")


async def _audit(session: AsyncSession, request: Request, principal: Principal, action: str,
                 after: dict[str, Any] | None = None) -> None:
    key_id = principal.key_id if principal.session_id is None else None  # a session is not a key
    await audit_user_action(session, request, principal.user_id, action, after, key_id=key_id)


@router.get("/user/sessions", response_model=SessionList)
async def list_sessions(request: Request, principal: Principal = Depends(keys_scope)) -> SessionList:
    svc, _ = signin_of(request)
    async with svc.db.session() as session:
        rows = await Sessions.live(session, principal.user_id)
    return SessionList(data=[
        SessionOut(id=r.id, method=r.method, ip=r.ip, user_agent=r.user_agent, created_at=r.created_at,
                   expires_at=r.expires_at, current=r.id == principal.session_id) for r in rows
    ])


@router.delete("/user/sessions/{session_id}", response_model=Status)
async def revoke_session(session_id: RowId, request: Request, principal: Principal = Depends(keys_scope)) -> Status:
    """Ends the session in every gateway process within a second."""
    svc, _ = signin_of(request)
    async with svc.db.transaction() as session:
        invalidation = await Sessions.revoke(session, principal.user_id, session_id)
        await _audit(session, request, principal, "session.revoke", {"session_id": session_id})
    await svc.publish(invalidation)
    return Status(status="revoked")


@router.post("/auth/logout", response_model=Status, tags=["Sign-in"], responses=errors(400, 401, 403))
async def logout(request: Request) -> Response:
    """Ends the calling session (cookie or bearer) and clears the cookies."""
    svc, _ = signin_of(request)
    principal = await svc.auth.authenticate(request, "keys")
    if principal.session_id is None:
        raise InvalidRequest("This is an API key, not a session: revoke keys under /user/api-keys.",
                             code="not_a_session")
    async with svc.db.transaction() as session:
        invalidation = await Sessions.revoke(session, principal.user_id, principal.session_id)
        await _audit(session, request, principal, "session.logout", {"session_id": principal.session_id})
    await svc.publish(invalidation)
    response = Response(b'{"status":"logged_out"}', media_type="application/json")
    clear_cookies(response, secure=svc.settings.session_cookie_secure)
    return response


@router.post("/user/totp/enroll", response_model=TotpEnrolment, tags=["Sign-in"], responses=errors(409))
async def totp_enrol(request: Request, principal: Principal = Depends(keys_scope)) -> TotpEnrolment:
    """A new TOTP seed and its otpauth:// URI (show it as a QR code); off until confirmed."""
    svc, _ = signin_of(request)
    async with svc.db.transaction() as session:
        user = await service.get_user(session, principal.user_id)
        secret, uri = await factors.enrol(session, svc.secret_box, user.id, user.email)
        await _audit(session, request, principal, "totp.enroll")
    return TotpEnrolment(secret=secret, otpauth_uri=uri)


@router.post("/user/totp/confirm", response_model=RecoveryCodes, tags=["Sign-in"], responses=errors(409))
async def totp_confirm(body: TotpCode, request: Request, principal: Principal = Depends(keys_scope)) -> RecoveryCodes:
    """Turn the second factor on with a current code; answers 10 single-use recovery codes (shown once)."""
    svc, _ = signin_of(request)
    async with svc.db.transaction() as session:
        codes = await factors.confirm(session, svc.secret_box, svc.settings.key_hash_secret_bytes,
                                      principal.user_id, body.code)
        await _audit(session, request, principal, "totp.enable")
    return RecoveryCodes(recovery_codes=codes)


@router.post("/user/totp/disable", response_model=Status, tags=["Sign-in"])
async def totp_disable(body: TotpCode, request: Request, principal: Principal = Depends(keys_scope)) -> Status:
    svc, _ = signin_of(request)
    async with svc.db.transaction() as session:
        factor = await factors.enabled_factor(session, principal.user_id)
        if factor is None or not await factors.check_code(session, svc.secret_box, factor, body.code):
            raise InvalidRequest("Wrong code (or no second factor is on).", param="code", code="invalid_totp_code")
        await factors.disable(session, principal.user_id)
        await _audit(session, request, principal, "totp.disable")
    return Status(status="disabled")
