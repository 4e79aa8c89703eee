"""Key usage bookkeeping: last-used time and request counts.

Keys with a lifetime request cap are counted with one conditional UPDATE per request, so the cap
holds across processes. Other keys are counted in memory and flushed once a second: it keeps a
database write off the hot path, at the price of up to a second of counts if a process dies.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict

import structlog
from sqlalchemy import update

from gatewayz.accounts.tables import ApiKey
from gatewayz.storage.db import Database
from gatewayz.storage.types import utcnow

log = structlog.get_logger("gatewayz.accounts.activity")


class KeyActivity:
    def __init__(self, db: Database, flush_interval: float = 1.0) -> None:
        self.db = db
        self.flush_interval = flush_interval
        self._pending: dict[int, int] = defaultdict(int)
        self._task: asyncio.Task[None] | None = None

    def touch(self, key_id: int) -> None:
        self._pending[key_id] += 1

    async def consume_capped(self, key_id: int, max_requests: int) -> bool:
        """Count one request against a lifetime cap; False when the cap is already reached."""
        async with self.db.transaction() as session:
            result = await session.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id, ApiKey.request_count < max_requests)
                .values(request_count=ApiKey.request_count + 1, last_used_at=utcnow())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, defaultdict(int)
        now = utcnow()
        try:
            async with self.db.transaction() as session:
                for key_id, count in sorted(pending.items()):
                    await session.execute(
                        update(ApiKey)
                        .where(ApiKey.id == key_id)
                        .values(request_count=ApiKey.request_count + count, last_used_at=now)
                    )
        except Exception as exc:
            log.warning("key_activity_flush_failed", error=str(exc), keys=len(pending))
            for key_id, count in pending.items():
                self._pending[key_id] += count

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="key-activity")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            await self.flush()
