"""Shared limits through Redis when it is there, this process's own limits when it is not.

If a Redis call fails the limiter switches to the in-process counters at once (the request is
served, never a 5xx), logs a warning, reports `degraded` in /health/ready, and probes Redis in the
background; when Redis answers again, limits are shared again. While degraded each process
enforces the limits on its own, so N replicas may admit up to N times a limit: the price of
staying up. Counts taken locally are not copied into Redis on recovery.

What Redis must still hear about is kept: a finish (slot release, token correction) of a request
admitted through Redis that could not be sent is queued (bounded) and replayed when the probe
finds Redis back, so an outage of seconds does not leave users at their `concurrent_requests`
limit until the leases time out. A Redis command gives up after REDIS_TIMEOUT_SECONDS, so the
request that meets a hung Redis is answered (from local counters) a fraction of a second later.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from gatewayz.limits.redis_limiter import RedisLimiter
from gatewayz.limits.windows import Check, Correction, LocalLimiter, Outcome, now_ms
from gatewayz.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = structlog.get_logger("gatewayz.limits")

REDIS_TIMEOUT_SECONDS = 0.3  # per command (and per connect): the most a hung Redis delays a request
MAX_PENDING_FINISHES = 10_000  # finishes kept for Redis during an outage; the oldest go first
REPLAY_BATCH = 500  # finishes replayed per pipelined round


def redis_failures() -> tuple[type[BaseException], ...]:
    """What a failing Redis raises. redis is imported on first use: without REDIS_URL it never is."""
    from redis.exceptions import RedisError

    return (RedisError, OSError, asyncio.TimeoutError)


def limiter_redis(settings: Settings) -> Redis | None:
    """The limiter's own client, failing fast: a command or connect that takes longer than
    REDIS_TIMEOUT_SECONDS fails (the request is then counted locally), and only a broken
    connection (a pooled one that died with a Redis restart) is retried, once, at once. The shared
    client's default of 10 retries with backoff, or a timeout of seconds, would hold a request for
    seconds when Redis hangs; here the local fallback is the better answer."""
    if not settings.redis_url:
        return None
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    return Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        decode_responses=False,
    )


@dataclass(frozen=True, slots=True)
class PendingFinish:
    """A finish Redis has not heard of yet (it was degraded, or the call failed)."""

    releases: list[Check]
    corrections: list[Correction]
    lease: str
    now: int


@dataclass(slots=True)
class Ticket:
    """What an admitted request holds, to give back at finish."""

    backend: str  # "redis" | "local"
    lease: str
    checks: list[Check]
    costs: list[int]
    outcomes: list[Outcome]
    allowed: bool
    admitted_at: int = 0  # ms: its bucket is where a token refund goes back

    @property
    def retry_ms(self) -> int:
        return max((o.retry_ms for o in self.outcomes), default=0)


class Limiter:
    def __init__(
        self,
        redis: Redis | None,
        *,
        probe_seconds: float = 1.0,
        clock: Callable[[], int] = now_ms,
        owns_redis: bool = False,
        max_pending: int = MAX_PENDING_FINISHES,
    ) -> None:
        self.local = LocalLimiter()
        self.remote = RedisLimiter(redis) if redis is not None else None
        self.redis = redis
        self.owns_redis = owns_redis
        self.probe_seconds = probe_seconds
        self.clock = clock
        self.degraded_since: float | None = None
        self.last_error: str | None = None
        self._lease_prefix = secrets.token_hex(4)
        self._lease_ids = itertools.count(1)
        self._probe: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: deque[PendingFinish] = deque()
        self.max_pending = max_pending
        self.dropped_finishes = 0

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        if self.remote is not None:
            self._tasks.append(asyncio.create_task(self._load_scripts(), name="rate-limit-load"))

    async def stop(self) -> None:
        if self.remote is not None:
            await self.remote.drain()  # finishes queued by the last requests
        for task in [*self._tasks, *([self._probe] if self._probe else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._probe = None
        if self.owns_redis and self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.aclose()

    async def _load_scripts(self) -> None:
        assert self.remote is not None
        try:
            await self.remote.load()
        except redis_failures() as exc:
            self.degrade(exc)

    # -- state -----------------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        return "redis" if self.remote is not None and self.degraded_since is None else "local"

    def health(self) -> dict[str, Any]:
        """The `rate_limits` check of /health/ready (never fails readiness: we degrade instead)."""
        if self.remote is None:
            return {"status": "local", "backend": "local"}
        if self.degraded_since is None:
            return {"status": "ok", "backend": "redis"}
        return {
            "status": "degraded",
            "backend": "local",
            "degraded_seconds": round(time.monotonic() - self.degraded_since, 3),
            "error": self.last_error,
            "pending_finishes": len(self._pending),
        }

    def degrade(self, exc: BaseException) -> None:
        """Use local counters from now on, and start probing Redis."""
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        if self.remote is None or self.degraded_since is not None:
            return
        self.degraded_since = time.monotonic()
        log.warning("rate_limit_redis_unavailable", backend="local", error=self.last_error)
        with contextlib.suppress(RuntimeError):  # no running loop: the next admission degrades again
            self._probe = asyncio.get_running_loop().create_task(self._probe_loop(), name="rate-limit-probe")

    async def _probe_loop(self) -> None:
        assert self.redis is not None and self.remote is not None
        while True:
            await asyncio.sleep(self.probe_seconds)
            try:
                await self.redis.ping()
                await self.remote.load()
                replayed = await self._replay()
            except redis_failures() as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                continue
            # No await since the queue was found empty: no finish can slip in between.
            down = time.monotonic() - (self.degraded_since or time.monotonic())
            self.degraded_since, self._probe = None, None
            log.warning("rate_limit_redis_restored", backend="redis", degraded_seconds=round(down, 3),
                        replayed_finishes=replayed)  # fmt: skip
            return

    def _defer(self, item: PendingFinish) -> None:
        """Keep a finish for Redis until it is back; bounded, the oldest is dropped first (its
        leases then expire on their own after GATEWAYZ_RATE_LIMIT_LEASE_SECONDS)."""
        if len(self._pending) >= self.max_pending:
            self._pending.popleft()
            self.dropped_finishes += 1
            if self.dropped_finishes == 1 or self.dropped_finishes % 1000 == 0:
                log.warning("rate_limit_finishes_dropped", dropped=self.dropped_finishes, kept=self.max_pending)
        self._pending.append(item)

    async def _replay(self) -> int:
        """Send the queued finishes (in order, pipelined). A Redis failure puts the unsent ones
        back and is raised: the probe keeps going. A release sent twice is harmless (ZREM)."""
        assert self.remote is not None
        replayed = 0
        while self._pending:
            batch = [self._pending.popleft() for _ in range(min(REPLAY_BATCH, len(self._pending)))]
            queued = [(i, self.remote.finish_later(i.releases, i.corrections, i.lease, i.now)) for i in batch]
            sent = [(item, future) for item, future in queued if future is not None]
            results = await asyncio.gather(*(future for _, future in sent), return_exceptions=True)
            failed: list[PendingFinish] = []
            error: BaseException | None = None
            for (item, _), result in zip(sent, results, strict=True):
                if isinstance(result, redis_failures()):
                    failed.append(item)
                    error = error or result
                elif isinstance(result, BaseException):
                    log.error("rate_limit_finish_failed", error=f"{type(result).__name__}: {result}"[:300])
                else:
                    replayed += 1
            if error is not None:
                room = max(self.max_pending - len(self._pending), 0)
                self._pending.extendleft(reversed(failed[:room]))  # back in front, in their order
                raise error
        return replayed

    # -- operations ------------------------------------------------------------------------------

    def new_lease(self) -> str:
        return f"{self._lease_prefix}:{next(self._lease_ids)}"

    async def admit(self, checks: list[Check], tokens: int, *, peek: bool = False) -> Ticket:
        now = self.clock()
        costs = [check.cost(tokens) for check in checks]
        lease = self.new_lease()
        backend = self.backend
        if backend == "redis":
            assert self.remote is not None
            try:
                allowed, outcomes = await self.remote.admit(checks, costs, lease, now, peek=peek)
            except redis_failures() as exc:
                self.degrade(exc)
                backend = "local"
                slots = [c for c in checks if c.kind == "concurrent"]
                if slots and not peek:  # the script may have run with only its reply lost
                    self._defer(PendingFinish(slots, [], lease, now))
        if backend == "local":
            allowed, outcomes = self.local.admit(checks, costs, lease, now, peek=peek)
        return Ticket(backend, lease, checks, costs, outcomes, allowed, now)

    async def finish(self, ticket: Ticket, actual_tokens: int | None) -> None:
        """Release in-flight leases; replace token reservations with `actual_tokens` (if known)."""
        releases = [c for c in ticket.checks if c.kind == "concurrent"]
        corrections: list[Correction] = []
        if actual_tokens is not None:
            for check, cost in zip(ticket.checks, ticket.costs, strict=True):
                if check.kind == "tokens" and actual_tokens != cost:
                    corrections.append(Correction(check, ticket.admitted_at // check.bucket_ms, actual_tokens - cost))
        if not releases and not corrections:
            return
        now = self.clock()
        if ticket.backend == "redis":
            if self.remote is None:
                return
            item = PendingFinish(releases, corrections, ticket.lease, now)
            if self.degraded_since is not None:
                self._defer(item)  # replayed when Redis is back
                return
            future = self.remote.finish_later(releases, corrections, ticket.lease, now)
            if future is not None:
                future.add_done_callback(lambda done: self._finished(item, done))
            return
        self.local.finish(releases, corrections, ticket.lease, now)

    def _finished(self, item: PendingFinish, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            return
        error = future.exception() or future.result()
        if isinstance(error, redis_failures()):
            self._defer(item)
            self.degrade(error)
        elif isinstance(error, Exception):
            log.error("rate_limit_finish_failed", error=f"{type(error).__name__}: {error}"[:300])
