"""Live provider health per endpoint (provider, model): time to first token, output throughput,
error rate and uptime over 5 minutes, 1 hour and 24 hours.

Every relayed request adds one attempt (and every failed attempt of a failover one more) to the
current minute's bucket of its endpoint: two counters and a bin of two log-spaced histograms
(bins 25% wide, so a percentile is known to within a bin), a few microseconds on the hot path.
Each process writes its recent minutes to the database every few seconds (`health_store.py`)
and reads the others', so every replica sees the same figures.
Routing reads them: `provider.sort` by latency or throughput, and endpoints whose recent error
rate is over the threshold go last (before their circuit breaker ever opens).
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

GROWTH = 1.25
TTFT_BOUNDS = tuple(0.001 * GROWTH**i for i in range(64))  # seconds: 1 ms … ~1.6 h
TPS_BOUNDS = tuple(0.1 * GROWTH**i for i in range(64))  # tokens/s: 0.1 … ~160,000
WINDOWS = {"5m": 5, "1h": 60, "24h": 1440}  # in minutes
UNHEALTHY_ERROR_RATE = 0.5  # over the last 5 minutes ...
UNHEALTHY_MIN_ATTEMPTS = 5  # ... with at least this many attempts
FIGURES_TTL_SECONDS = 2.0

Endpoint = tuple[str, str]  # (provider, upstream model)


def minute_now() -> int:
    return int(time.time() // 60)


@dataclass(slots=True)
class Bucket:
    """One minute of one endpoint (from one process, or merged)."""

    attempts: int = 0
    failures: int = 0
    ttft: dict[int, int] = field(default_factory=dict)  # histogram bin -> count
    tps: dict[int, int] = field(default_factory=dict)

    def add(self, other: Bucket) -> None:
        self.attempts += other.attempts
        self.failures += other.failures
        for mine, theirs in ((self.ttft, other.ttft), (self.tps, other.tps)):
            for index, count in theirs.items():
                mine[index] = mine.get(index, 0) + count

    def as_json(self) -> dict[str, Any]:
        return {"ttft": self.ttft, "tps": self.tps}

    @classmethod
    def from_row(cls, attempts: int, failures: int, bins: dict[str, Any]) -> Bucket:
        def counts(name: str) -> dict[int, int]:
            raw = bins.get(name) or {}
            return {int(k): int(v) for k, v in raw.items() if 0 <= int(k) < 64 and int(v) > 0}

        return cls(int(attempts), int(failures), counts("ttft"), counts("tps"))


def percentile(histogram: dict[int, int], bounds: tuple[float, ...], q: float) -> float | None:
    """The upper bound of the bin holding the q-quantile (None without samples)."""
    total = sum(histogram.values())
    if not total:
        return None
    rank, seen = math.ceil(q * total), 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return bounds[min(index, len(bounds) - 1)]
    return bounds[-1]


@dataclass(frozen=True, slots=True)
class Figures:
    """One endpoint over one window."""

    attempts: int
    error_rate: float | None
    uptime: float | None
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    throughput_p50: float | None  # output tokens per second

    def as_json(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "error_rate": None if self.error_rate is None else round(self.error_rate, 4),
            "uptime": None if self.uptime is None else round(self.uptime, 4),
            "ttft_p50_ms": None if self.ttft_p50_ms is None else round(self.ttft_p50_ms, 1),
            "ttft_p95_ms": None if self.ttft_p95_ms is None else round(self.ttft_p95_ms, 1),
            "throughput_p50": None if self.throughput_p50 is None else round(self.throughput_p50, 1),
        }


def figures_of(bucket: Bucket) -> Figures:
    rate = bucket.failures / bucket.attempts if bucket.attempts else None
    ttft50 = percentile(bucket.ttft, TTFT_BOUNDS, 0.5)
    ttft95 = percentile(bucket.ttft, TTFT_BOUNDS, 0.95)
    return Figures(
        bucket.attempts, rate, None if rate is None else 1 - rate,
        None if ttft50 is None else ttft50 * 1000, None if ttft95 is None else ttft95 * 1000,
        percentile(bucket.tps, TPS_BOUNDS, 0.5),
    )


NO_FIGURES = {name: figures_of(Bucket()) for name in WINDOWS}


class LiveHealth:
    def __init__(self) -> None:
        self.local: dict[Endpoint, dict[int, Bucket]] = defaultdict(dict)  # this process's recent minutes
        self.recent: dict[Endpoint, dict[int, Bucket]] = defaultdict(dict)  # other processes' recent rows
        self.shared: dict[Endpoint, dict[int, Bucket]] = defaultdict(dict)  # final minutes, every process
        self.hours: dict[Endpoint, dict[int, Bucket]] = defaultdict(dict)  # older than an hour, by hour
        self._cache: dict[Endpoint, tuple[float, dict[str, Figures]]] = {}

    # -- the hot path --------------------------------------------------------------------------

    def _bucket(self, endpoint: Endpoint) -> Bucket:
        minutes = self.local[endpoint]
        now = minute_now()
        bucket = minutes.get(now)
        if bucket is None:
            bucket = minutes[now] = Bucket()
        return bucket

    def attempt(self, provider: str, model: str, ok: bool, ttft_seconds: float | None = None) -> None:
        """One provider attempt ended: answered (with its time to first byte/token) or failed."""
        bucket = self._bucket((provider, model))
        bucket.attempts += 1
        if not ok:
            bucket.failures += 1
        elif ttft_seconds is not None and ttft_seconds >= 0:
            index = bisect_left(TTFT_BOUNDS, ttft_seconds)
            bucket.ttft[index] = bucket.ttft.get(index, 0) + 1

    def throughput(self, provider: str, model: str, tokens: int, seconds: float) -> None:
        """Output tokens per second of an answered request (generation time after the first token)."""
        if tokens <= 0 or seconds <= 0:
            return
        index = bisect_left(TPS_BOUNDS, tokens / seconds)
        bucket = self._bucket((provider, model))
        bucket.tps[index] = bucket.tps.get(index, 0) + 1

    # -- sharing (see health_store.py) ----------------------------------------------------------
    #
    # `local`: this process's own minutes, kept RECENT_MINUTES (each sync writes their running
    # totals); `recent`: the other processes' rows for those minutes, read anew at each sync;
    # `shared`: older minutes of every process, final; `hours`: older than an hour, by hour.

    def written(self) -> list[tuple[Endpoint, int, Bucket]]:
        """This process's minutes to write (their running totals: the row is replaced each time)."""
        return [(endpoint, minute, bucket) for endpoint, minutes in self.local.items()
                for minute, bucket in minutes.items()]

    def replace_recent(self, rows: list[tuple[Endpoint, int, Bucket]]) -> None:
        """The other processes' rows for the recent minutes, as read just now."""
        recent: dict[Endpoint, dict[int, Bucket]] = defaultdict(dict)
        for endpoint, minute, bucket in rows:
            recent[endpoint].setdefault(minute, Bucket()).add(bucket)
        self.recent = recent
        self._cache.clear()

    def merge(self, endpoint: Endpoint, minute: int, bucket: Bucket) -> None:
        """An old minute read from the database (at start)."""
        self.shared[endpoint].setdefault(minute, Bucket()).add(bucket)
        self._cache.pop(endpoint, None)

    def graduate(self, before: int) -> None:
        """Minutes before `before` are final: recent + local move to `shared`; an hour later they
        become hours (memory: ~60 + 24 buckets per endpoint, not 1,440); a day later they go."""
        now = minute_now()
        for source in (self.recent, self.local):
            for endpoint, minutes in source.items():
                for minute in [m for m in minutes if m < before]:
                    self.shared[endpoint].setdefault(minute, Bucket()).add(minutes.pop(minute))
        for endpoint, minutes in self.shared.items():
            hours = self.hours[endpoint]
            for minute in [m for m in minutes if m <= now - 60]:
                hours.setdefault(minute // 60, Bucket()).add(minutes.pop(minute))
            for hour in [h for h in hours if (h + 1) * 60 <= now - 1440]:
                del hours[hour]
        self._cache.clear()

    # -- reading -----------------------------------------------------------------------------

    def figures(self, provider: str, model: str) -> dict[str, Figures]:
        """The endpoint's figures over each window (cached for a couple of seconds)."""
        endpoint = (provider, model)
        cached = self._cache.get(endpoint)
        if cached is not None and time.monotonic() - cached[0] < FIGURES_TTL_SECONDS:
            return cached[1]
        if not self.known(provider, model):
            return NO_FIGURES  # never relayed to (most of a catalog): nothing to add up
        result = self._windows([endpoint])
        self._cache[endpoint] = (time.monotonic(), result)
        return result

    def known(self, provider: str, model: str) -> bool:
        """Whether any process relayed to the endpoint in the last 24 hours."""
        endpoint = (provider, model)
        return endpoint in self.local or endpoint in self.recent or endpoint in self.shared or endpoint in self.hours

    def provider_figures(self, provider: str) -> dict[str, Figures]:
        """Every endpoint of the provider together."""
        return self._windows([e for e in self.endpoints() if e[0] == provider])

    def _windows(self, endpoints: list[Endpoint]) -> dict[str, Figures]:
        now = minute_now()
        totals = {name: Bucket() for name in WINDOWS}
        for endpoint in endpoints:
            for source in (self.shared, self.recent, self.local):
                for minute, bucket in source.get(endpoint, {}).items():
                    for name, span in WINDOWS.items():
                        if minute > now - span:
                            totals[name].add(bucket)
            for hour, bucket in self.hours.get(endpoint, {}).items():
                for name, span in WINDOWS.items():
                    if span > 60 and (hour + 1) * 60 > now - span:
                        totals[name].add(bucket)
        return {name: figures_of(total) for name, total in totals.items()}

    def endpoints(self) -> list[Endpoint]:
        return sorted(set(self.shared) | set(self.recent) | set(self.local) | set(self.hours))

    def unhealthy(self, provider: str, model: str) -> bool:
        recent = self.figures(provider, model)["5m"]
        return (
            recent.attempts >= UNHEALTHY_MIN_ATTEMPTS
            and recent.error_rate is not None
            and recent.error_rate > UNHEALTHY_ERROR_RATE
        )

    def ttft_ms(self, provider: str, model: str) -> float | None:
        """For `provider.sort = latency`: p50 over 5 minutes, else over the hour."""
        windows = self.figures(provider, model)
        return windows["5m"].ttft_p50_ms or windows["1h"].ttft_p50_ms

    def tokens_per_second(self, provider: str, model: str) -> float | None:
        windows = self.figures(provider, model)
        return windows["5m"].throughput_p50 or windows["1h"].throughput_p50
