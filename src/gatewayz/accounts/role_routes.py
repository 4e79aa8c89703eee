"""`/admin/roles`, `/admin/permissions` and `/admin/users/{id}/roles`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from gatewayz.accounts import role_service, service
from gatewayz.accounts.dependencies import held_permissions, require_permission
from gatewayz.accounts.permissions import PERMISSIONS
from gatewayz.accounts.principal import Principal
from gatewayz.accounts.role_schemas import (
    PermissionCatalog,
    PermissionOut,
    RoleCreate,
    RoleList,
    RoleOut,
    RoleUpdate,
    UserRolesOut,
    UserRolesUpdate,
)
from gatewayz.errors import NotFound
from gatewayz.http.params import RowId
from gatewayz.services import services

router = APIRouter(prefix="/admin", tags=["Admin"])
RoleNamePath = Annotated[str, Path(min_length=1, max_length=64)]


def actor(request: Request, principal: Principal) -> role_service.Actor:
    return role_service.Actor(principal.user_id, principal.key_id, held_permissions(request, principal), request)


def user_roles_out(request: Request, user_id: int, roles: list[str]) -> UserRolesOut:
    held = services(request).roles.permissions(frozenset(roles))
    return UserRolesOut(user_id=user_id, roles=["user", *roles], permissions=sorted(held))


@router.get("/permissions", response_model=PermissionCatalog)
async def list_permissions(_: Principal = Depends(require_permission("roles.read"))) -> PermissionCatalog:
    """Every permission a role can hold (some are reserved for features still to come)."""
    return PermissionCatalog(data=[PermissionOut(name=n, description=d) for n, d in PERMISSIONS.items()])


@router.get("/roles", response_model=RoleList)
async def list_roles(request: Request, _: Principal = Depends(require_permission("roles.read"))) -> RoleList:
    """The built-in roles (admin, support, user), then the custom ones, each with its own and its
    effective (inherited included) permissions."""
    async with services(request).db.session() as session:
        return RoleList(data=[RoleOut(**r) for r in await role_service.list_roles(session)])


@router.get("/roles/{name}", response_model=RoleOut)
async def get_role(name: RoleNamePath, request: Request,
                   _: Principal = Depends(require_permission("roles.read"))) -> RoleOut:
    async with services(request).db.session() as session:
        for role in await role_service.list_roles(session):
            if role["name"] == name:
                return RoleOut(**role)
    raise NotFound(f"No role named {name!r}.", param="name")


@router.post("/roles", response_model=RoleOut, status_code=201)
async def create_role(body: RoleCreate, request: Request,
                      caller: Principal = Depends(require_permission("roles.write"))) -> RoleOut:
    """A custom role: permissions, and roles it inherits (no cycles). Only permissions the caller
    holds can be put in it."""
    svc = services(request)
    async with svc.db.transaction() as session:
        out, invalidation = await role_service.create_role(
            session, actor(request, caller), name=body.name, description=body.description,
            permissions=body.permissions, inherits=body.inherits,
        )
    await svc.publish(invalidation)
    return RoleOut(**out)


@router.patch("/roles/{name}", response_model=RoleOut)
async def update_role(name: RoleNamePath, body: RoleUpdate, request: Request,
                      caller: Principal = Depends(require_permission("roles.write"))) -> RoleOut:
    """Change a role; every process applies it within a second. `admin` and `user` keep their
    permissions, `support` cannot be emptied; the caller must hold every permission added or removed."""
    svc = services(request)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    async with svc.db.transaction() as session:
        out, invalidation = await role_service.update_role(session, actor(request, caller), name, changes)
    await svc.publish(invalidation)
    return RoleOut(**out)


@router.delete("/roles/{name}")
async def delete_role(name: RoleNamePath, request: Request,
                      caller: Principal = Depends(require_permission("roles.write"))) -> dict[str, Any]:
    """Delete a custom role (taken from every user holding it); built-in roles cannot be deleted,
    nor a role another role inherits."""
    svc = services(request)
    async with svc.db.transaction() as session:
        invalidation = await role_service.delete_role(session, actor(request, caller), name)
    await svc.publish(invalidation)
    return {"name": name, "deleted": True}


@router.get("/users/{user_id}/roles", response_model=UserRolesOut)
async def get_user_roles(user_id: RowId, request: Request,
                         _: Principal = Depends(require_permission("users.read"))) -> UserRolesOut:
    async with services(request).db.session() as session:
        await service.get_user(session, user_id)
        roles = await role_service.user_roles(session, user_id)
    return user_roles_out(request, user_id, roles)


@router.put("/users/{user_id}/roles", response_model=UserRolesOut)
async def set_user_roles(user_id: RowId, body: UserRolesUpdate, request: Request,
                         caller: Principal = Depends(require_permission("roles.assign"))) -> UserRolesOut:
    """Replace a user's roles (`user` is implied). Each role given or taken away may hold only
    permissions the caller holds; nobody takes `admin` from themselves."""
    svc = services(request)
    async with svc.db.transaction() as session:
        user = await service.get_user(session, user_id)
        roles, invalidation = await role_service.set_user_roles(session, actor(request, caller), user, body.roles)
    await svc.publish(invalidation)
    return user_roles_out(request, user_id, roles)
