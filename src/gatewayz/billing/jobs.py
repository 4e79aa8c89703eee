"""Background billing work: keep this process's in-flight holds alive, release holds left by dead
processes, complete settlements that could not be written at the time, expire credit grants.

All are safe to run in every process at once: each change is guarded by a conditional UPDATE, and
settling is idempotent by request id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog

from gatewayz.billing import ledger
from gatewayz.billing.holds import Hold, HoldLedger
from gatewayz.billing.leases import LeaseBook
from gatewayz.billing.settlement import Settler
from gatewayz.storage.db import Database
from gatewayz.storage.types import utcnow

log = structlog.get_logger("gatewayz.billing.jobs")


class BillingJobs:
    def __init__(
        self,
        db: Database,
        holds: HoldLedger,
        interval: float,
        *,
        settler: Settler | None = None,
        live_holds: dict[int, Hold] | None = None,
        hold_ttl: float = 900.0,
        drains: tuple[Callable[[], Awaitable[int]], ...] = (),
        leases: LeaseBook | None = None,
    ) -> None:
        self.db = db
        self.holds = holds
        self.interval = interval
        self.settler = settler
        self.live_holds = live_holds if live_holds is not None else {}
        self.hold_ttl = hold_ttl
        self.drains = drains  # other records kept for later after a failed write (stored responses)
        self.leases = leases
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> tuple[int, int]:
        now = utcnow()
        if self.live_holds:  # a request still running here keeps its money reserved, however long it takes
            await self.holds.extend(list(self.live_holds), now + timedelta(seconds=self.hold_ttl))
        if self.leases is not None:
            await self.leases.return_idle()
            if self.leases.live:  # this process is alive: its leases stay held
                await self.holds.extend(self.leases.expiring_ids(), self.leases.expires_at())
        if self.settler is not None:
            settled = await self.settler.drain()
            if settled:
                log.warning("pending_settlements_completed", count=settled)
        for drain in self.drains:
            completed = await drain()
            if completed:
                log.warning("deferred_writes_completed", count=completed, kind=getattr(drain, "__qualname__", ""))
        async with self.db.session() as session:
            stale = await ledger.expired_holds(session, now)
        released = 0
        for hold in stale:
            released += await self.holds.release(hold, "expired")
        async with self.db.transaction() as session:
            expired = await ledger.expire_due_grants(session, now)
        if released or expired:
            log.info("billing_jobs", released_holds=released, expired_grants=expired)
        return released, expired

    def health(self) -> dict[str, object]:
        """This process's money path, for /health/ready (the figures are shown to admins only)."""
        report: dict[str, object] = {"status": "ok"}
        if self.settler is not None:
            batcher = self.settler.batcher
            report.update(settlements_deferred=self.settler.deferred, group_commits=batcher.commits,
                          grouped_settlements=batcher.settled)
        if self.leases is not None:
            report["credit_leases"] = len(self.leases.live)
        return report

    async def settler_drain(self) -> None:
        """Wait for the settlements being written (the group commit) to finish."""
        if self.settler is not None:
            await self.settler.batcher.drain()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="billing-jobs")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run_once()
            except Exception as exc:
                log.warning("billing_jobs_failed", error=str(exc))
