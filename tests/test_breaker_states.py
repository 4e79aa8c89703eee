"""The circuit breaker's state machine: every probe ends, whatever its outcome."""

from __future__ import annotations

import time

from gatewayz.providers.breaker import Breakers


def _half_open(probe_timeout: float | None = None) -> Breakers:
    breakers = Breakers(threshold=1, cooldown=0.05, probe_timeout=probe_timeout)
    breakers.failure("p")
    assert breakers.admit("p") == "open"
    time.sleep(0.06)
    assert breakers.status("p") == "half-open"
    return breakers


def test_one_probe_at_a_time_and_success_closes() -> None:
    breakers = _half_open()
    assert breakers.admit("p") == "probe"
    assert breakers.admit("p") == "open"  # the probe is out
    breakers.success("p", 0.1)
    assert breakers.admit("p") == "closed" and breakers.status("p") == "closed"


def test_a_failed_probe_opens_for_another_cooldown() -> None:
    breakers = _half_open()
    assert breakers.admit("p") == "probe"
    breakers.failure("p")
    assert breakers.status("p") == "open" and breakers.admit("p") == "open"
    time.sleep(0.06)
    assert breakers.admit("p") == "probe"


def test_a_released_probe_lets_the_next_request_probe() -> None:
    breakers = _half_open()
    assert breakers.admit("p") == "probe"
    breakers.release("p")  # cancelled, or a 429: no verdict
    assert breakers.status("p") == "half-open"
    assert breakers.admit("p") == "probe"
    assert breakers.admit("p") == "open"


def test_a_probe_that_never_reports_back_expires() -> None:
    breakers = _half_open(probe_timeout=0.05)
    assert breakers.admit("p") == "probe"
    assert breakers.admit("p") == "open"
    time.sleep(0.06)
    assert breakers.admit("p") == "probe"  # the lost probe no longer blocks the provider


def test_a_lost_probe_waits_at_least_another_cooldown_by_default() -> None:
    breakers = Breakers(threshold=1, cooldown=0.05)
    breakers.failure("p")
    time.sleep(0.06)
    assert breakers.admit("p") == "probe"
    time.sleep(0.06)
    assert breakers.admit("p") == "open"  # the default expiry has a floor of a few seconds


def test_closed_breakers_count_consecutive_failures() -> None:
    breakers = Breakers(threshold=3, cooldown=30)
    for _ in range(2):
        breakers.failure("p")
    assert breakers.admit("p") == "closed"
    breakers.success("p")
    for _ in range(2):
        breakers.failure("p")
    assert breakers.admit("p") == "closed"
    breakers.failure("p")
    assert breakers.admit("p") == "open"
    assert breakers.available("p") is False
