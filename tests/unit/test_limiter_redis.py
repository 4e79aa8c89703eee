"""The Redis limiter under concurrency: batched script calls stay exact, survive a script flush,
and the Limiter goes back to Redis after an outage. Runs a private redis-server (it flushes it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from gatewayz.limits.limiter import Limiter
from gatewayz.limits.redis_limiter import RedisLimiter
from tests.support.redis_server import ThrowawayRedis
from tests.unit.limiter_support import T0, concurrent_check, window_check

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawayRedis]:
    redis = ThrowawayRedis(tmp_path_factory.mktemp("redis")).start()
    yield redis
    redis.kill()


@pytest.fixture
async def client(server: ThrowawayRedis) -> AsyncIterator[Redis]:
    redis = Redis.from_url(server.url)
    await redis.flushall()
    yield redis
    await redis.aclose()


async def test_concurrent_admissions_are_batched_and_exact(client: Redis, server: ThrowawayRedis) -> None:
    limiter = RedisLimiter(Redis.from_url(server.url))  # its own connections, to count them
    rpm = window_check("rpm", "requests", 37)
    slots = concurrent_check("slots", 1000)
    connections_before = (await client.info("stats"))["total_connections_received"]
    results = await asyncio.gather(*(limiter.admit([rpm, slots], [1, 1], f"l{i}", T0) for i in range(300)))
    assert sum(1 for allowed, _ in results if allowed) == 37
    assert sorted(outcomes[0].used for allowed, outcomes in results if allowed) == list(range(1, 38))
    assert await client.zcard("slots") == 37  # leases only for the admitted ones
    # 300 calls at once went out as a few pipelines on one or two connections, not 300 connections.
    assert (await client.info("stats"))["total_connections_received"] - connections_before <= 3
    await limiter.redis.aclose()


async def test_a_forgotten_script_is_reloaded_even_inside_a_batch(client: Redis) -> None:
    limiter = RedisLimiter(client)
    rpm = window_check("rpm", "requests", 10)
    await limiter.admit([rpm], [1], "a", T0)
    await client.script_flush()
    results = await asyncio.gather(*(limiter.admit([rpm], [1], f"l{i}", T0) for i in range(20)))
    assert sum(1 for allowed, _ in results if allowed) == 9


async def test_the_limiter_returns_to_redis_after_an_outage(tmp_path: Path) -> None:
    server = ThrowawayRedis(tmp_path).start()
    redis = Redis.from_url(server.url)
    limiter = Limiter(redis, probe_seconds=0.05)
    rpm = [window_check("rpm", "requests", 100)]
    try:
        assert (await limiter.admit(rpm, 0)).backend == "redis"
        server.kill()
        assert (await limiter.admit(rpm, 0)).backend == "local"
        assert limiter.health()["status"] == "degraded"
        server.start()
        for _ in range(100):
            await asyncio.sleep(0.05)
            if limiter.health()["status"] == "ok":
                break
        assert limiter.health() == {"status": "ok", "backend": "redis"}
        ticket = await limiter.admit(rpm, 0)
        assert ticket.backend == "redis" and ticket.outcomes[0].used == 1  # a fresh Redis: counts anew
    finally:
        await limiter.stop()
        await redis.aclose()
        server.kill()


async def test_finishes_during_an_outage_are_replayed_bounded_oldest_dropped(tmp_path: Path) -> None:
    """Five slots taken through Redis, released while it is down: the queue keeps the newest 3,
    and they reach the restarted Redis (which came back with the slots from its snapshot)."""
    server = ThrowawayRedis(tmp_path).start()
    redis = Redis.from_url(server.url)
    limiter = Limiter(redis, probe_seconds=0.05, max_pending=3)
    slots = [concurrent_check("gwtest-replay:slots", 10, lease_ms=600_000)]
    try:
        tickets = [await limiter.admit(slots, 0) for _ in range(5)]
        assert {t.backend for t in tickets} == {"redis"}
        await redis.save()
        server.kill()
        for ticket in tickets:
            await limiter.finish(ticket, None)
        for _ in range(50):  # the finishes fail in flight: the limiter degrades
            await asyncio.sleep(0.02)
            if limiter.health()["status"] == "degraded":
                break
        assert limiter.health()["pending_finishes"] == 3 and limiter.dropped_finishes == 2
        server.start()
        for _ in range(200):
            await asyncio.sleep(0.05)
            if limiter.health()["status"] == "ok":
                break
        assert limiter.health() == {"status": "ok", "backend": "redis"}
        leases = await redis.zrange("gwtest-replay:slots", 0, -1)
        assert sorted(leases) == sorted(t.lease.encode() for t in tickets[:2])  # only the dropped ones remain
    finally:
        await limiter.stop()
        await redis.aclose()
        server.kill()
