"""The credit ledger's less frequent changes: grants, deductions, refunds, expiry, crash recovery.

Every balance change writes its ledger row in the same transaction, and starts with an UPDATE of
the account row, which takes its write lock before anything is read, so read-then-write sequences
cannot interleave. The per-request hold and settlement live in holds.py (the lean SQL path).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gatewayz.audit.records import audit_system
from gatewayz.billing.holds import Hold
from gatewayz.billing.tables import (
    BillingEvent,
    CreditAccount,
    CreditGrant,
    CreditHold,
    CreditTransaction,
    UsageRecord,
)
from gatewayz.errors import InvalidRequest, NotFound
from gatewayz.storage.types import utcnow

TRANSACTION_TYPES = (
    "purchase",
    "usage",
    "refund",
    "admin_grant",
    "admin_deduct",
    "trial",
    "coupon",
    "referral",
    "expiry",
    "adjustment",
    "plan_credits",
    "transfer",
)


Executor = AsyncSession | AsyncConnection  # the hot path passes a Core connection (cheaper)


def dialect_name(executor: Executor) -> str:
    if isinstance(executor, AsyncConnection):
        return executor.dialect.name
    return executor.bind.dialect.name if executor.bind is not None else "sqlite"


async def _insert_ignore(session: Executor, table: Table, values: dict[str, Any]) -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = dialect_name(session)
    statement = (postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)).values(**values)
    await session.execute(statement.on_conflict_do_nothing())


async def ensure_account(session: Executor, user_id: int) -> None:
    await _insert_ignore(
        session,
        CreditAccount.__table__,
        {  # type: ignore[arg-type]
            "user_id": user_id,
            "balance": 0,
            "held": 0,
            "expiring": 0,
            "updated_at": utcnow(),
        },
    )


async def _lock_account(session: Executor, user_id: int) -> tuple[int, int, int, int | None]:
    """Take the account row's write lock; returns (balance, unavailable, expiring, threshold), where
    `unavailable` is what in-flight requests hold plus expired credit not yet removed."""
    await ensure_account(session, user_id)
    row = (
        await session.execute(
            update(CreditAccount)
            .where(CreditAccount.user_id == user_id)
            .values(updated_at=utcnow())
            .returning(
                CreditAccount.balance,
                CreditAccount.held + CreditAccount.expired_pending,
                CreditAccount.expiring,
                CreditAccount.low_balance_threshold,
            )
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2]), row[3]


async def lock_available(session: Executor, user_id: int) -> int:
    """Lock the user's account row for this transaction and return what a deduction may take now
    (balance less what in-flight requests hold and expired credit not yet removed)."""
    balance, unavailable, _, _ = await _lock_account(session, user_id)
    return max(0, balance - unavailable)


async def _write_entry(
    session: Executor,
    user_id: int,
    type_: str,
    amount: int,
    before: int,
    *,
    reference: str | None = None,
    actor: str | None = None,
    reason: str | None = None,
) -> int:
    result = await session.execute(
        insert(CreditTransaction)
        .values(
            user_id=user_id,
            type=type_,
            amount=amount,
            balance_before=before,
            balance_after=before + amount,
            reference=reference,
            actor=actor,
            reason=reason,
            created_at=utcnow(),
        )
        .returning(CreditTransaction.id)
    )
    return int(result.scalar_one())


def _consume_expiring(charged: int) -> Any:
    return case((CreditAccount.expiring < charged, 0), else_=CreditAccount.expiring - charged)


def _spare_expiring(charged: int) -> Any:
    left = CreditAccount.balance - charged  # the expiring pool never exceeds what is left
    return case((CreditAccount.expiring > left, case((left < 0, 0), else_=left)), else_=CreditAccount.expiring)


async def _low_balance_check(
    session: Executor, user_id: int, before: int, after: int, threshold: int | None
) -> None:
    if threshold is not None and before >= threshold > after:
        await session.execute(
            insert(BillingEvent).values(
                user_id=user_id,
                type="low_balance",
                created_at=utcnow(),
                data={"balance": after, "threshold": threshold},
            )
        )


# -- crash recovery ------------------------------------------------------------------------------


async def expired_holds(session: Executor, now: datetime, limit: int = 500) -> list[Hold]:
    """Holds whose process never came back to settle them (see holds.HoldLedger.release)."""
    rows = (await session.execute(
        select(CreditHold.id, CreditHold.amount, CreditHold.user_id, CreditHold.key_id, CreditHold.key_period_start,
               CreditHold.cap_id, CreditHold.cap_period_start)
        .where(CreditHold.status == "held", CreditHold.expires_at < now).limit(limit)
    )).all()
    return [Hold(int(r[0]), int(r[1]), int(r[2]), r[3], r[4], r[5], r[6]) for r in rows]


# -- grants, deductions, refunds, expiry -------------------------------------------------------------


async def adjust(
    session: Executor,
    *,
    user_id: int,
    amount: int,
    type_: str,
    reason: str | None,
    actor: str | None,
    reference: str | None = None,
    expires_at: datetime | None = None,
    spare_expiring: bool = False,
) -> int:
    """Add (or, negative, deduct) credits; a deduction cannot take money that is not available.
    A deduction takes expiring credit first, or with `spare_expiring` last (taking back purchased,
    non-expiring credit must not leave a trial's expiring grant as permanent balance)."""
    if type_ not in TRANSACTION_TYPES:
        raise ValueError(f"unknown transaction type {type_}")
    balance, held, _, threshold = await _lock_account(session, user_id)
    if amount < 0 and balance - held < -amount:
        raise InvalidRequest("Cannot deduct more than the available balance.", param="amount")
    if expires_at is not None and amount <= 0:
        raise InvalidRequest("Only grants (positive amounts) can expire.", param="expires_at")
    values: dict[str, Any] = {"balance": CreditAccount.balance + amount}
    if amount < 0:
        values["expiring"] = _spare_expiring(-amount) if spare_expiring else _consume_expiring(-amount)
    if expires_at is not None:
        values["expiring"] = CreditAccount.expiring + amount
    await session.execute(update(CreditAccount).where(CreditAccount.user_id == user_id).values(**values))
    entry = await _write_entry(
        session, user_id, type_, amount, balance, reference=reference, actor=actor, reason=reason
    )
    if expires_at is not None:
        await session.execute(
            insert(CreditGrant).values(
                user_id=user_id,
                amount=amount,
                expires_at=expires_at,
                expired=False,
                transaction_id=entry,
                created_at=utcnow(),
            )
        )
    await _low_balance_check(session, user_id, balance, balance + amount, threshold)
    return entry


async def transfer(
    session: Executor, *, from_user: int, to_user: int, amount: int, reference: str, actor: str, reason: str | None
) -> tuple[int, int]:
    """Move `amount` between two accounts: one transaction, two `transfer` rows sharing `reference`;
    returns the receiver's balance before and after. Only money that does not expire can move (an
    expiring grant must not turn into credit that does not), and never what is held or unavailable.
    The accounts are locked in id order, so two transfers can never wait on each other."""
    if amount <= 0 or from_user == to_user:
        raise InvalidRequest("A transfer moves a positive amount between two accounts.", param="amount")
    locked = {uid: await _lock_account(session, uid) for uid in sorted((from_user, to_user))}
    balance, unavailable, expiring, threshold = locked[from_user]
    if balance - unavailable - expiring < amount:
        raise InvalidRequest("Cannot transfer more than your available balance (credit that expires cannot move).",
                             param="amount", code="insufficient_balance")
    await session.execute(update(CreditAccount).where(CreditAccount.user_id == from_user)
                          .values(balance=CreditAccount.balance - amount))
    await _write_entry(session, from_user, "transfer", -amount, balance, reference=reference, actor=actor,
                       reason=reason)
    await _low_balance_check(session, from_user, balance, balance - amount, threshold)
    received = locked[to_user][0]
    await session.execute(update(CreditAccount).where(CreditAccount.user_id == to_user)
                          .values(balance=CreditAccount.balance + amount))
    await _write_entry(session, to_user, "transfer", amount, received, reference=reference, actor=actor, reason=reason)
    return received, received + amount


async def refund(
    session: Executor, *, request_id: str, amount: int | None, reason: str | None, actor: str | None
) -> tuple[int, int]:
    """Refund all or part of a usage charge; returns (refunded, entry id). Never more than charged."""
    usage = (
        await session.execute(select(UsageRecord.user_id, UsageRecord.cost).where(UsageRecord.request_id == request_id))
    ).first()
    if usage is None:
        raise NotFound(f"No usage record for request {request_id!r}.", param="request_id")
    user_id, cost = int(usage[0]), int(usage[1])
    balance, _, _, _ = await _lock_account(session, user_id)
    done = (
        await session.execute(
            select(func.coalesce(func.sum(CreditTransaction.amount), 0)).where(
                CreditTransaction.type == "refund", CreditTransaction.reference == request_id
            )
        )
    ).scalar_one()
    refundable = cost - int(done)
    amount = refundable if amount is None else amount
    if amount <= 0 or amount > refundable:
        raise InvalidRequest(
            f"At most {refundable} nano-dollars of this charge can still be refunded.",
            param="amount",
            code="refund_exceeds_charge",
        )
    await session.execute(
        update(CreditAccount).where(CreditAccount.user_id == user_id).values(balance=CreditAccount.balance + amount)
    )
    entry = await _write_entry(
        session, user_id, "refund", amount, balance, reference=request_id, actor=actor, reason=reason
    )
    return amount, entry


async def expire_due_grants(session: Executor, now: datetime, limit: int = 200) -> int:
    """Write `expiry` entries for what is left of grants past their date; returns grants expired.

    Spending consumes expiring grants first, earliest expiry first, tracked as one pool per
    account (`expiring`): walking a user's active grants in expiry order, each is consumed up to
    its amount from everything consumed so far, and what remains of a due grant expires. What is
    held by in-flight requests at that moment cannot be taken yet: it becomes `expired_pending`
    (never spendable again: new holds and deductions exclude it), the grant stays due, and later
    runs take it as those requests settle and release their holds.
    """
    users = (await session.execute(
        select(CreditGrant.user_id)
        .where(CreditGrant.expired.is_(False), CreditGrant.expires_at <= now)
        .group_by(CreditGrant.user_id)
        .limit(limit)
    )).scalars().all()
    expired = 0
    for user_id in users:
        expired += await _expire_user_grants(session, int(user_id), now)
    return expired


async def _expire_user_grants(session: Executor, user_id: int, now: datetime) -> int:
    await ensure_account(session, user_id)
    account = (await session.execute(
        update(CreditAccount).where(CreditAccount.user_id == user_id).values(updated_at=utcnow())
        .returning(CreditAccount.balance, CreditAccount.held, CreditAccount.expiring)
    )).one()
    balance, held, expiring = int(account[0]), int(account[1]), int(account[2])
    grants = (await session.execute(
        select(CreditGrant).where(CreditGrant.user_id == user_id, CreditGrant.expired.is_(False))
        .order_by(CreditGrant.expires_at, CreditGrant.id)
    )).scalars().all()
    consumed = sum(g.amount for g in grants) - expiring
    available = max(0, balance - held)
    taken, pending, expired = 0, 0, 0
    for grant in grants:
        used = min(grant.amount, max(consumed, 0))
        consumed -= used
        if grant.expires_at > now:
            break
        leftover = grant.amount - used
        take = min(leftover, available)
        available -= take
        if take:
            await _write_entry(session, user_id, "expiry", -take, balance - taken, reference=f"grant:{grant.id}",
                               actor="system", reason="credit grant expired")
            taken += take
        if take == leftover:
            await session.execute(update(CreditGrant).where(CreditGrant.id == grant.id).values(expired=True))
            expired += 1
        else:
            pending += leftover - take
    await session.execute(
        update(CreditAccount).where(CreditAccount.user_id == user_id).values(
            balance=CreditAccount.balance - taken, expiring=CreditAccount.expiring - taken, expired_pending=pending
        )
    )
    if taken or pending:
        await audit_system(session, "credits.expire", "user", user_id, before={"balance": balance},
                           after={"balance": balance - taken, "expired": taken, "pending": pending})
    return expired
