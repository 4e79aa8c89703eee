"""Live provider health in one process: windows, percentiles, the unhealthy rule, roll-ups."""

from __future__ import annotations

import time

import pytest

from gatewayz.providers import health as live
from gatewayz.providers.health import Bucket, LiveHealth, percentile


def test_percentiles_land_in_the_bin_of_the_sample() -> None:
    health = LiveHealth()
    for ttft in [0.1] * 90 + [2.0] * 10:
        health.attempt("p", "m", True, ttft)
    figures = health.figures("p", "m")["5m"]
    assert figures.attempts == 100 and figures.error_rate == 0 and figures.uptime == 1
    assert 100 <= figures.ttft_p50_ms < 125  # a bin is 25% wide: its upper bound is reported
    assert 2000 <= figures.ttft_p95_ms < 2500


def test_throughput_and_errors() -> None:
    health = LiveHealth()
    for _ in range(4):
        health.attempt("p", "m", True, 0.2)
        health.throughput("p", "m", 500, 10.0)  # 50 tokens/s
    for _ in range(6):
        health.attempt("p", "m", False)
    figures = health.figures("p", "m")["1h"]
    assert figures.error_rate == pytest.approx(0.6) and figures.uptime == pytest.approx(0.4)
    assert 50 <= figures.throughput_p50 < 62.5
    assert health.unhealthy("p", "m")  # over half failed, with enough attempts
    assert not health.unhealthy("p", "other")


def test_a_few_failures_do_not_make_an_endpoint_unhealthy() -> None:
    health = LiveHealth()
    for _ in range(live.UNHEALTHY_MIN_ATTEMPTS - 1):
        health.attempt("p", "m", False)
    assert not health.unhealthy("p", "m")


def test_old_minutes_roll_up_into_hours_and_leave_the_short_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    health = LiveHealth()
    now = live.minute_now()
    health.merge(("p", "m"), now - 90, Bucket(10, 5))  # an hour and a half ago
    health.merge(("p", "m"), now - 2000, Bucket(7, 7))  # more than a day ago
    health.local[("p", "m")][now] = Bucket(2, 0)
    health.graduate(now - 3)
    windows = health.figures("p", "m")
    assert windows["5m"].attempts == 2
    assert windows["1h"].attempts == 2
    assert windows["24h"].attempts == 12 and windows["24h"].error_rate == pytest.approx(5 / 12)
    assert len(health.hours[("p", "m")]) == 1  # the day-old hour is gone, the other rolled up


def test_figures_are_cached_briefly() -> None:
    health = LiveHealth()
    health.attempt("p", "m", True, 0.1)
    first = health.figures("p", "m")
    health.attempt("p", "m", True, 0.1)
    assert health.figures("p", "m") is first
    health._cache.clear()
    assert health.figures("p", "m")["5m"].attempts == 2


def test_recording_is_cheap() -> None:
    health = LiveHealth()
    started = time.perf_counter()
    for i in range(20_000):
        health.attempt("provider", "model", True, 0.01 * (i % 50))
        health.throughput("provider", "model", 100, 2.0)
    per_request = (time.perf_counter() - started) / 20_000
    assert per_request < 50e-6  # measured ~2 µs here; the bound only catches a gross regression


def test_percentile_of_nothing_is_none() -> None:
    assert percentile({}, live.TTFT_BOUNDS, 0.5) is None
