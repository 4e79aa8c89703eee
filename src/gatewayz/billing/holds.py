"""Credit holds and settlement: the ledger statements every paid request runs, on the lean SQL path.

Why this cannot overspend: a hold is ONE conditional UPDATE (`... WHERE balance - held >= :amount`),
so two requests can never both reserve the same money, on SQLite or PostgreSQL, in one process or
many. Settlement starts by updating the account row, which takes its lock before anything is read.
Every balance change writes its ledger row in the same transaction.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gatewayz.billing import hold_sql as q
from gatewayz.billing.money import MAX_NANOS
from gatewayz.errors import GatewayError
from gatewayz.storage.fastsql import FastSQL, Tx
from gatewayz.storage.types import utcnow

LIFETIME = datetime(1970, 1, 1, tzinfo=utcnow().tzinfo)


INSUFFICIENT = (
    "You do not have enough credits for this request (the most it can cost is reserved up front). "
    "Add credits or lower max_tokens."
)


class AlreadySettled(Exception):
    """This request's usage record exists: an earlier attempt committed (settling is idempotent)."""


def is_duplicate_usage(exc: BaseException) -> bool:
    """The unique request id of usage_records refused a second row (SQLite or asyncpg)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return "usage_records.request_id" in str(exc)
    constraint = getattr(exc, "constraint_name", None)
    return type(exc).__name__ == "UniqueViolationError" and "usage_records" in str(constraint or exc)


class InsufficientCredits(GatewayError):
    status = 402
    type = "insufficient_quota"
    code = "insufficient_quota"


@dataclass(frozen=True, slots=True)
class KeyBudget:
    limit: int
    period: str | None  # daily | weekly | monthly | None (lifetime)


@dataclass(frozen=True, slots=True)
class SpendCap:
    """A limit shared by several keys (a team member's cap over their team keys), per period."""

    id: int
    limit: int
    period: str | None


@dataclass(frozen=True, slots=True)
class Hold:
    id: int
    amount: int
    user_id: int
    key_id: int | None
    key_period_start: datetime | None
    cap_id: int | None = None
    cap_period_start: datetime | None = None
    # the key budget's and the shared cap's limits when the hold was placed: a settlement never
    # takes more than they leave (a cost above the hold is charged only as far as there is room)
    budget_limit: int | None = None
    cap_limit: int | None = None


@dataclass(frozen=True, slots=True)
class Settlement:
    charged: int
    balance: int
    uncollected: int


def period_start(period: str | None, now: datetime) -> datetime:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        return day
    if period == "weekly":
        return day - timedelta(days=day.weekday())
    if period == "monthly":
        return day.replace(day=1)
    return LIFETIME


CAP_EXCEEDED = "Your spending cap in this team is reached for the period (a team admin can raise it)."


class HoldLedger:
    def __init__(self, sql: FastSQL) -> None:
        self.sql = sql

    async def place(
        self, *, request_id: str, user_id: int, key_id: int | None, amount: int, budget: KeyBudget | None, ttl: float,
        cap: SpendCap | None = None,
    ) -> Hold:
        """Reserve `amount` for one request, atomically, or raise 402 (the account, the key's budget
        and the shared cap each guarded by one conditional UPDATE in the same transaction)."""
        now = utcnow()
        if self.sql.dialect == "postgresql" and budget is None and cap is None:
            row = await self.sql.fetchrow_once(
                q.PG_HOLD,
                {
                    "amount": amount,
                    "user_id": user_id,
                    "request_id": request_id,
                    "key_id": key_id,
                    "now": now,
                    "expires": now + timedelta(seconds=ttl),
                },
            )
            if row is None:
                raise InsufficientCredits(INSUFFICIENT)
            return Hold(int(row[0]), amount, user_id, key_id, None)
        async with self.sql.transaction() as tx:
            if not await tx.execute(q.HOLD, {"amount": amount, "user_id": user_id}):
                raise InsufficientCredits(INSUFFICIENT)
            start = None
            if budget is not None and key_id is not None:
                start = period_start(budget.period, now)
                spend = {"key_id": key_id, "start": tx.ts(start), "amount": amount, "limit": budget.limit}
                await tx.execute(q.SPEND_ROW, spend)
                if not await tx.execute(q.SPEND_HOLD, spend):
                    raise InsufficientCredits(
                        "This API key has reached its spending limit for the period.", code="key_budget_exceeded"
                    )
            cap_start = None
            if cap is not None:
                cap_start = period_start(cap.period, now)
                shared = {"cap_id": cap.id, "start": tx.ts(cap_start), "amount": amount, "limit": cap.limit}
                await tx.execute(q.CAP_ROW, shared)
                if not await tx.execute(q.CAP_HOLD, shared):
                    raise InsufficientCredits(CAP_EXCEEDED, code="member_cap_exceeded")
            row = await tx.fetchrow(
                q.HOLD_ROW,
                {
                    "request_id": request_id,
                    "user_id": user_id,
                    "key_id": key_id,
                    "amount": amount,
                    "start": tx.ts(start),
                    "cap_id": cap.id if cap is not None else None,
                    "cap_start": tx.ts(cap_start),
                    "now": tx.ts(now),
                    "expires": tx.ts(now + timedelta(seconds=ttl)),
                },
            )
        assert row is not None
        return Hold(int(row[0]), amount, user_id, key_id, start, cap.id if cap else None, cap_start,
                    budget.limit if budget is not None and key_id is not None else None,
                    cap.limit if cap is not None else None)

    async def release(self, hold: Hold, status: str = "released") -> bool:
        """Give a hold's money back; False if it was already closed (settled, or swept)."""
        async with self.sql.transaction() as tx:
            left = await tx.fetchrow(q.CLOSE_HOLD_LEFT, {"id": hold.id, "status": status})
            if left is None:
                return False
            amount = int(left[0])
            await tx.execute(q.UNHOLD, {"release": amount, "user_id": hold.user_id, "now": tx.ts(utcnow())})
            if hold.key_period_start is not None:
                await tx.execute(
                    q.SPEND_RELEASE, {"release": amount, "key_id": hold.key_id, "start": tx.ts(hold.key_period_start)}
                )
            if hold.cap_period_start is not None:
                await tx.execute(
                    q.CAP_RELEASE, {"release": amount, "cap_id": hold.cap_id, "start": tx.ts(hold.cap_period_start)}
                )
        return True

    async def extend(self, hold_ids: list[int], expires: datetime) -> None:
        """Push back the expiry of holds whose requests are still running in this process (so
        the sweeper never releases the money of a long request that is still going)."""
        for start in range(0, len(hold_ids), 500):
            chunk = hold_ids[start : start + 500]
            params: dict[str, Any] = {f"h{i}": hold_id for i, hold_id in enumerate(chunk)}
            sql = q.EXTEND_HOLDS.format(ids=", ".join(f":h{i}" for i in range(len(chunk))))
            async with self.sql.transaction() as tx:
                params["expires"] = tx.ts(expires)
                await tx.execute(sql, params)

    async def settle(
        self, *, hold: Hold | None, user_id: int, cost: int, request_id: str, usage: dict[str, Any]
    ) -> Settlement:
        """Settle once: a second attempt for the same request raises AlreadySettled (and changes nothing)."""
        try:
            return await self._settle(hold=hold, user_id=user_id, cost=cost, request_id=request_id, usage=usage)
        except Exception as exc:
            if is_duplicate_usage(exc):
                raise AlreadySettled(request_id) from exc
            raise

    async def _settle(
        self, *, hold: Hold | None, user_id: int, cost: int, request_id: str, usage: dict[str, Any]
    ) -> Settlement:
        """Charge the actual cost, release the rest of the hold, write the ledger row and usage record.

        The charge never takes the balance below what other requests hold (nor below zero): a
        cost above its hold (a provider that ignored max_tokens) is collected as far as the balance
        goes and the rest recorded as `uncollected` on the usage record.
        """
        now = utcnow()
        if (
            self.sql.dialect == "postgresql"
            and hold is not None
            and hold.key_period_start is None
            and hold.cap_period_start is None
            and 0 <= cost <= hold.amount
        ):
            settled = await self._settle_in_one_statement(hold, user_id, cost, request_id, usage, now)
            if settled is not None:
                return settled
        async with self.sql.transaction() as tx:
            release = 0
            if hold is not None and await tx.execute(q.CLOSE_HOLD, {"id": hold.id, "status": "settled"}):
                release = hold.amount
            account = await self._unhold(tx, user_id, release, now)
            balance, held, threshold = int(account[0]), int(account[1]), account[2]
            charged = max(0, min(cost, balance - held))
            limited = await self._limit_room(tx, hold, release) if hold is not None else []
            for room, _, _ in limited:
                charged = min(charged, max(0, room))
            after = balance - charged
            if charged:
                await tx.execute(q.CHARGE, {"charged": charged, "user_id": user_id})
                await tx.execute(
                    q.ENTRY,
                    {
                        "user_id": user_id,
                        "amount": -charged,
                        "before": balance,
                        "after": after,
                        "reference": request_id,
                        "now": tx.ts(now),
                    },
                )
                if threshold is not None and balance >= threshold > after:
                    data = json.dumps({"balance": after, "threshold": int(threshold)})
                    await tx.execute(q.LOW_BALANCE[tx.dialect], {"user_id": user_id, "data": data, "now": tx.ts(now)})
                for _, statement, params in limited:
                    await tx.execute(statement, {**params, "charged": charged})
            await self._usage(tx, request_id, user_id, charged, cost - charged, usage, now)
        return Settlement(charged, after, cost - charged)

    @staticmethod
    async def _limit_room(tx: Tx, hold: Hold, release: int) -> list[tuple[int, str, dict[str, Any]]]:
        """Release the hold from its key budget and shared cap (each row locked by the UPDATE); for
        each, the room left under its limit and the statement that then adds the charge. Without a
        known limit (a hold kept by an older version) the room is unbounded."""
        limited: list[tuple[int, str, dict[str, Any]]] = []
        for start, limit, unhold, charge, params in (
            (hold.key_period_start, hold.budget_limit, q.SPEND_UNHOLD, q.SPEND_CHARGE, {"key_id": hold.key_id}),
            (hold.cap_period_start, hold.cap_limit, q.CAP_UNHOLD, q.CAP_CHARGE, {"cap_id": hold.cap_id}),
        ):
            if start is None:
                continue
            params["start"] = tx.ts(start)
            row = await tx.fetchrow(unhold, {**params, "release": release})
            room = MAX_NANOS if row is None or limit is None else limit - int(row[0]) - int(row[1])
            limited.append((room, charge, params))
        return limited

    async def _settle_in_one_statement(
        self, hold: Hold, user_id: int, cost: int, request_id: str, usage: dict[str, Any], now: datetime
    ) -> Settlement | None:
        """The common case on PostgreSQL; None when the hold was already closed (then: the general path)."""
        params = self._usage_params(request_id, user_id, cost, 0, usage, now)
        params.update({"hold_id": hold.id, "release": hold.amount})
        row = await self.sql.fetchrow_once(q.PG_SETTLE, params)
        if row is None:
            return None
        after, threshold = int(row[0]), row[1]
        if threshold is not None and after + cost >= threshold > after:
            data = json.dumps({"balance": after, "threshold": int(threshold)})
            await self.sql.fetchrow_once(
                q.LOW_BALANCE["postgresql"] + " RETURNING id", {"user_id": user_id, "data": data, "now": now}
            )
        return Settlement(cost, after, 0)

    async def record_free(self, *, request_id: str, user_id: int, usage: dict[str, Any]) -> None:
        try:
            async with self.sql.transaction() as tx:
                await self._usage(tx, request_id, user_id, 0, 0, usage, utcnow())
        except Exception as exc:
            if is_duplicate_usage(exc):
                raise AlreadySettled(request_id) from exc
            raise

    @staticmethod
    async def _unhold(tx: Tx, user_id: int, release: int, now: datetime) -> tuple[Any, ...]:
        params = {"release": release, "user_id": user_id, "now": tx.ts(now)}
        row = await tx.fetchrow(q.UNHOLD, params)
        if row is None:  # no account yet (a free request of a new user)
            await tx.execute(q.ACCOUNT_ROW, {"user_id": user_id, "now": tx.ts(now)})
            row = await tx.fetchrow(q.UNHOLD, params)
        assert row is not None
        return row

    @staticmethod
    def _usage_params(
        request_id: str, user_id: int, cost: int, uncollected: int, usage: dict[str, Any], created_at: Any
    ) -> dict[str, Any]:
        row: dict[str, Any] = dict.fromkeys(q.USAGE_COLUMNS)
        row.update(prompt_tokens=0, completion_tokens=0, cached_tokens=0, estimated=False, stream=False, images=0)
        row.update(usage)
        row.update(request_id=request_id, user_id=user_id, cost=cost, uncollected=uncollected, created_at=created_at)
        return row

    async def _usage(
        self, tx: Tx, request_id: str, user_id: int, cost: int, uncollected: int, usage: dict[str, Any], now: datetime
    ) -> None:
        await tx.execute(q.USAGE, self._usage_params(request_id, user_id, cost, uncollected, usage, tx.ts(now)))
