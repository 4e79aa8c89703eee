"""The sliding-window algorithm, run on both implementations (in process and the Redis Lua script)
with an injected clock: every assertion holds for both, which is what "same semantics" means."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gatewayz.limits.windows import CONCURRENCY_RETRY_MS, Correction
from tests.unit.limiter_support import T0, Backend, backend_named, concurrent_check, window_check

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(params=["local", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    async with backend_named(request.param) as b:
        yield b


async def _burst(b: Backend, checks: list, now: int, count: int, **kw: int) -> list[bool]:
    return [(await b.admit(checks, now, **kw))[0] for _ in range(count)]


async def test_boundary_burst_does_not_double_the_limit(backend: Backend) -> None:
    rpm = [window_check(backend.k("rpm"), "requests", 60)]
    assert all(await _burst(backend, rpm, T0 + 59_500, 60))  # 0:59.5 - end of the first minute
    allowed, [outcome] = await backend.admit(rpm, T0 + 59_500)
    assert not allowed and outcome.used == 60
    # 1:00.5 - a fixed window would have reset here and let 60 more through.
    assert not any(await _burst(backend, rpm, T0 + 60_500, 60))
    allowed, [outcome] = await backend.admit(rpm, T0 + 60_500)
    # The burst sits in the 0:59 bucket, counted until 2:00 (one minute + at most one 1 s bucket).
    assert outcome.retry_ms == T0 + 120_000 - (T0 + 60_500)
    assert not (await backend.admit(rpm, T0 + 119_999))[0]
    assert all(await _burst(backend, rpm, T0 + 120_000, 60))


async def test_the_window_slides(backend: Backend) -> None:
    rpm = [window_check(backend.k("rpm"), "requests", 60)]
    assert all(await _burst(backend, rpm, T0, 30))
    assert all(await _burst(backend, rpm, T0 + 30_000, 30))
    assert not (await backend.admit(rpm, T0 + 60_000))[0]  # still 60 in the last minute (+bucket)
    # At 1:01 the first 30 have left the window; the second 30 have not.
    results = await _burst(backend, rpm, T0 + 61_000, 31)
    assert results == [True] * 30 + [False]


async def test_remaining_and_reset(backend: Backend) -> None:
    rpm = [window_check(backend.k("rpm"), "requests", 10)]
    allowed, [outcome] = await backend.admit(rpm, T0 + 250)
    assert allowed and outcome.used == 1 and outcome.retry_ms == 0
    # Empty again once this request's bucket (0:00) has expired: at 1:01.
    assert outcome.reset_ms == 61_000 - 250


async def test_all_windows_pass_or_nothing_is_consumed(backend: Backend) -> None:
    minute = window_check(backend.k("rpm"), "requests", 100)
    second = window_check(backend.k("rps"), "requests", 2, "second")
    assert (await backend.admit([minute, second], T0))[0]
    assert (await backend.admit([minute, second], T0))[0]
    allowed, outcomes = await backend.admit([minute, second], T0)
    assert not allowed
    assert outcomes[0].used == 2 and outcomes[0].retry_ms == 0  # the minute window was not charged
    assert outcomes[1].used == 2 and outcomes[1].retry_ms == 1_100  # second windows: 100 ms buckets
    allowed, outcomes = await backend.admit([minute, second], T0 + 1_100)
    assert allowed and outcomes[0].used == 3


async def test_peek_consumes_nothing(backend: Backend) -> None:
    rpm = [window_check(backend.k("rpm"), "requests", 1), concurrent_check(backend.k("c"), 1)]
    for _ in range(3):
        allowed, outcomes = await backend.admit(rpm, T0, peek=True)
        assert allowed and [o.used for o in outcomes] == [0, 0]
    assert (await backend.admit(rpm, T0))[0]
    _, outcomes = await backend.admit(rpm, T0, peek=True)
    assert [o.used for o in outcomes] == [1, 1]


async def test_token_reservation_is_corrected_by_actual_usage(backend: Backend) -> None:
    tpm = window_check(backend.k("tpm"), "tokens", 1000)
    allowed, [outcome] = await backend.admit([tpm], T0 + 5_000, tokens=900, lease="a")
    assert allowed and outcome.used == 900
    assert not (await backend.admit([tpm], T0 + 6_000, tokens=900))[0]  # the reservation holds
    # The request used 120 tokens: 780 go back to the bucket the reservation was taken from.
    await backend.finish(T0 + 7_000, corrections=[Correction(tpm, (T0 + 5_000) // 1000, 120 - 900)])
    allowed, [outcome] = await backend.admit([tpm], T0 + 8_000, tokens=880)
    assert allowed and outcome.used == 1000


async def test_token_overrun_goes_to_the_current_bucket(backend: Backend) -> None:
    tpm = window_check(backend.k("tpm"), "tokens", 1000)
    allowed, [outcome] = await backend.admit([tpm], T0, tokens=5000)
    assert allowed and outcome.used == 1000  # capped at the limit: admitted into an empty window
    await backend.finish(T0 + 30_000, corrections=[Correction(tpm, T0 // 1000, 5000 - 1000)])
    allowed, [outcome] = await backend.admit([tpm], T0 + 61_000, tokens=1)
    assert not allowed and outcome.used == 4000  # the first 1000 left; the overrun (at 0:30) has not
    assert outcome.retry_ms == 91_000 - 61_000


async def test_refund_after_the_window_moved_on_is_ignored(backend: Backend) -> None:
    tpm = window_check(backend.k("tpm"), "tokens", 1000)
    assert (await backend.admit([tpm], T0, tokens=500))[0]
    assert (await backend.admit([tpm], T0 + 70_000, tokens=500))[0]
    await backend.finish(T0 + 70_500, corrections=[Correction(tpm, T0 // 1000, -500)])  # long gone
    _, [outcome] = await backend.admit([tpm], T0 + 70_500, peek=True)
    assert outcome.used == 500


async def test_concurrency_slots_are_released_on_finish(backend: Backend) -> None:
    c = concurrent_check(backend.k("c"), 2)
    assert (await backend.admit([c], T0, lease="a"))[0]
    assert (await backend.admit([c], T0, lease="b"))[0]
    allowed, [outcome] = await backend.admit([c], T0, lease="c")
    assert not allowed and outcome.used == 2 and outcome.retry_ms == CONCURRENCY_RETRY_MS
    await backend.finish(T0 + 10, releases=[c], lease="a")
    assert (await backend.admit([c], T0 + 20, lease="c"))[0]
    assert not (await backend.admit([c], T0 + 20, lease="d"))[0]


async def test_a_lost_lease_expires(backend: Backend) -> None:
    c = concurrent_check(backend.k("c"), 1, lease_ms=5_000)
    assert (await backend.admit([c], T0, lease="crashed"))[0]
    assert not (await backend.admit([c], T0 + 4_999, lease="b"))[0]
    assert (await backend.admit([c], T0 + 5_000, lease="b"))[0]


async def test_long_idle_windows_start_empty(backend: Backend) -> None:
    day = window_check(backend.k("rpd"), "requests", 3, "day")
    assert all(await _burst(backend, [day], T0, 3))
    assert not (await backend.admit([day], T0 + 86_400_000))[0]  # within day + one 10 min bucket
    allowed, [outcome] = await backend.admit([day], T0 + 86_400_000 + 600_000)
    assert allowed and outcome.used == 1


async def test_the_in_process_limiter_forgets_idle_windows() -> None:
    async with backend_named("local") as b:
        for i in range(50):
            await b.admit([window_check(f"idle-{i}", "requests", 5, "second")], T0)
        assert len(b.local) == 50
        busy = [window_check("busy", "requests", 10**9)]
        for i in range(5000):  # a while later, traffic on one key only
            await b.admit(busy, T0 + 120_000 + i)
        assert len(b.local) == 1
