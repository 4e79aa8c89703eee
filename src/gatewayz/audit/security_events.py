"""Recording security events off the request path.

A failed authentication must not wait for a database write (and a flood of them must not become
a flood of transactions): events go to a queue that a background task writes in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from sqlalchemy import insert

from gatewayz.audit.tables import SecurityEvent
from gatewayz.storage.db import Database
from gatewayz.storage.types import utcnow

log = structlog.get_logger("gatewayz.audit")

MAX_QUEUE = 10_000
BATCH = 500


class SecurityEventWriter:
    def __init__(self, db: Database, flush_interval: float = 0.1) -> None:
        self.db = db
        self.flush_interval = flush_interval
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(MAX_QUEUE)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def record(self, *, event: str, reason: str, status: int, **fields: Any) -> None:
        row = {"event": event, "reason": reason, "status": status, "created_at": utcnow(), **fields}
        for name in ("path", "user_agent"):
            if isinstance(row.get(name), str):
                row[name] = row[name][:512]
        try:
            self._queue.put_nowait(row)
        except asyncio.QueueFull:
            self.dropped += 1
        log.info("security_event", **{("kind" if k == "event" else k): v for k, v in row.items() if k != "created_at"})

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="security-events")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    def _drain(self, limit: int) -> list[dict[str, Any]]:
        return [self._queue.get_nowait() for _ in range(min(limit, self._queue.qsize()))]

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        if not batch:
            return
        try:
            async with self.db.transaction() as session:
                await session.execute(insert(SecurityEvent), batch)
        except Exception as exc:
            log.error("security_events_write_failed", error=str(exc), count=len(batch))

    async def flush(self) -> None:
        while not self._queue.empty():
            await self._write(self._drain(BATCH))

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            await self._write([first, *self._drain(BATCH - 1)])
            await self.flush()
            await asyncio.sleep(self.flush_interval)
