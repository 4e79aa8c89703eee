"""`/admin/users` and `/admin/security-events` (each route its permission, and the `admin` scope)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from gatewayz.accounts import role_service, service
from gatewayz.accounts.dependencies import held_permissions, require_permission
from gatewayz.accounts.principal import Principal
from gatewayz.accounts.role_routes import actor
from gatewayz.accounts.schemas import (
    KeyCreated,
    SecurityEventList,
    SecurityEventOut,
    UserCreate,
    UserCreated,
    UserList,
    UserOut,
    UserUpdate,
)
from gatewayz.audit.records import audit_change
from gatewayz.audit.tables import SecurityEvent
from gatewayz.errors import PermissionDenied
from gatewayz.http.params import Offset, QueryInt, RowId, Timestamp
from gatewayz.services import services

router = APIRouter(prefix="/admin", tags=["Admin"])


@router.post("/users", status_code=201, response_model=UserCreated)
async def create_user(
    body: UserCreate, request: Request, caller: Principal = Depends(require_permission("users.write"))
) -> UserCreated:
    """Create a user together with their first API key (shown only in this response). Roles given
    (`roles`, or `role: admin`) follow PUT /admin/users/{id}/roles's rules; a user with one gets a
    first key that can administer."""
    svc = services(request)
    roles = [*(body.roles or ()), *(["admin"] if body.role == "admin" else [])]
    async with svc.db.transaction() as session:
        user = await service.create_user(session, email=body.email, name=body.name, role="user")
        if roles:
            roles, _ = await role_service.set_user_roles(session, actor(request, caller), user, roles)
        key, plaintext = await service.create_key(
            session,
            svc.settings.key_hash_secret_bytes,
            user,
            service.first_key_spec(user, body.key_name, privileged=bool(roles)),
            default_environment=svc.settings.environment,
        )
        user_out, key_out = service.user_out(user), service.key_out(key)
        await audit_change(session, request, caller, "user.create", "user", user.id,
                           after={**user_out.model_dump(mode="json"), "first_key_id": key.id})
    return UserCreated(user=user_out, api_key=KeyCreated(**key_out.model_dump(), key=plaintext))


@router.get("/users", response_model=UserList)
async def list_users(
    request: Request,
    limit: Annotated[QueryInt, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
    email: str | None = Query(None, max_length=320),
    _: Principal = Depends(require_permission("users.read")),
) -> UserList:
    async with services(request).db.session() as session:
        users, total = await service.list_users(session, limit=limit, offset=offset, email=email)
        return UserList(data=[service.user_out(u) for u in users], total=total, limit=limit, offset=offset)


@router.get("/users/{user_id}", response_model=UserOut)
async def get_user(
    user_id: RowId, request: Request, _: Principal = Depends(require_permission("users.read"))
) -> UserOut:
    async with services(request).db.session() as session:
        return service.user_out(await service.get_user(session, user_id))


@router.patch("/users/{user_id}", response_model=UserOut)
async def update_user(
    user_id: RowId, body: UserUpdate, request: Request, caller: Principal = Depends(require_permission("users.write"))
) -> UserOut:
    """Deactivating a user stops every one of their keys, in every gateway process, within a second.
    `role` (admin/user) gives or takes the `admin` role, by PUT /admin/users/{id}/roles's rules."""
    svc = services(request)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    role = changes.pop("role", None)
    async with svc.db.transaction() as session:
        user = await service.get_user(session, user_id)
        before = service.user_out(user).model_dump(mode="json")
        current = await role_service.user_roles(session, user.id)
        if svc.roles.permissions(frozenset(current)) - held_permissions(request, caller):
            raise PermissionDenied("You cannot change a user who holds permissions you do not hold.",
                                   code="permission_not_held")
        invalidation = await service.update_user(session, user, changes, actor_id=caller.user_id)
        if role is not None:
            _, invalidation = await role_service.set_user_roles(
                session, actor(request, caller), user, role_service.legacy_role_change(current, role)
            )
        out = service.user_out(user)
        await audit_change(session, request, caller, "user.update", "user", user.id, before,
                           out.model_dump(mode="json"))
    await svc.publish(invalidation)
    return out


@router.get("/security-events", response_model=SecurityEventList)
async def list_security_events(
    request: Request,
    limit: Annotated[QueryInt, Query(ge=1, le=1000)] = 100,
    since: Annotated[Timestamp | None, Query()] = None,
    reason: str | None = Query(None, max_length=64),
    _: Principal = Depends(require_permission("audit.read")),
) -> SecurityEventList:
    query = select(SecurityEvent).order_by(SecurityEvent.id.desc()).limit(limit)
    if since is not None:
        query = query.where(SecurityEvent.created_at >= since)
    if reason:
        query = query.where(SecurityEvent.reason == reason)
    async with services(request).db.session() as session:
        rows = (await session.execute(query)).scalars().all()
    return SecurityEventList(data=[SecurityEventOut.model_validate(r, from_attributes=True) for r in rows])
