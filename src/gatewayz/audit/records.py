"""Audit records: written inside the transaction of the change they describe, so a change that
fails (rolls back) leaves no record and a record never describes a change that did not happen."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, null
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from gatewayz.audit.tables import AuditRecord
from gatewayz.storage.types import utcnow


async def write_audit(
    session: AsyncSession,
    conn: HTTPConnection | None,
    *,
    actor_user_id: int | None,
    actor_key_id: int | None,
    action: str,
    target_type: str,
    target_id: str | int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    actor_type: str | None = None,
) -> None:
    """`actor_type`: "user" when an actor user is given, else "system" (a job, a webhook), or
    "anonymous" for an unauthenticated caller (a password-reset request)."""
    ip = user_agent = request_id = None
    if conn is not None:
        services = getattr(conn.app.state, "services", None)
        ip = services.auth.client_ip(conn) if services is not None else None
        user_agent = (conn.headers.get("user-agent") or "")[:512] or None
        request_id = conn.scope.get("gatewayz.request_id")
    await session.execute(insert(AuditRecord).values(
        created_at=utcnow(),
        actor_type=actor_type or ("user" if actor_user_id is not None else "system"),
        actor_user_id=actor_user_id,
        actor_key_id=actor_key_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=null() if before is None else before,  # SQL NULL, not JSON 'null'
        after=null() if after is None else after,
        ip=ip,
        user_agent=user_agent,
        request_id=request_id,
    ))


VOLATILE = frozenset({"created_at", "updated_at", "last_used_at", "request_count"})  # not changes anyone made


def changed(before: dict[str, Any] | None, after: dict[str, Any] | None) -> tuple[dict[str, Any] | None,
                                                                                dict[str, Any] | None]:
    """Only the fields that differ (JSON values; the volatile ones left out)."""
    old, new = before or {}, after or {}
    names = [n for n in dict.fromkeys([*old, *new]) if n not in VOLATILE and old.get(n) != new.get(n)]
    return ({n: old.get(n) for n in names} if before is not None else None,
            {n: new.get(n) for n in names} if after is not None else None)


async def audit_change(
    session: AsyncSession,
    conn: HTTPConnection,
    principal: Any,
    action: str,
    target_type: str,
    target_id: str | int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """An audit record of a change made by the authenticated caller (a `Principal`), in `session`'s
    transaction: only the fields that changed."""
    old, new = changed(before, after)
    await write_audit(session, conn, actor_user_id=principal.user_id, actor_key_id=principal.key_id, action=action,
                      target_type=target_type, target_id=target_id, before=old, after=new)


async def audit_user_action(session: AsyncSession, conn: HTTPConnection | None, user_id: int, action: str,
                            after: dict[str, Any] | None = None, *, key_id: int | None = None) -> None:
    """An action a user took on their own account (sign-in, password, second factor, sessions)."""
    await write_audit(session, conn, actor_user_id=user_id, actor_key_id=key_id, action=action, target_type="user",
                      target_id=user_id, before=None, after=after)


async def audit_system(session: Any, action: str, target_type: str, target_id: str | int,
                       before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    """A change the gateway made by itself (a job): no request, no actor."""
    await write_audit(session, None, actor_user_id=None, actor_key_id=None, action=action, target_type=target_type,
                      target_id=target_id, before=before, after=after)
