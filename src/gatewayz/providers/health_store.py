"""Sharing live provider health between processes through the database.

Every `interval` seconds each process writes the running totals of its last few minutes (one row
per process, endpoint and minute: counters and histograms, see health.py, replaced in place),
reads the other processes' rows for those minutes, and takes minutes older than that as final;
rows older than a day are deleted. A figure reaches every replica within one interval and
survives restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import orjson
import structlog

from gatewayz.providers.health import Bucket, LiveHealth, minute_now
from gatewayz.storage.fastsql import FastSQL
from gatewayz.storage.types import utcnow

log = structlog.get_logger("gatewayz.providers.health")

_WRITE = {
    dialect: (
        "INSERT INTO provider_health (source, provider, model, minute, attempts, failures, bins, created_at) "
        "VALUES (:source, :provider, :model, :minute, :attempts, :failures, :bins, :now) "
        "ON CONFLICT (source, provider, model, minute) DO UPDATE SET attempts = excluded.attempts, "
        "failures = excluded.failures, bins = excluded.bins"
    )
    for dialect in ("sqlite", "postgresql")
}
_RECENT = (
    "SELECT provider, model, minute, attempts, failures, bins FROM provider_health "
    "WHERE minute >= :since AND source != :source"
)
_OLD = (
    "SELECT provider, model, minute, attempts, failures, bins FROM provider_health "
    "WHERE minute >= :since AND minute < :until"
)
_PRUNE = "DELETE FROM provider_health WHERE minute < :before"
RECENT_MINUTES = 3  # minutes kept open: a process's row for one may still change
DAY_MINUTES = 1441


def _buckets(rows: list[tuple[Any, ...]]) -> list[tuple[tuple[str, str], int, Bucket]]:
    out = []
    for provider, model, minute, attempts, failures, bins in rows:
        try:
            bucket = Bucket.from_row(attempts, failures, orjson.loads(bins))
        except (ValueError, TypeError, AttributeError):
            continue  # a row this version cannot read: skipped, not fatal
        out.append(((str(provider), str(model)), int(minute), bucket))
    return out


class HealthStore:
    def __init__(self, sql: FastSQL, health: LiveHealth, interval: float = 15.0) -> None:
        self.sql = sql
        self.health = health
        self.interval = interval
        self.source = uuid.uuid4().hex[:16]
        self._loaded = False
        self._runs = 0
        self._task: asyncio.Task[None] | None = None

    async def sync(self) -> None:
        """Write this process's recent minutes, read the other processes' ones, settle old ones."""
        now = minute_now()
        final = now - RECENT_MINUTES
        if not self._loaded:  # at start: the day so far, every process's (final minutes)
            async with self.sql.transaction() as tx:
                rows = await tx.fetchall(_OLD, {"since": now - DAY_MINUTES, "until": final})
            for endpoint, minute, bucket in _buckets(rows):
                self.health.merge(endpoint, minute, bucket)
            self._loaded = True
        written = self.health.written()
        async with self.sql.transaction() as tx:
            if written:
                stamp = tx.ts(utcnow())
                await tx.executemany(_WRITE[tx.dialect], [
                    {"source": self.source, "provider": provider, "model": model, "minute": minute,
                     "attempts": bucket.attempts, "failures": bucket.failures,
                     "bins": orjson.dumps(bucket.as_json(), option=orjson.OPT_NON_STR_KEYS).decode(), "now": stamp}
                    for (provider, model), minute, bucket in written
                ])
            rows = await tx.fetchall(_RECENT, {"since": final - 2, "source": self.source})
        self.health.replace_recent(_buckets(rows))
        self.health.graduate(final)
        self._runs += 1
        if self._runs % 100 == 1:
            async with self.sql.transaction() as tx:
                await tx.execute(_PRUNE, {"before": now - DAY_MINUTES})

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="provider-health")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.sync()  # what this process measured is not lost with it

    async def _run(self) -> None:
        while True:
            try:
                await self.sync()
            except Exception as exc:
                log.warning("provider_health_sync_failed", error=str(exc)[:300])
            await asyncio.sleep(self.interval)
