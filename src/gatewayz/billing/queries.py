"""Reads behind the billing endpoints: balances, the ledger, usage totals, forecasts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.billing.holds import period_start
from gatewayz.billing.money import usd
from gatewayz.billing.schemas import BalanceOut, Forecast, TransactionOut, UsageGroup, UsageSummary
from gatewayz.billing.tables import CapSpend, CreditAccount, CreditTransaction, UsageRecord
from gatewayz.storage.types import utcnow

GROUPS = ("day", "model", "provider", "key")


async def balance(session: AsyncSession, user_id: int, default_threshold: int) -> BalanceOut:
    account = await session.get(CreditAccount, user_id)
    total, held = (account.balance, account.held + account.expired_pending) if account else (0, 0)
    available = max(0, total - held)
    threshold = account.low_balance_threshold if account and account.low_balance_threshold is not None else None
    week_ago = utcnow() - timedelta(days=7)
    burned = (
        await session.execute(
            select(func.coalesce(func.sum(UsageRecord.cost), 0)).where(
                UsageRecord.user_id == user_id, UsageRecord.created_at >= week_ago
            )
        )
    ).scalar_one()
    daily = int(burned) // 7
    return BalanceOut(
        balance=usd(total),
        held=usd(held),
        available=usd(available),
        low_balance_threshold=usd(threshold if threshold is not None else default_threshold),
        forecast=Forecast(daily_burn=usd(daily), days_remaining=round(available / daily, 2) if daily else None),
    )


def transaction_out(row: CreditTransaction) -> TransactionOut:
    return TransactionOut(
        id=row.id,
        type=row.type,
        amount=usd(row.amount),
        balance_before=usd(row.balance_before),
        balance_after=usd(row.balance_after),
        reference=row.reference,
        actor=row.actor,
        reason=row.reason,
        created_at=row.created_at,
    )


async def transactions(
    session: AsyncSession,
    user_id: int,
    *,
    type_: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    before_id: int | None,
) -> tuple[list[TransactionOut], bool]:
    query = select(CreditTransaction).where(CreditTransaction.user_id == user_id)
    if type_:
        query = query.where(CreditTransaction.type == type_)
    if since:
        query = query.where(CreditTransaction.created_at >= since)
    if until:
        query = query.where(CreditTransaction.created_at < until)
    if before_id:
        query = query.where(CreditTransaction.id < before_id)
    rows = (await session.execute(query.order_by(CreditTransaction.id.desc()).limit(limit + 1))).scalars().all()
    return [transaction_out(r) for r in rows[:limit]], len(rows) > limit


def _group_column(group_by: str, dialect: str) -> Any:
    if group_by == "day":  # the UTC date, as YYYY-MM-DD, on both databases
        if dialect == "postgresql":
            return func.to_char(func.timezone("UTC", UsageRecord.created_at), "YYYY-MM-DD")
        return func.substr(UsageRecord.created_at, 1, 10)
    return {"model": UsageRecord.model, "provider": UsageRecord.provider, "key": UsageRecord.key_id}[group_by]


async def usage_summary(
    session: AsyncSession,
    *,
    user_id: int,
    group_by: str,
    since: datetime | None,
    until: datetime | None,
    key_id: int | None = None,
) -> UsageSummary:
    filters = [UsageRecord.user_id == user_id]
    if key_id is not None:
        filters.append(UsageRecord.key_id == key_id)
    if since:
        filters.append(UsageRecord.created_at >= since)
    if until:
        filters.append(UsageRecord.created_at < until)
    sums = (
        func.count(UsageRecord.id),
        func.coalesce(func.sum(UsageRecord.prompt_tokens), 0),
        func.coalesce(func.sum(UsageRecord.completion_tokens), 0),
        func.coalesce(func.sum(UsageRecord.cached_tokens), 0),
        func.coalesce(func.sum(UsageRecord.cost), 0),
        func.coalesce(func.sum(UsageRecord.images), 0),
    )
    column = _group_column(group_by, session.bind.dialect.name if session.bind is not None else "sqlite")
    rows = (await session.execute(select(column, *sums).where(*filters).group_by(column).order_by(column))).all()
    total = (await session.execute(select(*sums).where(*filters))).one()

    def group(key: Any, values: Any) -> UsageGroup:
        return UsageGroup(
            key=str(key),
            requests=int(values[0]),
            prompt_tokens=int(values[1]),
            completion_tokens=int(values[2]),
            cached_tokens=int(values[3]),
            cost=usd(int(values[4])),
            images=int(values[5]),
        )

    return UsageSummary(
        group_by=group_by,
        since=since,
        until=until,
        total=group("total", total),
        groups=[group(r[0], r[1:]) for r in rows],
    )


async def cap_spend(session: AsyncSession, caps: dict[int, str | None]) -> dict[int, tuple[int, int]]:
    """(spent, held) under each shared cap (id -> its period) in its current period, in one query."""
    if not caps:
        return {}
    now = utcnow()
    starts = {cap_id: period_start(period, now) for cap_id, period in caps.items()}
    rows = (await session.execute(
        select(CapSpend.cap_id, CapSpend.period_start, CapSpend.spent, CapSpend.held)
        .where(CapSpend.cap_id.in_(list(caps)), CapSpend.period_start.in_(set(starts.values())))
    )).all()
    return {int(r[0]): (int(r[2]), int(r[3])) for r in rows if starts.get(int(r[0])) == r[1]}
