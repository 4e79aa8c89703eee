"""Credit leases: money for many concurrent requests reserved with one statement, spent in memory.

A per-request hold costs a write transaction before every provider call. When a user has several
requests running in this process, the process instead takes a *lease*: one conditional UPDATE
moves a slice of the user's available balance into `held`, recorded as a `credit_holds` row named
`lease:…`. Admission then reserves each request's most-it-can-cost from the lease in memory (the
event loop is single-threaded: two requests can never take the same money), and each settlement
takes what the request cost out of both `held` and the lease row, in the same transaction as its
ledger row (see batch.py).

Why this cannot overspend: the lease row holds at least what this process believes it holds (the
database amount only drops when a charge commits), and the money in it is excluded from every other
hold, lease and deduction by the same `balance - held` condition as a hold. Sizing: a lease is at
most `LEASE_REQUESTS` times the request's need and at most 1/`LEASE_SHARE` of what is available,
and none is taken when less than `LEASE_MIN_MULTIPLE` needs are available: near the end of a
balance every request holds exactly its own amount again. A lease that runs low grows in place
(the same row, locked before the account as every writer does); an idle lease is returned by the
billing job; all are returned at shutdown. A process that dies leaves its leases to expire: the
billing job of any process releases what they still hold after `credit_lease_ttl_seconds`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from gatewayz.billing.holds import Hold, HoldLedger
from gatewayz.storage.types import utcnow

log = structlog.get_logger("gatewayz.billing.leases")

LEASE_REQUESTS = 16  # a lease covers this many requests like the one that asked for it
LEASE_SHARE = 8  # and at most this fraction (1/n) of the user's available balance
LEASE_MIN_MULTIPLE = 64  # no lease unless this many such requests are available
LEASE_IDLE_SECONDS = 5.0  # an unused lease is returned by the billing job after this long (the default)

_AVAILABLE = "SELECT balance - held - expired_pending FROM credit_accounts WHERE user_id = :user_id"
_TAKE = (
    "UPDATE credit_accounts SET held = held + :amount "
    "WHERE user_id = :user_id AND balance - held - expired_pending >= :amount"
)
_GROW = "UPDATE credit_holds SET amount = amount + :amount, expires_at = :expires WHERE id = :id AND status = 'held'"
_LEASE_ROW = (
    "INSERT INTO credit_holds (request_id, user_id, key_id, amount, key_period_start, status, created_at, "
    "expires_at) VALUES (:request_id, :user_id, NULL, :amount, NULL, 'held', :now, :expires) RETURNING id"
)


class _Moved(Exception):
    """The conditional UPDATE found less available than the read before it (rolls the growth back)."""


@dataclass(slots=True)
class Lease:
    """One lease row as this process sees it: `amount` = what it holds after this process's charges
    (the row may hold more while charges are being written), `free` = what no running request has."""

    hold_id: int
    user_id: int
    amount: int
    free: int
    running: int = 0
    used_at: float = field(default_factory=time.monotonic)
    returned: bool = False


@dataclass(frozen=True, slots=True)
class LeaseTicket:
    """One request's reservation inside a lease."""

    lease: Lease
    reserved: int


class LeaseBook:
    """This process's leases, one current lease per user."""

    def __init__(self, holds: HoldLedger, ttl: float, idle_seconds: float = LEASE_IDLE_SECONDS) -> None:
        self.holds = holds
        self.ttl = ttl
        self.idle_seconds = idle_seconds
        self.current: dict[int, Lease] = {}  # by user
        self.live: dict[int, Lease] = {}  # by hold id: every lease not yet returned
        self._opening: dict[int, asyncio.Future[Lease | None]] = {}

    def reserve(self, user_id: int, need: int) -> LeaseTicket | None:
        """A reservation from the user's current lease, if it has `need` free (no I/O)."""
        lease = self.current.get(user_id)
        if lease is None or lease.free < need:
            return None
        lease.free -= need
        lease.running += 1
        lease.used_at = time.monotonic()
        return LeaseTicket(lease, need)

    async def take(self, user_id: int, need: int) -> LeaseTicket | None:
        """A reservation from a lease, opening a new lease if needed; None: hold exactly instead
        (the balance is too low for leasing, or a lease could not be taken)."""
        for _ in range(3):
            ticket = self.reserve(user_id, need)
            if ticket is not None:
                return ticket
            opening = self._opening.get(user_id)
            if opening is None:
                opening = asyncio.get_running_loop().create_future()
                self._opening[user_id] = opening
                try:
                    lease = await self._open(user_id, need)
                except _Moved:
                    lease = None
                except BaseException as exc:
                    opening.set_result(None)
                    if isinstance(exc, Exception):
                        log.warning("credit_lease_failed", user_id=user_id, error=str(exc)[:300])
                        return None
                    raise
                finally:
                    self._opening.pop(user_id, None)
                opening.set_result(lease)
            else:
                lease = await asyncio.shield(opening)
            if lease is None:
                return None
        return None

    async def _open(self, user_id: int, need: int) -> Lease | None:
        """Grow the user's lease (or start one) by up to LEASE_REQUESTS needs: one transaction."""
        lease = self.current.get(user_id)
        now = utcnow()
        async with self.holds.sql.transaction() as tx:
            row = await tx.fetchrow(_AVAILABLE, {"user_id": user_id})
            available = int(row[0]) if row is not None else 0
            if available < need * LEASE_MIN_MULTIPLE:
                return None
            amount = need * min(LEASE_REQUESTS, available // (need * LEASE_SHARE))  # whole requests: none stranded
            expires = tx.ts(now + timedelta(seconds=self.ttl))
            # the lease row first, then the account: the order of every writer (no deadlocks)
            if lease is not None and not await tx.execute(_GROW, {"id": lease.hold_id, "amount": amount,
                                                                   "expires": expires}):
                self.live.pop(lease.hold_id, None)
                lease = None  # released under us (this process was presumed dead): start another
            if not await tx.execute(_TAKE, {"user_id": user_id, "amount": amount}):
                raise _Moved  # another process took the money since the read: hold exactly
            if lease is None:
                created = await tx.fetchrow(_LEASE_ROW, {"request_id": f"lease:{uuid.uuid4().hex}",
                                                         "user_id": user_id, "amount": amount,
                                                         "now": tx.ts(now), "expires": expires})
                assert created is not None
                lease = Lease(int(created[0]), user_id, amount, amount)
                self.current[user_id] = lease
                self.live[lease.hold_id] = lease
                return lease
        lease.amount += amount
        lease.free += amount
        return lease

    def charge(self, ticket: LeaseTicket, cost: int) -> tuple[int, int]:
        """(charged, uncollected) for a request that cost `cost`: a cost above the reservation is
        taken from the lease's free money as far as it goes (a provider that ignored max_tokens)."""
        lease = ticket.lease
        extra = min(max(cost - ticket.reserved, 0), lease.free)
        charged = min(cost, ticket.reserved + extra)
        lease.free += ticket.reserved - charged
        lease.amount -= charged
        return charged, cost - charged

    def release(self, ticket: LeaseTicket) -> None:
        """The request is over (its settlement written, kept, or never needed)."""
        ticket.lease.running -= 1

    def _detach(self, lease: Lease) -> None:
        lease.returned = True  # no reservation from it from now on
        if self.current.get(lease.user_id) is lease:
            del self.current[lease.user_id]

    async def _return(self, lease: Lease) -> None:
        self._detach(lease)
        try:
            await self.holds.release(Hold(lease.hold_id, lease.amount, lease.user_id, None, None))
        except Exception as exc:  # the billing job of some process releases it when it expires
            log.warning("credit_lease_return_failed", hold_id=lease.hold_id, error=str(exc)[:300])
        self.live.pop(lease.hold_id, None)

    async def return_idle(self) -> int:
        """Return leases nobody used for `idle_seconds` (the billing job calls this)."""
        cutoff = time.monotonic() - self.idle_seconds
        idle = [lease for lease in self.current.values() if lease.running == 0 and lease.used_at < cutoff]
        for lease in idle:
            self._detach(lease)  # all of them before the first await: none can be reserved from meanwhile
        for lease in idle:
            await self._return(lease)
        return len(idle)

    async def return_all(self) -> None:
        """At shutdown, once requests are done: give every lease back."""
        done = [lease for lease in self.current.values() if lease.running == 0]
        for lease in done:
            self._detach(lease)
        for lease in done:
            await self._return(lease)

    def expiring_ids(self) -> list[int]:
        """Hold ids of the live leases (the billing job pushes back their expiry)."""
        return list(self.live)

    def expires_at(self) -> datetime:
        return utcnow() + timedelta(seconds=self.ttl)
