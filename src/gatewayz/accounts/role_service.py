"""Role changes: define roles, give them to users. Each change is checked against the actor's own
permissions (nobody grants what they do not hold, so nobody widens their own rights), written with
its audit record in one transaction, and bumps the auth change counter so every process sees it.

The counter is bumped FIRST: its row lock serialises concurrent role changes, so the definitions
each one reads (and checks for cycles) are the current ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from gatewayz.accounts.cache import bump_auth_counter
from gatewayz.accounts.permissions import (
    ADMIN,
    BUILTIN_DEFS,
    FIXED_ROLES,
    MAX_ROLES,
    USER,
    RoleDef,
    check_known,
    resolve_all,
)
from gatewayz.accounts.role_book import definitions
from gatewayz.accounts.service import Invalidation
from gatewayz.accounts.tables import Role, User, UserRole
from gatewayz.audit.records import write_audit
from gatewayz.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from gatewayz.storage.types import utcnow


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int | None  # None: the system (CLI, bootstrap)
    key_id: int | None
    permissions: frozenset[str]
    conn: HTTPConnection | None = None


async def _defs(session: AsyncSession) -> dict[str, RoleDef]:
    return definitions(list((await session.execute(select(Role))).scalars().all()))


def role_out(name: str, defs: dict[str, RoleDef], resolved: dict[str, frozenset[str]]) -> dict[str, Any]:
    role = defs[name]
    return {
        "name": name, "description": role.description, "builtin": name in BUILTIN_DEFS,
        "permissions": sorted(role.permissions), "inherits": list(role.inherits),
        "effective_permissions": sorted(resolved[name]),
    }


def _require_held(actor: Actor, permissions: frozenset[str], verb: str) -> None:
    missing = sorted(permissions - actor.permissions)
    if missing:
        raise PermissionDenied(f"You cannot {verb} permissions you do not hold: {', '.join(missing)}.",
                               code="permission_not_held")


async def _audit(session: AsyncSession, actor: Actor, action: str, target_type: str, target_id: str | int,
                 before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    await write_audit(session, actor.conn, actor_user_id=actor.user_id, actor_key_id=actor.key_id, action=action,
                      target_type=target_type, target_id=target_id, before=before, after=after)


# -- roles -----------------------------------------------------------------------------------------


async def list_roles(session: AsyncSession) -> list[dict[str, Any]]:
    defs = await _defs(session)
    resolved = resolve_all(defs)
    return [role_out(name, defs, resolved) for name in sorted(defs, key=lambda n: (n not in BUILTIN_DEFS, n))]


async def create_role(session: AsyncSession, actor: Actor, *, name: str, description: str | None,
                      permissions: list[str], inherits: list[str]) -> tuple[dict[str, Any], Invalidation]:
    version = await bump_auth_counter(session)
    defs = await _defs(session)
    if name in defs:
        raise Conflict(f"A role named {name!r} already exists.", param="name")
    if len(defs) - len(BUILTIN_DEFS) >= MAX_ROLES:
        raise InvalidRequest(f"At most {MAX_ROLES} custom roles.", param="name")
    check_known(permissions)
    defs[name] = RoleDef(name, description or "", frozenset(permissions), tuple(dict.fromkeys(inherits)))
    resolved = resolve_all(defs)
    _require_held(actor, resolved[name], "grant")
    session.add(Role(name=name, description=description, permissions=sorted(set(permissions)),
                     inherits=list(defs[name].inherits)))
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A role named {name!r} already exists.", param="name") from exc
    out = role_out(name, defs, resolved)
    await _audit(session, actor, "role.create", "role", name, None, out)
    return out, Invalidation(version, roles=True)


async def update_role(session: AsyncSession, actor: Actor, name: str,
                      changes: dict[str, Any]) -> tuple[dict[str, Any], Invalidation]:
    version = await bump_auth_counter(session)
    defs = await _defs(session)
    if name not in defs:
        raise NotFound(f"No role named {name!r}.", param="name")
    if name in FIXED_ROLES and ({"permissions", "inherits"} & set(changes)):
        raise InvalidRequest(f"The built-in role {name!r} keeps its permissions.", param="permissions",
                             code="builtin_role")
    before_resolved = resolve_all(defs)
    before = role_out(name, defs, before_resolved)
    old = defs[name]
    if "permissions" in changes:
        check_known(changes["permissions"])
    defs[name] = RoleDef(
        name,
        changes["description"] if changes.get("description") is not None else old.description,
        frozenset(changes["permissions"]) if "permissions" in changes else old.permissions,
        tuple(dict.fromkeys(changes["inherits"])) if "inherits" in changes else old.inherits,
    )
    resolved = resolve_all(defs)
    if name in BUILTIN_DEFS and not resolved[name]:
        raise InvalidRequest(f"The built-in role {name!r} cannot be emptied.", param="permissions",
                             code="builtin_role")
    # Taking permissions away is as much a change of them as adding: both must be the actor's own.
    _require_held(actor, before_resolved[name] | resolved[name], "change")
    row = (await session.execute(select(Role).where(Role.name == name))).scalar_one_or_none()
    if row is None:  # the first change to `support`: its stored version
        row = Role(name=name)
        session.add(row)
    role = defs[name]
    row.description, row.permissions, row.inherits = role.description, sorted(role.permissions), list(role.inherits)
    row.updated_at = utcnow()
    await session.flush()
    out = role_out(name, defs, resolved)
    await _audit(session, actor, "role.update", "role", name, before, out)
    return out, Invalidation(version, roles=True)


async def delete_role(session: AsyncSession, actor: Actor, name: str) -> Invalidation:
    version = await bump_auth_counter(session)
    defs = await _defs(session)
    if name in BUILTIN_DEFS:
        raise InvalidRequest(f"The built-in role {name!r} cannot be deleted.", param="name", code="builtin_role")
    if name not in defs:
        raise NotFound(f"No role named {name!r}.", param="name")
    heirs = sorted(n for n, role in defs.items() if name in role.inherits)
    if heirs:
        raise Conflict(f"The role {name!r} is inherited by {', '.join(heirs)}; change them first.", param="name")
    resolved = resolve_all(defs)
    _require_held(actor, resolved[name], "take away")
    holders = (await session.execute(select(func.count()).where(UserRole.role == name))).scalar_one()
    before = {**role_out(name, defs, resolved), "holders": int(holders)}
    await session.execute(delete(UserRole).where(UserRole.role == name))
    await session.execute(delete(Role).where(Role.name == name))
    await _audit(session, actor, "role.delete", "role", name, before, None)
    return Invalidation(version, roles=True)


# -- a user's roles --------------------------------------------------------------------------------


async def user_roles(session: AsyncSession, user_id: int) -> list[str]:
    rows = await session.execute(select(UserRole.role).where(UserRole.user_id == user_id).order_by(UserRole.role))
    return list(rows.scalars())


async def set_user_roles(session: AsyncSession, actor: Actor, user: User,
                         roles: list[str]) -> tuple[list[str], Invalidation]:
    """Replace the user's roles. Every role added or taken away must hold only permissions the
    actor holds; an actor cannot take `admin` from themselves. `users.role` follows `admin`."""
    version = await bump_auth_counter(session)
    defs = await _defs(session)
    wanted = sorted({r for r in roles if r != USER})
    unknown = [r for r in wanted if r not in defs]
    if unknown:
        raise InvalidRequest(f"Unknown role(s): {', '.join(unknown)}.", param="roles", code="unknown_role")
    current = await user_roles(session, user.id)
    changed = set(wanted) ^ set(current)
    resolved = resolve_all(defs)
    _require_held(actor, frozenset().union(*(resolved.get(r, frozenset()) for r in changed)), "give or take away")
    if actor.user_id == user.id and ADMIN in current and ADMIN not in wanted:
        raise InvalidRequest("You cannot take the admin role from yourself.", param="roles")
    if changed:
        await session.execute(delete(UserRole).where(UserRole.user_id == user.id, UserRole.role.in_(changed)))
        session.add_all(UserRole(user_id=user.id, role=r, granted_by=actor.user_id) for r in changed
                        if r in wanted)
        user.role = ADMIN if ADMIN in wanted else USER
        user.updated_at = utcnow()
        await session.flush()
        await _audit(session, actor, "user.roles.set", "user", user.id, {"roles": current}, {"roles": wanted})
    return wanted, Invalidation(version, user_id=user.id)


def legacy_role_change(current: list[str], role: str) -> list[str]:
    """`role: admin|user` on PATCH /admin/users (and the CLI): adds or takes away `admin` only."""
    kept = [r for r in current if r != ADMIN]
    return [*kept, ADMIN] if role == ADMIN else kept

