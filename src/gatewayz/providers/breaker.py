"""Per-provider circuit breaker and latency tracking.

Closed: traffic flows. After `threshold` consecutive failures it opens: the provider is tried
only after every healthy one. After `cooldown` seconds one request is let through as a probe
(half-open); its success closes the breaker, its failure opens it again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(slots=True)
class _State:
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False
    latency_ewma: float | None = None


class Breakers:
    def __init__(self, threshold: int = 5, cooldown: float = 30.0, alpha: float = 0.2) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.alpha = alpha
        self._states: dict[str, _State] = {}

    def _state(self, provider: str) -> _State:
        state = self._states.get(provider)
        if state is None:
            state = self._states[provider] = _State()
        return state

    def available(self, provider: str) -> bool:
        """True when closed, or when half-open and no probe is out yet (then this is the probe)."""
        state = self._state(provider)
        if state.opened_at is None:
            return True
        if time.monotonic() - state.opened_at >= self.cooldown and not state.probing:
            state.probing = True
            return True
        return False

    def status(self, provider: str) -> str:
        state = self._state(provider)
        if state.opened_at is None:
            return "closed"
        return "half-open" if time.monotonic() - state.opened_at >= self.cooldown else "open"

    def success(self, provider: str, latency: float | None = None) -> None:
        state = self._state(provider)
        state.failures = 0
        state.opened_at = None
        state.probing = False
        if latency is not None:
            previous = state.latency_ewma
            state.latency_ewma = latency if previous is None else previous + self.alpha * (latency - previous)

    def failure(self, provider: str) -> None:
        state = self._state(provider)
        state.failures += 1
        if state.probing or state.failures >= self.threshold:
            state.opened_at = time.monotonic()
        state.probing = False

    def latency(self, provider: str) -> float | None:
        return self._state(provider).latency_ewma
