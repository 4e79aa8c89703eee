"""Settling a request must never fail into a free request or a lost usage record.

The answer has usually gone out when settlement runs, so a failure cannot be reported to the
client. Instead: retry a few times at once (a lock, a dropped connection); if it still fails, keep
the settlement durably — a `pending_settlements` row, or, when the database cannot take even that,
a line in the data directory's spool file (fsynced) — and log `settlement_deferred` at error
level (the alert). The billing job completes kept settlements. Settling is idempotent by the
gateway's own request id (unique in usage_records), so an attempt that succeeded unnoticed is never
charged twice: the retry finds the usage record and stops.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import structlog

from gatewayz.billing.batch import LeaseCharge, LeaseGone, SettlementBatcher
from gatewayz.billing.holds import AlreadySettled, Hold, HoldLedger, Settlement
from gatewayz.storage.spool import Spool
from gatewayz.storage.types import utcnow

log = structlog.get_logger("gatewayz.billing.settlement")

RETRY_DELAYS = (0.05, 0.25)  # then keep it for the job
SPOOL_NAME = "pending-settlements.jsonl"
_KEEP = "INSERT INTO pending_settlements (request_id, user_id, payload, attempts, created_at) " \
        "VALUES (:request_id, :user_id, :payload, 0, :now)"
_PENDING = "SELECT id, payload, attempts FROM pending_settlements ORDER BY id LIMIT 200"
_DONE = "DELETE FROM pending_settlements WHERE id = :id"
_FAILED = "UPDATE pending_settlements SET attempts = attempts + 1, last_error = :error WHERE id = :id"


def _hold_json(hold: Hold | None) -> dict[str, Any] | None:
    if hold is None:
        return None
    data = asdict(hold)
    for name in ("key_period_start", "cap_period_start"):
        if data[name] is not None:
            data[name] = data[name].isoformat()
    return data


def _hold_from(data: dict[str, Any] | None) -> Hold | None:
    if data is None:
        return None
    start, cap_start = data.get("key_period_start"), data.get("cap_period_start")
    return Hold(
        int(data["id"]), int(data["amount"]), int(data["user_id"]), data.get("key_id"),
        datetime.fromisoformat(start) if start else None,
        data.get("cap_id"), datetime.fromisoformat(cap_start) if cap_start else None,
        data.get("budget_limit"), data.get("cap_limit"),
    )


class Settler:
    """Settles requests through the ledger with retries, keeping what cannot be written now."""

    def __init__(self, holds: HoldLedger, data_dir: Path) -> None:
        self.holds = holds
        self.spool = Spool(data_dir / SPOOL_NAME)
        self.batcher = SettlementBatcher(holds)
        self.deferred = 0  # kept for later by this process (exposed for health/metrics)

    async def settle(
        self, *, hold: Hold | None, user_id: int, cost: int, request_id: str, usage: dict[str, Any]
    ) -> Settlement | None:
        """The settlement, or None when it was kept for the billing job (or was already done)."""
        # the Hold itself: it is turned into JSON only if the settlement has to be kept
        payload = {"kind": "settle", "hold": hold, "user_id": user_id, "cost": cost,
                   "request_id": request_id, "usage": usage}
        return await self._with_retries(payload)

    async def settle_lease(self, charge: LeaseCharge) -> Settlement | None:
        """A request admitted on a lease (see leases.py): written by the group commit."""
        return await self._with_retries({"kind": "lease", "charge": charge, "request_id": charge.request_id,
                                         "user_id": charge.user_id})

    async def record_free(self, *, request_id: str, user_id: int, usage: dict[str, Any]) -> None:
        payload = {"kind": "free", "user_id": user_id, "request_id": request_id, "usage": usage}
        await self._with_retries(payload)

    async def _with_retries(self, payload: dict[str, Any]) -> Settlement | None:
        error: Exception | None = None
        for delay in (0.0, *RETRY_DELAYS):
            if delay:
                await asyncio.sleep(delay)
            try:
                return await self._apply(payload)
            except AlreadySettled:
                return None
            except Exception as exc:
                error = exc
        await self._keep(payload, error)
        return None

    async def _apply(self, payload: dict[str, Any]) -> Settlement | None:
        if payload["kind"] == "lease":
            return await self._apply_lease(payload["charge"])
        usage = payload["usage"]
        if payload["kind"] == "free":
            await self.holds.record_free(request_id=payload["request_id"], user_id=payload["user_id"], usage=usage)
            return None
        hold = payload["hold"]
        if isinstance(hold, dict):  # read back from the table or the spool
            hold = _hold_from(hold)
        return await self.holds.settle(
            hold=hold, user_id=int(payload["user_id"]), cost=int(payload["cost"]),
            request_id=payload["request_id"], usage=usage,
        )

    async def _apply_lease(self, charge: LeaseCharge | dict[str, Any]) -> Settlement:
        if isinstance(charge, dict):  # read back from the table or the spool
            charge = LeaseCharge(**charge)
        try:
            return await self.batcher.settle(charge)
        except LeaseGone:  # its money was released: charge what is available, like a hold that expired
            return await self.holds.settle(hold=None, user_id=charge.user_id, cost=charge.charged + charge.uncollected,
                                           request_id=charge.request_id, usage=charge.usage)

    async def _keep(self, payload: dict[str, Any], error: Exception | None) -> None:
        self.deferred += 1
        if isinstance(payload.get("hold"), Hold):
            payload = {**payload, "hold": _hold_json(payload["hold"])}
        if isinstance(payload.get("charge"), LeaseCharge):
            payload = {**payload, "charge": asdict(payload["charge"])}
        raw = orjson.dumps(payload).decode()
        try:
            async with self.holds.sql.transaction() as tx:
                await tx.execute(_KEEP, {"request_id": payload["request_id"], "user_id": payload["user_id"],
                                         "payload": raw, "now": tx.ts(utcnow())})
            where = "database"
        except Exception as keep_error:
            if "pending_settlements" in str(keep_error) and "UNIQUE" in str(keep_error).upper():
                return  # already kept by an earlier attempt
            await asyncio.to_thread(self.spool.append, raw)
            where = "spool"
        log.error("settlement_deferred", request_id=payload["request_id"], kept_in=where,
                  error=f"{type(error).__name__}: {error}"[:300] if error else None)

    # -- the job's side ------------------------------------------------------------------------

    async def drain(self) -> int:
        """Complete kept settlements (spool first, then the table); returns how many completed."""
        done = await self._drain_spool()
        async with self.holds.sql.transaction() as tx:
            rows = await tx.fetchall(_PENDING, {})
        for row_id, raw, _attempts in rows:
            try:
                await self._apply(orjson.loads(raw))
            except AlreadySettled:
                pass
            except Exception as exc:
                async with self.holds.sql.transaction() as tx:
                    await tx.execute(_FAILED, {"id": row_id, "error": f"{type(exc).__name__}: {exc}"[:500]})
                log.error("settlement_still_failing", pending_id=row_id, error=f"{type(exc).__name__}: {exc}"[:300])
                continue
            async with self.holds.sql.transaction() as tx:
                await tx.execute(_DONE, {"id": row_id})
            done += 1
        return done

    async def _drain_spool(self) -> int:
        """Take the spool (see storage/spool.py: files left by a drainer that died are taken too;
        settling twice is harmless), settle its lines, put back those that still fail."""
        done = 0
        for taken in await asyncio.to_thread(self.spool.take):
            for line in taken.lines:
                try:
                    await self._apply(orjson.loads(line))
                except AlreadySettled:
                    pass
                except Exception:
                    await asyncio.to_thread(self.spool.append, line)
                    continue
                done += 1
            self.spool.finish(taken)
        return done
