"""The credit ledger: every balance change and its ledger row in one transaction.

Concurrency rules (why this cannot overspend):
- a hold is ONE conditional UPDATE (`... WHERE balance - held >= :amount`): two requests can never
  both reserve the same money, on SQLite or PostgreSQL, in one process or many;
- every other change starts with an UPDATE of the account row, which takes its write lock before
  anything is read, so read-then-write sequences cannot interleave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, case, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gatewayz.billing.tables import (
    BillingEvent,
    CreditAccount,
    CreditGrant,
    CreditHold,
    CreditTransaction,
    KeySpend,
    UsageRecord,
)
from gatewayz.errors import GatewayError, InvalidRequest, NotFound
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
)
LIFETIME = datetime(1970, 1, 1, tzinfo=utcnow().tzinfo)


class InsufficientCredits(GatewayError):
    status = 402
    type = "insufficient_quota"
    code = "insufficient_quota"


@dataclass(frozen=True, slots=True)
class KeyBudget:
    limit: int
    period: str | None  # daily | weekly | monthly | None (lifetime)


@dataclass(frozen=True, slots=True)
class Hold:
    id: int
    amount: int
    user_id: int
    key_id: int | None
    key_period_start: datetime | None


def period_start(period: str | None, now: datetime) -> datetime:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        return day
    if period == "weekly":
        return day - timedelta(days=day.weekday())
    if period == "monthly":
        return day.replace(day=1)
    return LIFETIME


Executor = AsyncSession | AsyncConnection  # the hot path passes a Core connection (cheaper)


def dialect_name(executor: Executor) -> str:
    if isinstance(executor, AsyncConnection):
        return executor.dialect.name
    return executor.bind.dialect.name if executor.bind is not None else "sqlite"


async def _insert_ignore(session: Executor, table: Table, values: dict[str, Any]) -> None:
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
    """Take the account row's write lock; returns (balance, held, expiring, threshold)."""
    await ensure_account(session, user_id)
    row = (
        await session.execute(
            update(CreditAccount)
            .where(CreditAccount.user_id == user_id)
            .values(updated_at=utcnow())
            .returning(
                CreditAccount.balance, CreditAccount.held, CreditAccount.expiring, CreditAccount.low_balance_threshold
            )
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2]), row[3]


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


# -- holds -----------------------------------------------------------------------------------------


async def place_hold(
    session: Executor,
    *,
    request_id: str,
    user_id: int,
    key_id: int | None,
    amount: int,
    budget: KeyBudget | None,
    ttl: float,
) -> Hold:
    """Reserve `amount`, atomically, or raise 402. Call inside a transaction."""
    result = await session.execute(
        update(CreditAccount)
        .where(CreditAccount.user_id == user_id, CreditAccount.balance - CreditAccount.held >= amount)
        .values(held=CreditAccount.held + amount)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise InsufficientCredits(
            "You do not have enough credits for this request (the most it can cost is reserved up front). "
            "Add credits or lower max_tokens."
        )
    start = None
    if budget is not None and key_id is not None:
        start = period_start(budget.period, utcnow())
        await _insert_ignore(
            session,
            KeySpend.__table__,
            {  # type: ignore[arg-type]
                "key_id": key_id,
                "period_start": start,
                "spent": 0,
                "held": 0,
            },
        )
        result = await session.execute(
            update(KeySpend)
            .where(
                KeySpend.key_id == key_id,
                KeySpend.period_start == start,
                KeySpend.spent + KeySpend.held + amount <= budget.limit,
            )
            .values(held=KeySpend.held + amount)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise InsufficientCredits(
                "This API key has reached its spending limit for the period.", code="key_budget_exceeded"
            )
    now = utcnow()
    hold_id = (
        await session.execute(
            insert(CreditHold)
            .values(
                request_id=request_id,
                user_id=user_id,
                key_id=key_id,
                amount=amount,
                key_period_start=start,
                status="held",
                created_at=now,
                expires_at=now + timedelta(seconds=ttl),
            )
            .returning(CreditHold.id)
        )
    ).scalar_one()
    return Hold(int(hold_id), amount, user_id, key_id, start)


async def _close_hold(session: Executor, hold: Hold, status: str) -> bool:
    """Mark the hold closed; False if someone (the sweeper) already did: then it holds nothing."""
    result = await session.execute(
        update(CreditHold).where(CreditHold.id == hold.id, CreditHold.status == "held").values(status=status)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release_hold(session: Executor, hold: Hold, status: str = "released") -> bool:
    if not await _close_hold(session, hold, status):
        return False
    await session.execute(
        update(CreditAccount)
        .where(CreditAccount.user_id == hold.user_id)
        .values(held=CreditAccount.held - hold.amount, updated_at=utcnow())
    )
    if hold.key_period_start is not None:
        await session.execute(
            update(KeySpend)
            .where(KeySpend.key_id == hold.key_id, KeySpend.period_start == hold.key_period_start)
            .values(held=KeySpend.held - hold.amount)
        )
    return True


@dataclass(frozen=True, slots=True)
class Settlement:
    charged: int
    balance: int
    uncollected: int


async def settle(
    session: Executor, *, hold: Hold | None, user_id: int, cost: int, request_id: str, usage: dict[str, Any]
) -> Settlement:
    """Charge the actual cost, release the rest of the hold, write the ledger row and usage record.

    The charge never takes the balance below what other requests hold (nor below zero): a cost
    above its hold (a provider that ignored max_tokens) is collected as far as the balance goes
    and the rest recorded as `uncollected` on the usage record.
    """
    release = hold.amount if hold is not None and await _close_hold(session, hold, "settled") else 0
    charged = cost
    if cost <= release:  # the usual case: one UPDATE
        row = (
            await session.execute(
                update(CreditAccount)
                .where(CreditAccount.user_id == user_id)
                .values(
                    held=CreditAccount.held - release,
                    balance=CreditAccount.balance - cost,
                    expiring=_consume_expiring(cost),
                    updated_at=utcnow(),
                )
                .returning(CreditAccount.balance, CreditAccount.low_balance_threshold)
            )
        ).one()
        after, threshold = int(row[0]), row[1]
    else:
        await ensure_account(session, user_id)
        row = (
            await session.execute(
                update(CreditAccount)
                .where(CreditAccount.user_id == user_id)
                .values(held=CreditAccount.held - release, updated_at=utcnow())
                .returning(CreditAccount.balance, CreditAccount.held, CreditAccount.low_balance_threshold)
            )
        ).one()
        charged = max(0, min(cost, int(row[0]) - int(row[1])))
        after = (
            await session.execute(
                update(CreditAccount)
                .where(CreditAccount.user_id == user_id)
                .values(balance=CreditAccount.balance - charged, expiring=_consume_expiring(charged))
                .returning(CreditAccount.balance)
            )
        ).scalar_one()
        threshold = row[2]
    before = int(after) + charged
    if charged:
        await _write_entry(session, user_id, "usage", -charged, before, reference=request_id)
        await _low_balance_check(session, user_id, before, int(after), threshold)
    if hold is not None and hold.key_period_start is not None:
        await session.execute(
            update(KeySpend)
            .where(KeySpend.key_id == hold.key_id, KeySpend.period_start == hold.key_period_start)
            .values(held=KeySpend.held - release, spent=KeySpend.spent + charged)
        )
    await session.execute(
        insert(UsageRecord).values(
            request_id=request_id,
            user_id=user_id,
            cost=charged,
            uncollected=cost - charged,
            created_at=utcnow(),
            **usage,
        )
    )
    return Settlement(charged, int(after), cost - charged)


async def record_free_usage(session: Executor, *, request_id: str, user_id: int, usage: dict[str, Any]) -> None:
    await session.execute(
        insert(UsageRecord).values(
            request_id=request_id, user_id=user_id, cost=0, uncollected=0, created_at=utcnow(), **usage
        )
    )


async def sweep_expired_holds(session: Executor, now: datetime, limit: int = 500) -> int:
    rows = (
        (
            await session.execute(
                select(CreditHold).where(CreditHold.status == "held", CreditHold.expires_at < now).limit(limit)
            )
        )
        .scalars()
        .all()
    )
    released = 0
    for row in rows:
        hold = Hold(row.id, row.amount, row.user_id, row.key_id, row.key_period_start)
        released += await release_hold(session, hold, "expired")
    return released


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
) -> int:
    """Add (or, negative, deduct) credits; a deduction cannot take money that is not available."""
    if type_ not in TRANSACTION_TYPES:
        raise ValueError(f"unknown transaction type {type_}")
    balance, held, _, threshold = await _lock_account(session, user_id)
    if amount < 0 and balance - held < -amount:
        raise InvalidRequest("Cannot deduct more than the available balance.", param="amount")
    if expires_at is not None and amount <= 0:
        raise InvalidRequest("Only grants (positive amounts) can expire.", param="expires_at")
    values: dict[str, Any] = {"balance": CreditAccount.balance + amount}
    if amount < 0:
        values["expiring"] = _consume_expiring(-amount)
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
    """Write `expiry` entries for what is left of grants past their date.

    Spending consumes expiring grants first, earliest expiry first, tracked as one pool per
    account (`expiring`): the unspent part of the earliest grant is its amount minus everything
    consumed from the pool so far.
    """
    due = (
        (
            await session.execute(
                select(CreditGrant)
                .where(CreditGrant.expired.is_(False), CreditGrant.expires_at <= now)
                .order_by(CreditGrant.expires_at, CreditGrant.id)
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    for grant in due:
        balance, held, expiring, _ = await _lock_account(session, grant.user_id)
        active_total = (
            await session.execute(
                select(func.coalesce(func.sum(CreditGrant.amount), 0)).where(
                    CreditGrant.user_id == grant.user_id, CreditGrant.expired.is_(False)
                )
            )
        ).scalar_one()
        consumed = int(active_total) - expiring
        leftover = max(0, grant.amount - consumed)
        take = min(leftover, max(0, balance - held))
        await session.execute(
            update(CreditAccount)
            .where(CreditAccount.user_id == grant.user_id)
            .values(balance=CreditAccount.balance - take, expiring=CreditAccount.expiring - leftover)
        )
        if take:
            await _write_entry(
                session,
                grant.user_id,
                "expiry",
                -take,
                balance,
                reference=f"grant:{grant.id}",
                actor="system",
                reason="credit grant expired",
            )
        await session.execute(update(CreditGrant).where(CreditGrant.id == grant.id).values(expired=True))
    return len(due)
