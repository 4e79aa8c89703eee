"""The limiting algorithm, in process. `redis_limiter.py` runs the very same steps in Lua.

Algorithm: a sliding window counted in fixed sub-buckets ("sliding window with buckets").
A window of length T is split into N buckets of width w = T/N (1 s for a minute). Admission at
time `now` (bucket `cur`) counts buckets cur-N .. cur, i.e. everything admitted since the start
of the bucket that holds `now - T`. So:

* never more than `limit` is admitted in ANY interval of length T (no burst at a boundary: the
  60 requests sent at 0:59 are still counted at 1:01);
* the error is one-sided and bounded by one bucket: a request is remembered for at least T and
  at most T + w, so capacity comes back at most w later than an exact sliding log would give it
  (1 s for minute windows, 100 ms for second, 30 s for hour, 10 min for day windows).

State per window: a running total, the oldest and newest bucket indices, and the bucket counts;
expired buckets are dropped as time passes (amortised O(1) per request, O(N) only for the
retry-after walk of a rejected request). Concurrency is a set of leases that carry an expiry, so a
crashed process cannot hold slots for ever. Token windows take a reservation at admission and a
correction at finish: a refund goes back into the admission bucket, an overrun into the current one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import NamedTuple

from gatewayz.limits.config import Kind

CONCURRENCY_RETRY_MS = 500  # when the only answer is "when someone finishes": a short hint
SWEEP_EVERY_OPS = 4096
SWEEP_EVERY_MS = 60_000


@dataclass(frozen=True, slots=True)
class Check:
    """One counter a request must fit in."""

    key: str  # storage key: the same counter in every process
    kind: Kind
    limit: int
    window_ms: int  # for "concurrent": the lease lifetime
    bucket_ms: int  # 0 for "concurrent"
    window: str  # "second" | "minute" | "hour" | "day" | "concurrent"
    label: str  # for people: "requests per minute (key 5, model gpt-4o)"
    scope: str = ""  # "global" | "user" | "key"
    dimension: str = ""  # "" (everything), "endpoint:chat", "model:gpt-4o"
    buckets: int = field(init=False)  # N = window / bucket width (precomputed: hot path)

    def __post_init__(self) -> None:
        object.__setattr__(self, "buckets", self.window_ms // self.bucket_ms if self.bucket_ms else 0)

    def cost(self, tokens: int) -> int:
        """A token reservation larger than the whole limit is capped at the limit, so a big request
        is admitted into an empty window (and the correction then makes later ones wait), instead
        of never."""
        return min(max(tokens, 0), self.limit) if self.kind == "tokens" else 1


class Outcome(NamedTuple):  # a tuple: built for every window of every request
    used: int  # counted in the window (including this request if it was admitted)
    reset_ms: int  # until the window is empty again (0: already empty)
    retry_ms: int  # when rejected: until this request would fit (0 otherwise)


@dataclass(frozen=True, slots=True)
class Correction:
    """Finish-time fix of a token reservation: `delta` = actual - reserved."""

    check: Check
    admitted_bucket: int
    delta: int


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class _Window:
    __slots__ = ("bucket_ms", "buckets", "n", "newest", "oldest", "total")

    def __init__(self, cur: int, n: int, bucket_ms: int) -> None:
        self.buckets: dict[int, int] = {}
        self.total = 0
        self.oldest = cur
        self.newest = cur
        self.n = n
        self.bucket_ms = bucket_ms


class LocalLimiter:
    """Counters in this process's memory: the fallback, and the whole story without Redis."""

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}
        self._leases: dict[str, dict[str, int]] = {}
        self._ops = 0
        self._swept_at = 0

    # -- windows ---------------------------------------------------------------------------------

    def _roll(self, key: str, cur: int, n: int) -> _Window | None:
        window = self._windows.get(key)
        if window is None:
            return None
        low = cur - n
        if window.oldest < low:
            if window.newest < low:
                del self._windows[key]
                return None
            for b in range(window.oldest, low):
                window.total -= window.buckets.pop(b, 0)
            window.oldest = low
        return window

    def _add(self, check: Check, window: _Window | None, cur: int, amount: int) -> _Window:
        if window is None:
            window = self._windows[check.key] = _Window(cur, check.buckets, check.bucket_ms)
        window.buckets[cur] = window.buckets.get(cur, 0) + amount
        window.total += amount
        window.newest = max(window.newest, cur)
        window.oldest = min(window.oldest, cur)
        return window

    @staticmethod
    def _reset(window: _Window | None, n: int, bucket_ms: int, now: int) -> int:
        if window is None or window.total <= 0:
            return 0
        return (window.newest + n + 1) * bucket_ms - now

    @staticmethod
    def _retry(window: _Window, need: int, cur: int, n: int, bucket_ms: int, now: int) -> int:
        freed = 0
        for b in range(window.oldest, max(window.newest, cur) + 1):
            freed += window.buckets.get(b, 0)
            if freed >= need:
                return (b + n + 1) * bucket_ms - now
        return (n + 1) * bucket_ms

    # -- leases ----------------------------------------------------------------------------------

    def _live_leases(self, key: str, now: int) -> dict[str, int]:
        leases = self._leases.get(key)
        if leases is None:
            return {}
        for lease, expires in list(leases.items()):
            if expires <= now:
                del leases[lease]
        if not leases:
            del self._leases[key]
        return leases

    # -- the two operations ----------------------------------------------------------------------

    def admit(
        self, checks: list[Check], costs: list[int], lease: str, now: int, *, peek: bool = False
    ) -> tuple[bool, list[Outcome]]:
        """All checks pass and are consumed together, or nothing is consumed."""
        self._maybe_sweep(now)
        state: list[tuple[_Window | None, int, int]] = []  # (window, cur, used) per check
        allowed = True
        for check, cost in zip(checks, costs, strict=True):
            if check.kind == "concurrent":
                used = len(self._live_leases(check.key, now))
                state.append((None, 0, used))
            else:
                cur = now // check.bucket_ms
                window = self._roll(check.key, cur, check.buckets)
                used = window.total if window is not None else 0
                state.append((window, cur, used))
            if used + cost > check.limit:
                allowed = False
        outcomes: list[Outcome] = []
        for check, cost, (window, cur, used) in zip(checks, costs, state, strict=True):
            failed = not allowed and not peek and used + cost > check.limit
            if check.kind == "concurrent":
                if allowed and not peek:
                    self._leases.setdefault(check.key, {})[lease] = now + check.window_ms
                    used += 1
                outcomes.append(Outcome(used, 0, CONCURRENCY_RETRY_MS if failed else 0))
                continue
            n = check.buckets
            if allowed and not peek and cost > 0:
                window = self._add(check, window, cur, cost)
                used += cost
            retry = 0
            if failed and window is not None:
                retry = self._retry(window, used + cost - check.limit, cur, n, check.bucket_ms, now)
            outcomes.append(Outcome(used, self._reset(window, n, check.bucket_ms, now), retry))
        return allowed, outcomes

    def finish(self, releases: list[Check], corrections: list[Correction], lease: str, now: int) -> None:
        for check in releases:
            leases = self._leases.get(check.key)
            if leases is not None:
                leases.pop(lease, None)
                if not leases:
                    del self._leases[check.key]
        for fix in corrections:
            check, n = fix.check, fix.check.buckets
            cur = now // check.bucket_ms
            window = self._roll(check.key, cur, n)
            if fix.delta > 0:
                self._add(check, window, cur, fix.delta)
            elif fix.delta < 0 and window is not None:
                held = window.buckets.get(fix.admitted_bucket, 0)
                take = min(-fix.delta, held)
                if take > 0:
                    if held == take:
                        del window.buckets[fix.admitted_bucket]
                    else:
                        window.buckets[fix.admitted_bucket] = held - take
                    window.total -= take

    # -- housekeeping ----------------------------------------------------------------------------

    def _maybe_sweep(self, now: int) -> None:
        """Forget windows nobody touched for longer than they remember (bounded memory)."""
        self._ops += 1
        if self._ops % SWEEP_EVERY_OPS or now - self._swept_at < SWEEP_EVERY_MS:
            return
        self._swept_at = now
        for key, window in list(self._windows.items()):
            if window.newest < now // window.bucket_ms - window.n:
                del self._windows[key]
        for key in list(self._leases):
            self._live_leases(key, now)

    def __len__(self) -> int:
        return len(self._windows) + len(self._leases)
