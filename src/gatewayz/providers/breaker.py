"""Per-provider circuit breaker and latency tracking.

Closed: traffic flows. After `threshold` consecutive failures it opens: the provider is tried
only after every healthy one. After `cooldown` seconds one request is let through as a probe
(half-open); its success closes the breaker, its failure opens it again.

Every probe must end, or the provider would never get traffic again: a probe the provider
answered without a health verdict (a 4xx about the request itself) closes the breaker, since the
provider is up and processing requests; a probe without an answer (the client went away, a 429)
releases the probe slot so the next request probes; and a probe that never reports back at all
expires after another `cooldown` (at least MIN_PROBE_TIMEOUT).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

Admission = Literal["closed", "probe", "open"]


@dataclass(slots=True)
class _State:
    failures: int = 0
    opened_at: float | None = None
    probe_started: float | None = None  # set while a probe is out
    latency_ewma: float | None = None


MIN_PROBE_TIMEOUT = 5.0
"""A probe that has not reported back after max(cooldown, this) seconds is presumed lost."""


class Breakers:
    def __init__(
        self, threshold: int = 5, cooldown: float = 30.0, alpha: float = 0.2, probe_timeout: float | None = None
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.alpha = alpha
        self.probe_timeout = probe_timeout  # None: another cooldown (at least MIN_PROBE_TIMEOUT)
        self._states: dict[str, _State] = {}

    def _state(self, provider: str) -> _State:
        state = self._states.get(provider)
        if state is None:
            state = self._states[provider] = _State()
        return state

    def admit(self, provider: str) -> Admission:
        """"closed": send; "probe": send, this request is the half-open probe; "open": skip if you can."""
        state = self._state(provider)
        if state.opened_at is None:
            return "closed"
        now = time.monotonic()
        if now - state.opened_at < self.cooldown:
            return "open"
        if state.probe_started is not None:
            timeout = self.probe_timeout if self.probe_timeout is not None else max(self.cooldown, MIN_PROBE_TIMEOUT)
            if now - state.probe_started < timeout:
                return "open"  # one probe at a time; a lost one expires
        state.probe_started = now
        return "probe"

    def available(self, provider: str) -> bool:
        """True when closed, or when half-open and no probe is out yet (then this is the probe)."""
        return self.admit(provider) != "open"

    def status(self, provider: str) -> str:
        state = self._state(provider)
        if state.opened_at is None:
            return "closed"
        return "half-open" if time.monotonic() - state.opened_at >= self.cooldown else "open"

    def success(self, provider: str, latency: float | None = None) -> None:
        state = self._state(provider)
        state.failures = 0
        state.opened_at = None
        state.probe_started = None
        if latency is not None:
            previous = state.latency_ewma
            state.latency_ewma = latency if previous is None else previous + self.alpha * (latency - previous)

    def failure(self, provider: str) -> None:
        state = self._state(provider)
        state.failures += 1
        if state.probe_started is not None or state.failures >= self.threshold:
            state.opened_at = time.monotonic()
        state.probe_started = None

    def release(self, provider: str) -> None:
        """The probe ended without a verdict on the provider's health: the next request may probe."""
        self._state(provider).probe_started = None

    def latency(self, provider: str) -> float | None:
        return self._state(provider).latency_ewma
