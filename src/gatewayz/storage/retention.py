"""Retention: records older than a setting's days are deleted by the billing job, in small batches
(one short transaction each, a pause between them) so the hot path never waits behind a purge.

`Retention` wraps a purge in the shape of a BillingJobs drain (a callable returning a count, cheap
when called every job interval, purging at most once per `every` seconds, never raising);
`purge_table` is the purge of an append-only table with a `created_at` index (audit records,
security events, usage records); conversations have their own (history/conversations.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog

from gatewayz.storage.fastsql import FastSQL
from gatewayz.storage.spool import describe

log = structlog.get_logger("gatewayz.retention")

BATCH_ROWS = 1000
PAUSE_SECONDS = 0.02  # between batches: other writers (SQLite has one write lock) go first
PURGEABLE = {"audit_records", "security_events", "usage_records"}  # table names are never taken from input


class Retention:
    def __init__(self, purge: Callable[[datetime], Awaitable[int]], days: float, *, every: float = 3600.0,
                 name: str = "history", purged: Callable[[str, int, float], Awaitable[None]] | None = None) -> None:
        """`purged(name, rows, days)` records a purge that removed rows (the audit trail's system record)."""
        if days <= 0:
            raise ValueError("retention days must be positive (unset means keep forever)")
        self.purge, self.days, self.every, self.name, self.purged = purge, days, every, name, purged
        self._last: float | None = None

    async def __call__(self) -> int:
        now = time.monotonic()
        if self._last is not None and now - self._last < self.every:
            return 0
        self._last = now
        try:
            purged = await self.purge(datetime.now(UTC) - timedelta(days=self.days))
            if purged and self.purged is not None:
                await self.purged(self.name, purged, self.days)
        except Exception as exc:
            log.error(f"{self.name}_retention_failed", error=describe(exc))
            return 0
        if purged:
            log.info(f"{self.name}_retention_purged", rows=purged, days=self.days)
        return purged


def purge_table(sql: FastSQL, table: str) -> Callable[[datetime], Awaitable[int]]:
    """Delete `table`'s rows created before the cutoff, BATCH_ROWS at a time, oldest first."""
    if table not in PURGEABLE:
        raise ValueError(f"no retention for {table!r}")
    statement = (f"DELETE FROM {table} WHERE id IN "
                 f"(SELECT id FROM {table} WHERE created_at < :cutoff ORDER BY created_at LIMIT {BATCH_ROWS})")

    async def purge(cutoff: datetime) -> int:
        purged = 0
        while True:
            async with sql.transaction() as tx:
                deleted = await tx.execute(statement, {"cutoff": tx.ts(cutoff)})
            purged += deleted
            if deleted < BATCH_ROWS:
                return purged
            await asyncio.sleep(PAUSE_SECONDS)

    return purge
