"""`/user/api-keys`: a user manages their own keys (scope `keys`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from gatewayz.accounts import service
from gatewayz.accounts.delegation import principal_rights
from gatewayz.accounts.dependencies import require_scope
from gatewayz.accounts.principal import Principal
from gatewayz.accounts.schemas import KeyCreate, KeyCreated, KeyList, KeyOut, KeyRotate, KeyUpdate
from gatewayz.audit.records import audit_change
from gatewayz.http.params import QueryBool, RowId
from gatewayz.plans.entitlements import check_key_allowance
from gatewayz.services import services

router = APIRouter(prefix="/user/api-keys", tags=["API keys"])
keys_scope = require_scope("keys")


@router.post("", status_code=201, response_model=KeyCreated)
async def create_key(body: KeyCreate, request: Request, principal: Principal = Depends(keys_scope)) -> KeyCreated:
    svc = services(request)
    async with svc.db.transaction() as session:
        user = await service.get_user(session, principal.user_id)
        await check_key_allowance(session, user.id, svc.plans.effective(principal).max_keys)
        key, plaintext = await service.create_key(
            session,
            svc.settings.key_hash_secret_bytes,
            user,
            body,
            default_environment=svc.settings.environment,
            caller=principal_rights(principal),
        )
        out = service.key_out(key)
        await audit_change(session, request, principal, "api_key.create", "api_key", key.id, after=_fields(out))
    return KeyCreated(**out.model_dump(), key=plaintext)


def _fields(out: KeyOut) -> dict[str, object]:
    return out.model_dump(mode="json")


@router.get("", response_model=KeyList)
async def list_keys(
    request: Request,
    include_revoked: Annotated[QueryBool, Query()] = False,
    principal: Principal = Depends(keys_scope),
) -> KeyList:
    async with services(request).db.session() as session:
        keys = await service.list_keys(session, principal.user_id, include_revoked=include_revoked)
        return KeyList(data=[service.key_out(k) for k in keys])


@router.get("/{key_id}", response_model=KeyOut)
async def get_key(key_id: RowId, request: Request, principal: Principal = Depends(keys_scope)) -> KeyOut:
    async with services(request).db.session() as session:
        return service.key_out(await service.get_own_key(session, principal.user_id, key_id))


@router.patch("/{key_id}", response_model=KeyOut)
async def update_key(
    key_id: RowId, body: KeyUpdate, request: Request, principal: Principal = Depends(keys_scope)
) -> KeyOut:
    svc = services(request)
    async with svc.db.transaction() as session:
        key = await service.get_own_key(session, principal.user_id, key_id)
        before = _fields(service.key_out(key))
        user = await service.get_user(session, principal.user_id)
        invalidation = await service.update_key(session, user, key, body, caller=principal_rights(principal))
        out = service.key_out(key)
        await audit_change(session, request, principal, "api_key.update", "api_key", key.id, before, _fields(out))
    await svc.publish(invalidation)
    return out


@router.delete("/{key_id}", response_model=KeyOut)
async def revoke_key(key_id: RowId, request: Request, principal: Principal = Depends(keys_scope)) -> KeyOut:
    svc = services(request)
    async with svc.db.transaction() as session:
        key = await service.get_own_key(session, principal.user_id, key_id)
        before = _fields(service.key_out(key))
        invalidation = await service.revoke_key(session, key, caller=principal_rights(principal))
        out = service.key_out(key)
        await audit_change(session, request, principal, "api_key.revoke", "api_key", key.id, before, _fields(out))
    await svc.publish(invalidation)
    return out


@router.post("/{key_id}/rotate", response_model=KeyCreated)
async def rotate_key(
    key_id: RowId,
    request: Request,
    body: KeyRotate | None = None,
    principal: Principal = Depends(keys_scope),
) -> KeyCreated:
    svc = services(request)
    grace = body.grace_period_seconds if body else 0
    async with svc.db.transaction() as session:
        key = await service.get_own_key(session, principal.user_id, key_id)
        before = _fields(service.key_out(key))
        plaintext, invalidation = await service.rotate_key(
            session, svc.settings.key_hash_secret_bytes, key, grace_period_seconds=grace,
            caller=principal_rights(principal),
        )
        out = service.key_out(key)
        await audit_change(session, request, principal, "api_key.rotate", "api_key", key.id, before, _fields(out))
    await svc.publish(invalidation)
    return KeyCreated(**out.model_dump(), key=plaintext)
