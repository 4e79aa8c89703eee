"""The Lua script and the in-process limiter give identical answers to identical histories, and
the shared guarantee holds: never more than the limit in any interval of one window length."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from gatewayz.limits.windows import Check, Correction
from tests.unit.limiter_support import T0, Backend, backend_named, concurrent_check, window_check

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _checks(b: Backend) -> list[Check]:
    return [
        window_check(b.k("rpm"), "requests", 20),
        window_check(b.k("rps"), "requests", 3, "second"),
        window_check(b.k("tpm"), "tokens", 500),
        window_check(b.k("tph"), "tokens", 2000, "hour"),
        concurrent_check(b.k("c"), 4, lease_ms=3_000),
    ]


@dataclass
class Held:
    lease: str
    picks: list[int]
    costs: list[int]
    admitted_at: int


def _step(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.5:
        return rng.randrange(0, 150)
    if roll < 0.85:
        return rng.randrange(0, 5_000)
    if roll < 0.98:
        return rng.randrange(0, 90_000)
    return rng.randrange(0, 7_200_000)


@pytest.mark.parametrize("seed", range(6))
async def test_lua_and_local_agree_on_random_histories(seed: int) -> None:
    rng = random.Random(seed)
    async with backend_named("local") as local, backend_named("redis") as remote:
        sides = [(local, _checks(local)), (remote, _checks(remote))]
        now, held, admitted = T0 + rng.randrange(0, 60_000), [], 0
        for op in range(400):
            now += _step(rng)
            if held and rng.random() < 0.35:
                ticket = held.pop(rng.randrange(len(held)))
                actual = rng.randrange(0, 900)
                for backend, checks in sides:
                    picked = [checks[i] for i in ticket.picks]
                    releases = [c for c in picked if c.kind == "concurrent"]
                    corrections = [
                        Correction(c, ticket.admitted_at // c.bucket_ms, actual - cost)
                        for c, cost in zip(picked, ticket.costs, strict=True)
                        if c.kind == "tokens" and actual != cost
                    ]
                    await backend.finish(now, releases=releases, corrections=corrections, lease=ticket.lease)
                continue
            picks = sorted(rng.sample(range(5), rng.randrange(1, 6)))
            tokens, peek, lease = rng.randrange(0, 700), rng.random() < 0.1, f"lease-{op}"
            results = []
            for backend, checks in sides:
                results.append(await backend.admit([checks[i] for i in picks], now, tokens=tokens, lease=lease,
                                                   peek=peek))
            assert results[0] == results[1], f"seed {seed}, op {op}, t+{now - T0} ms, picks {picks}"
            if results[0][0] and not peek:
                admitted += 1
                costs = [_checks(local)[i].cost(tokens) for i in picks]
                held.append(Held(lease, picks, costs, now))
        assert admitted > 50  # the histories exercised admissions, not only refusals


@pytest.mark.parametrize("name", ["local", "redis"])
@pytest.mark.parametrize("seed", range(3))
async def test_never_more_than_the_limit_in_any_window(name: str, seed: int) -> None:
    rng = random.Random(seed)
    async with backend_named(name) as backend:
        rps = window_check(backend.k("rps"), "requests", 5, "second")
        now, admitted_at, refused_at = T0, [], []
        for _ in range(600):
            now += rng.choice([0, 0, 1, 7, 33, 90, 250])
            allowed, _ = await backend.admit([rps], now)
            (admitted_at if allowed else refused_at).append(now)
        assert len(admitted_at) > 100 and len(refused_at) > 100
        # Exact upper bound: any interval of 1 s holds at most 5 admissions...
        for i, start in enumerate(admitted_at):
            assert sum(1 for t in admitted_at[i:] if t < start + 1_000) <= 5
        # ...and the error is bounded by one bucket: an exact sliding log refuses when it sees 5
        # admissions in the last 1 s; ours refuses only when it sees 5 in the last 1 s + 100 ms.
        for t in refused_at:
            assert sum(1 for a in admitted_at if t - 1_100 < a <= t) >= 5
