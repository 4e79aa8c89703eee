"""Group commit of lease settlements: the charges of many requests in one transaction.

Each request's settlement (its usage record, its ledger row, its charge taken out of `held` and
out of its lease row) is queued; one writer task writes everything queued in ONE transaction, with
one UPDATE per account and per lease however many requests they carry, and wakes each request
when the transaction has committed: the answer goes out only once its charge is durable. While
a transaction runs (a round trip on PostgreSQL), the next requests queue up for the next one, so
under load a commit carries many requests and with one request it is written at once.

Exactly once: the usage record's unique request id is inserted first, with ON CONFLICT DO NOTHING;
a request already recorded (a retry after a commit that was not seen) is charged nothing again.
A lease that is no longer held (a process presumed dead whose lease was released) fails only its
own requests, with `LeaseGone`: those are settled on the general path (charged from what is
available), the rest of the batch is written without them.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import structlog

from gatewayz.billing.hold_sql import ENTRY, LOW_BALANCE, USAGE, USAGE_COLUMNS
from gatewayz.billing.holds import AlreadySettled, HoldLedger, Settlement
from gatewayz.storage.fastsql import Tx
from gatewayz.storage.types import utcnow

log = structlog.get_logger("gatewayz.billing.batch")

MAX_BATCH = 256

_SEEN = "SELECT request_id FROM usage_records WHERE request_id IN ({ids})"
_PG_TYPES = {
    "user_id": "bigint", "key_id": "bigint", "prompt_tokens": "bigint", "completion_tokens": "bigint",
    "cached_tokens": "bigint", "cost": "bigint", "uncollected": "bigint", "estimated": "boolean",
    "stream": "boolean", "status": "bigint", "latency_ms": "bigint", "ttft_ms": "bigint", "images": "bigint",
    "created_at": "timestamptz",
}
_PG_USAGE_ONCE = (
    f"INSERT INTO usage_records ({', '.join(USAGE_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"${i + 1}::{_PG_TYPES.get(c, 'varchar')}[]" for i, c in enumerate(USAGE_COLUMNS))
    + ") ON CONFLICT (request_id) DO NOTHING RETURNING request_id"
)
_LEASE_TAKE = "UPDATE credit_holds SET amount = amount - :total WHERE id = :id AND status = 'held'"
_ACCOUNT_CHARGE = (
    "UPDATE credit_accounts SET balance = balance - :total, held = held - :total, "
    "expiring = CASE WHEN expiring < :total THEN 0 ELSE expiring - :total END, updated_at = :now "
    "WHERE user_id = :user_id RETURNING balance, low_balance_threshold"
)


@dataclass(frozen=True, slots=True)
class LeaseCharge:
    """One request's settlement against a lease (what to charge was decided in memory)."""

    lease_id: int
    user_id: int
    charged: int
    uncollected: int
    request_id: str
    usage: dict[str, Any]


class LeaseGone(Exception):
    """The request's lease is no longer held: settle it on the general path."""


class _LeasesGone(Exception):
    def __init__(self, lease_ids: set[int]) -> None:
        self.lease_ids = lease_ids


_Queued = tuple[LeaseCharge, "asyncio.Future[Settlement]"]


class SettlementBatcher:
    def __init__(self, holds: HoldLedger) -> None:
        self.holds = holds
        self._queue: list[_Queued] = []
        self._writer: asyncio.Task[None] | None = None
        self.commits = 0  # transactions written and requests they carried (for tests and metrics)
        self.settled = 0

    async def settle(self, charge: LeaseCharge) -> Settlement:
        """Write `charge` (with whatever else is queued); raises AlreadySettled, LeaseGone or the
        database's error."""
        future: asyncio.Future[Settlement] = asyncio.get_running_loop().create_future()
        self._queue.append((charge, future))
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_queued())
        return await asyncio.shield(future)

    async def drain(self) -> None:
        if self._writer is not None:
            await asyncio.shield(self._writer)

    async def _write_queued(self) -> None:
        try:
            await asyncio.sleep(0)  # requests that finish in this loop iteration join the same commit
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                await self._write_batch(batch)
        finally:
            self._writer = None

    async def _write_batch(self, batch: list[_Queued]) -> None:
        while batch:
            try:
                results = await self._write([charge for charge, _ in batch])
            except _LeasesGone as gone:
                rest = []
                for charge, future in batch:
                    if charge.lease_id in gone.lease_ids:
                        _fail(future, LeaseGone(charge.request_id))
                    else:
                        rest.append((charge, future))
                batch = rest
                continue
            except Exception as exc:
                for _, future in batch:
                    _fail(future, exc)
                return
            self.commits += 1
            self.settled += len(batch)
            for charge, future in batch:
                result = results.get(charge.request_id)
                if result is None:
                    _fail(future, AlreadySettled(charge.request_id))
                elif not future.done():
                    future.set_result(result)
            return

    async def _write(self, charges: list[LeaseCharge]) -> dict[str, Settlement]:
        sql = self.holds.sql
        now = utcnow()
        async with sql.transaction() as tx:
            fresh = await self._insert_usage(tx, charges, now)
            todo = [c for c in charges if c.request_id in fresh]
            if not todo:
                return {}
            await self._take_from_leases(tx, todo)
            return await self._charge_accounts(tx, todo, now)

    async def _insert_usage(self, tx: Tx, charges: list[LeaseCharge], now: Any) -> set[str]:
        rows = [
            HoldLedger._usage_params(c.request_id, c.user_id, c.charged, c.uncollected, c.usage, tx.ts(now))
            for c in charges
        ]
        if tx.dialect == "postgresql":
            columns = [[row[name] for row in rows] for name in USAGE_COLUMNS]
            return {r[0] for r in await tx.fetch_positional(_PG_USAGE_ONCE, columns)}  # type: ignore[attr-defined]
        # SQLite: this transaction holds the database's write lock, so what is not there now cannot
        # appear before the insert (two statements per batch instead of one per request)
        ids = {f"r{i}": row["request_id"] for i, row in enumerate(rows)}
        seen = await tx.fetchall(_SEEN.format(ids=", ".join(f":{name}" for name in ids)), ids)
        existing = {r[0] for r in seen}
        fresh = [row for row in rows if row["request_id"] not in existing]
        await tx.executemany(USAGE, fresh)
        return {row["request_id"] for row in fresh}

    @staticmethod
    async def _take_from_leases(tx: Tx, charges: list[LeaseCharge]) -> None:
        totals: dict[int, int] = defaultdict(int)
        for c in charges:
            totals[c.lease_id] += c.charged
        gone = set()
        for lease_id in sorted(totals):
            if not await tx.execute(_LEASE_TAKE, {"id": lease_id, "total": totals[lease_id]}):
                gone.add(lease_id)
        if gone:
            raise _LeasesGone(gone)

    @staticmethod
    async def _charge_accounts(tx: Tx, charges: list[LeaseCharge], now: Any) -> dict[str, Settlement]:
        by_user: dict[int, list[LeaseCharge]] = defaultdict(list)
        for c in charges:
            by_user[c.user_id].append(c)
        results: dict[str, Settlement] = {}
        entries: list[dict[str, Any]] = []
        stamp = tx.ts(now)
        for user_id in sorted(by_user):  # one lock order for every writer: no deadlocks between processes
            mine = by_user[user_id]
            total = sum(c.charged for c in mine)
            row = await tx.fetchrow(_ACCOUNT_CHARGE, {"user_id": user_id, "total": total, "now": stamp})
            assert row is not None, "a lease exists only for an existing account"
            after_all, threshold = int(row[0]), row[1]
            balance = after_all + total
            for c in mine:
                after = balance - c.charged
                results[c.request_id] = Settlement(c.charged, after, c.uncollected)
                if c.charged:
                    entries.append({"user_id": user_id, "amount": -c.charged, "before": balance, "after": after,
                                    "reference": c.request_id, "now": stamp})
                balance = after
            if threshold is not None and after_all + total >= threshold > after_all:
                data = json.dumps({"balance": after_all, "threshold": int(threshold)})
                await tx.execute(LOW_BALANCE[tx.dialect], {"user_id": user_id, "data": data, "now": stamp})
        if entries:
            await tx.executemany(ENTRY, entries)
        return results


def _fail(future: asyncio.Future[Settlement], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
        future.exception()  # retrieved: a caller that went away leaves no "never retrieved" warning
