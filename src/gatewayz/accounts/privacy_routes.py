"""GDPR endpoints (see privacy.py): `POST /user/data-export`, `DELETE /user/account`, and the admin's
`DELETE /admin/users/{id}` (`users.erase`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.responses import FileResponse

from gatewayz.accounts import service
from gatewayz.accounts.dependencies import require_permission, require_scope
from gatewayz.accounts.principal import Principal
from gatewayz.accounts.privacy import erase_user, export_archive, export_name, forget_addresses, is_erased
from gatewayz.accounts.tables import User
from gatewayz.audit.records import audit_change
from gatewayz.errors import InvalidRequest, NotFound, PermissionDenied
from gatewayz.http.params import RowId
from gatewayz.services import services
from gatewayz.signin import factors
from gatewayz.signin.passwords import check_password
from gatewayz.signin.tables import SigninPassword
from gatewayz.storage.types import utcnow

router = APIRouter(tags=["Privacy"])
account_scope = require_scope("keys")


class EraseRequest(BaseModel):
    model_config = {"extra": "forbid"}
    confirm: str = Field(max_length=320, description="the account's email, typed again")
    password: str | None = Field(None, max_length=1024, description="the account's password, where it has one")
    totp_code: str | None = Field(None, min_length=6, max_length=8, pattern=r"^[0-9]+$",
                                  description="or a current second-factor code, where it has one")


class Erased(BaseModel):
    user_id: int
    erased: bool
    removed: dict[str, int]


@router.post("/user/data-export", response_class=FileResponse)
async def data_export(request: Request, principal: Principal = Depends(account_scope)) -> FileResponse:
    """A zip of JSON files: everything held about the caller (profile, roles, keys' metadata, credit
    account, ledger, usage, conversations, stored responses, audit records, security events)."""
    svc = services(request)
    async with svc.db.transaction() as session:
        user = await service.get_user(session, principal.user_id)
        path = await export_archive(session, user, svc.settings.data_dir / "exports")
        await audit_change(session, request, principal, "user.data_export", "user", user.id,
                           after={"bytes": path.stat().st_size})
    return FileResponse(path, media_type="application/zip", filename=export_name(user.id, utcnow()),
                        background=BackgroundTask(path.unlink, missing_ok=True))


async def _confirmed(request: Request, session: Any, user: User, body: EraseRequest) -> None:
    """The owner's confirmation: the email typed again and, where the account has a password or a
    second factor, one of them (a wrong one counts as a failed sign-in: the same lockout guards it)."""
    if body.confirm.strip().lower() != user.email.lower():
        raise InvalidRequest("Type the account's email in 'confirm' to erase it.", param="confirm",
                             code="confirmation_mismatch")
    stored = await session.get(SigninPassword, user.id)
    factor = await factors.enabled_factor(session, user.id)
    if stored is None and factor is None:
        return
    svc = services(request)
    ip = svc.auth.client_ip(request)
    await svc.signin.guard.check(request, "erase", user.email, ip)
    if stored is not None and body.password is not None and await check_password(stored.password_hash, body.password):
        return
    if factor is not None and body.totp_code is not None and await factors.check_code(
            session, svc.secret_box, factor, body.totp_code):
        return
    await svc.signin.guard.failed(request, "erase", "wrong_confirmation", user.email, ip, user.id)
    wanted = " or ".join(n for n, has in (("'password'", stored), ("'totp_code'", factor)) if has is not None)
    raise InvalidRequest(f"Confirm the erasure with the account's {wanted}.",
                         param="password" if stored is not None else "totp_code", code="confirmation_mismatch")


async def _erase(request: Request, caller: Principal, user_id: int, body: EraseRequest | None) -> Erased:
    svc = services(request)
    async with svc.db.transaction() as session:
        user = await service.get_user(session, user_id)
        if is_erased(user):
            raise NotFound("The user does not exist.", param="user_id", code="user_not_found")
        if body is not None:
            await _confirmed(request, session, user, body)
        removed, invalidation = await erase_user(session, user)
        await audit_change(session, request, caller, "user.erase", "user", user_id, after={"removed": removed})
        await forget_addresses(session, user_id)
    await svc.publish(invalidation)
    return Erased(user_id=user_id, erased=True, removed=removed)


@router.delete("/user/account", response_model=Erased)
async def erase_own_account(body: EraseRequest, request: Request,
                            principal: Principal = Depends(account_scope)) -> Erased:
    """Erase the caller's personal data and close the account: every key stops within a second; the
    ledger and usage amounts stay, anonymised, so the books still balance. `confirm`: the email."""
    if principal.is_sandbox:
        raise PermissionDenied("Sandbox (test) keys cannot erase an account.", code="sandbox_key")
    return await _erase(request, principal, principal.user_id, body)


@router.delete("/admin/users/{user_id}", response_model=Erased)
async def erase_user_as_admin(
    user_id: RowId, request: Request, caller: Principal = Depends(require_permission("users.erase"))
) -> Erased:
    """The same erasure, for any user but oneself (close your own account with DELETE /user/account)."""
    if user_id == caller.user_id:
        raise InvalidRequest("Erase your own account with DELETE /user/account.", param="user_id")
    return await _erase(request, caller, user_id, None)


