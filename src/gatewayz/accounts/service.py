"""Users and API keys: the operations behind the HTTP API and the CLI.

Changes that must stop a key everywhere bump the auth change counter inside their transaction and
return an `Invalidation` for the caller to publish once the transaction has committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.accounts.cache import bump_auth_counter
from gatewayz.accounts.delegation import Rights, inherited, key_rights, require_may_create, require_within
from gatewayz.accounts.keys import DEFAULT_SCOPES, SCOPES, display_prefix, generate_key, hash_key, last4
from gatewayz.accounts.schemas import KeyCreate, KeyOut, KeyUpdate, UserOut
from gatewayz.accounts.tables import ApiKey, User, UserRole
from gatewayz.billing.money import to_nanos, usd
from gatewayz.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from gatewayz.limits.config import RateLimits, stored
from gatewayz.storage.types import utcnow


@dataclass
class Invalidation:
    version: int
    hashes: list[str] = field(default_factory=list)
    user_id: int | None = None
    roles: bool = False  # a role's definition changed: every process reloads its role book


# -- users -----------------------------------------------------------------------------------------


async def create_user(session: AsyncSession, *, email: str, name: str | None, role: str) -> User:
    """`role="admin"` (the CLI, the first admin) gives the `admin` role too (accounts/permissions.py)."""
    user = User(email=email.strip().lower(), name=name, role=role, is_active=True)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A user with email {user.email!r} already exists.", param="email") from exc
    if role == "admin":
        session.add(UserRole(user_id=user.id, role="admin"))
        await session.flush()
    return user


async def holds_roles(session: AsyncSession, user: User) -> bool:
    """Whether the user holds any role besides `user` (what an `admin`-scope key needs)."""
    found = await session.execute(select(UserRole.role).where(UserRole.user_id == user.id).limit(1))
    return found.first() is not None


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user with id {user_id}.", param="id")
    return user


async def find_user(session: AsyncSession, ref: str) -> User:
    """By id or email (the CLI accepts either)."""
    if ref.isdigit():
        return await get_user(session, int(ref))
    user = (await session.execute(select(User).where(User.email == ref.strip().lower()))).scalar_one_or_none()
    if user is None:
        raise NotFound(f"No user with email {ref!r}.")
    return user


async def list_users(
    session: AsyncSession, *, limit: int, offset: int, email: str | None = None
) -> tuple[list[User], int]:
    query = select(User).where(User.kind == "user")  # a team's pool account is not a user
    if email:
        query = query.where(User.email.contains(email.strip().lower()))
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = (await session.execute(query.order_by(User.id).limit(limit).offset(offset))).scalars().all()
    return list(rows), int(total)


async def has_admin(session: AsyncSession) -> bool:
    found = await session.execute(select(User.id).where(User.role == "admin").limit(1))
    return found.first() is not None


async def update_user(
    session: AsyncSession, user: User, changes: dict[str, Any], *, actor_id: int | None
) -> Invalidation | None:
    if actor_id == user.id and (changes.get("is_active") is False or changes.get("role") == "user"):
        raise InvalidRequest("You cannot deactivate or demote yourself.", param="is_active")
    for name, value in changes.items():
        setattr(user, name, value)
    user.updated_at = utcnow()
    await session.flush()
    if "is_active" in changes or "role" in changes:
        return Invalidation(await bump_auth_counter(session), user_id=user.id)
    return None


async def set_user_rate_limits(session: AsyncSession, user: User, limits: RateLimits | None) -> Invalidation:
    """Replace an admin-set user's limits; every process reloads the user's keys within a second."""
    user.rate_limits = stored(limits)
    user.updated_at = utcnow()
    await session.flush()
    return Invalidation(await bump_auth_counter(session), user_id=user.id)


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


# -- keys ------------------------------------------------------------------------------------------


async def _check_scopes(session: AsyncSession, user: User, scopes: list[str], environment: str) -> None:
    if "admin" in scopes and not await holds_roles(session, user):
        raise PermissionDenied("Only users with an admin role can hold keys with the 'admin' scope.", param="scopes")
    if "admin" in scopes and environment == "test":
        raise PermissionDenied("Sandbox (test) keys cannot have the 'admin' scope.", param="scopes")


def first_key_spec(user: User, name: str = "default", *, privileged: bool | None = None) -> KeyCreate:
    """A new user's first key: one with an admin role (`privileged`; by default, the admin) can
    administer, everyone else's has the default scopes."""
    privileged = user.role == "admin" if privileged is None else privileged
    return KeyCreate(name=name, scopes=list(SCOPES) if privileged else None)  # type: ignore[arg-type]


async def create_key(
    session: AsyncSession,
    secret: bytes,
    user: User,
    spec: KeyCreate,
    *,
    default_environment: str,
    plaintext: str | None = None,
    caller: Rights | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; `plaintext` lets the bootstrap admin key come from GATEWAYZ_ADMIN_KEY.

    `caller` is the calling key's rights (API requests): the new key inherits its restrictions and
    may not exceed them. Unset scopes are the defaults (never `admin`), within the caller's own.
    """
    require_may_create(caller)
    values = inherited(caller, spec.model_dump(exclude_unset=False))
    environment = values.get("environment") or default_environment
    if spec.scopes is not None:
        scopes = list(dict.fromkeys(spec.scopes))
    else:
        allowed = values.get("scopes_default") or frozenset(SCOPES)
        scopes = [s for s in DEFAULT_SCOPES if s in allowed]
    await _check_scopes(session, user, scopes, environment)
    expires_at = values.get("expires_at")
    if spec.expires_in_days is not None:
        if spec.expires_at is not None:
            raise InvalidRequest("Give expires_at or expires_in_days, not both.", param="expires_in_days")
        expires_at = utcnow() + timedelta(days=spec.expires_in_days)
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidRequest("expires_at must be in the future.", param="expires_at")
    key = plaintext or generate_key(environment)
    row = ApiKey(
        user_id=user.id,
        name=spec.name,
        key_hash=hash_key(secret, key),
        prefix=display_prefix(key),
        last4=last4(key),
        environment=environment,
        scopes=scopes,
        ip_allowlist=values.get("ip_allowlist") or None,
        allowed_referers=values.get("allowed_referers") or None,
        allowed_models=values.get("allowed_models") or None,
        expires_at=expires_at,
        max_requests=spec.max_requests,
        request_count=0,
        max_budget=to_nanos(spec.max_budget) if spec.max_budget is not None else None,
        budget_period=spec.budget_period,
        rate_limits=stored(spec.rate_limits),
        key_metadata=spec.metadata,
    )
    require_within(key_rights(row), caller, "create")
    session.add(row)
    await session.flush()
    return row, key


async def list_keys(session: AsyncSession, user_id: int, *, include_revoked: bool) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.user_id == user_id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list((await session.execute(query.order_by(ApiKey.id))).scalars().all())


async def get_own_key(session: AsyncSession, user_id: int, key_id: int) -> ApiKey:
    """A user's own key; someone else's key is indistinguishable from a missing one (404)."""
    key = await session.get(ApiKey, key_id)
    if key is None or key.user_id != user_id:
        raise NotFound(f"No API key with id {key_id}.", param="id")
    return key


def _hashes(key: ApiKey) -> list[str]:
    return [h for h in (key.key_hash, key.previous_key_hash) if h]


async def update_key(
    session: AsyncSession, user: User, key: ApiKey, spec: KeyUpdate, *, caller: Rights | None = None
) -> Invalidation:
    """Change a key's rules. Through the API (`caller` set) a key can only be narrowed, never
    widened: not the calling key itself, and not a key that already has wider rights."""
    if key.revoked_at is not None:
        raise InvalidRequest("This API key is revoked and cannot be changed.", param="id")
    require_within(key_rights(key), caller, "change")
    changes = spec.model_dump(exclude_unset=True)
    if "scopes" in changes:
        if changes["scopes"] is None:
            raise InvalidRequest("scopes cannot be null.", param="scopes")
        changes["scopes"] = list(dict.fromkeys(changes["scopes"]))
        await _check_scopes(session, user, changes["scopes"], key.environment)
    if changes.get("name", "") is None:
        raise InvalidRequest("name cannot be null.", param="name")
    if "metadata" in changes:
        changes["key_metadata"] = changes.pop("metadata")
    if "rate_limits" in changes:
        changes["rate_limits"] = stored(spec.rate_limits)
    if changes.get("max_budget") is not None:
        changes["max_budget"] = to_nanos(changes["max_budget"])
    for list_field in ("ip_allowlist", "allowed_referers", "allowed_models"):
        if list_field in changes and not changes[list_field]:
            changes[list_field] = None
    for name, value in changes.items():
        setattr(key, name, value)
    require_within(key_rights(key), caller, "change")  # raising here rolls the transaction back
    key.updated_at = utcnow()
    await session.flush()
    return Invalidation(await bump_auth_counter(session), hashes=_hashes(key))


async def revoke_key(session: AsyncSession, key: ApiKey, *, caller: Rights | None = None) -> Invalidation:
    require_within(key_rights(key), caller, "revoke")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        key.updated_at = key.revoked_at
        await session.flush()
    return Invalidation(await bump_auth_counter(session), hashes=_hashes(key))


async def rotate_key(
    session: AsyncSession, secret: bytes, key: ApiKey, *, grace_period_seconds: int, caller: Rights | None = None
) -> tuple[str, Invalidation]:
    """New secret for the same key row; the old one keeps working for the grace period only."""
    if key.revoked_at is not None:
        raise InvalidRequest("This API key is revoked and cannot be rotated.", param="id")
    require_within(key_rights(key), caller, "rotate")
    old_hashes = _hashes(key)
    plaintext = generate_key(key.environment)
    now = utcnow()
    if grace_period_seconds > 0:
        key.previous_key_hash = key.key_hash
        key.previous_key_expires_at = now + timedelta(seconds=grace_period_seconds)
    else:
        key.previous_key_hash = None
        key.previous_key_expires_at = None
    key.key_hash = hash_key(secret, plaintext)
    key.prefix = display_prefix(plaintext)
    key.last4 = last4(plaintext)
    key.rotated_at = now
    key.updated_at = now
    await session.flush()
    return plaintext, Invalidation(await bump_auth_counter(session), hashes=old_hashes)


def key_out(key: ApiKey) -> KeyOut:
    return KeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        last4=key.last4,
        environment=key.environment,
        scopes=list(key.scopes or []),
        ip_allowlist=key.ip_allowlist,
        allowed_referers=key.allowed_referers,
        allowed_models=key.allowed_models,
        expires_at=key.expires_at,
        max_requests=key.max_requests,
        request_count=key.request_count,
        max_budget=usd(key.max_budget) if key.max_budget is not None else None,
        budget_period=key.budget_period,
        rate_limits=key.rate_limits,
        metadata=key.key_metadata,
        created_at=key.created_at,
        updated_at=key.updated_at,
        last_used_at=key.last_used_at,
        rotated_at=key.rotated_at,
        previous_key_expires_at=key.previous_key_expires_at,
        revoked=key.revoked_at is not None,
        revoked_at=key.revoked_at,
    )
