"""Limits shared by several real `gatewayz serve` processes through Redis, and what happens when
Redis goes away and comes back. Both passes run these (with SQLite or PostgreSQL underneath):
Redis is on 127.0.0.1:6379 on every machine, and the outage test runs its own throwaway server.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.databases import REDIS_URL
from tests.support.identity import ADMIN_KEY
from tests.support.redis_server import ThrowawayRedis
from tests.support.servers import GatewayProcess

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def _key(url: str, *warm: str, **limits: Any) -> str:
    """A sandbox key with `limits`, already in the key cache of the `warm` processes: a burst of
    cache misses would otherwise open a database connection each (and can exhaust PostgreSQL's
    connection limit on a shared CI machine), which is not what these tests are about."""
    body = {"name": "shared", "environment": "test", "rate_limits": limits}
    response = httpx.post(f"{url}/user/api-keys", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    key = str(response.json()["key"])
    for other in warm:
        seen = httpx.get(f"{other}/user/rate-limits", headers={"Authorization": f"Bearer {key}"})  # consumes nothing
        assert seen.status_code == 200, seen.text
    return key


async def _burst(urls: list[str], key: str, count: int) -> list[tuple[str, int]]:
    """`count` chat requests at once, spread over the processes; (process url, status) each."""
    body = {"model": "sandbox/chat", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one(url: str) -> tuple[str, int]:
            return url, (await client.post(f"{url}/v1/chat/completions", json=body, headers=headers)).status_code

        return await asyncio.gather(*(one(urls[i % len(urls)]) for i in range(count)))


def _statuses(urls: list[str], key: str, count: int) -> Counter[int]:
    return Counter(status for _, status in asyncio.run(_burst(urls, key, count)))


def _ready(url: str) -> httpx.Response:
    return httpx.get(f"{url}/health/ready", timeout=10)


def _start(env: dict[str, str], log_dir: Path, count: int = 2) -> list[GatewayProcess]:
    processes = [GatewayProcess(env, log_dir=log_dir) for _ in range(count)]
    try:
        for process in processes:
            process.start()
    except BaseException:
        for process in processes:
            process.stop()
        raise
    return processes


@pytest.fixture(scope="module")
def shared_pair(base_env: dict[str, str], gateway: Any, tmp_root: Path) -> Iterator[list[GatewayProcess]]:
    processes = _start({**base_env, "REDIS_URL": REDIS_URL}, tmp_root)
    yield processes
    for process in processes:
        process.stop()


def test_two_processes_share_one_limit_exactly(shared_pair: list[GatewayProcess]) -> None:
    a, b = shared_pair
    for process in shared_pair:
        assert _ready(process.url).json()["checks"]["rate_limits"] == {"status": "ok", "backend": "redis"}
    key = _key(a.url, a.url, b.url, requests_per_minute=60)
    results = asyncio.run(_burst([a.url, b.url], key, 200))
    assert Counter(status for _, status in results) == {200: 60, 429: 140}
    for process in shared_pair:  # 100 each: both processes enforced the one shared counter
        refused = sum(1 for url, status in results if url == process.url and status == 429)
        assert refused >= 40
    usage = httpx.get(f"{b.url}/user/rate-limits", headers={"Authorization": f"Bearer {key}"}).json()
    assert usage["backend"] == "redis"
    assert [u["used"] for u in usage["usage"] if u["kind"] == "requests"] == [60]


def test_redis_outage_falls_back_to_local_limits_and_recovers(
    base_env: dict[str, str], gateway: Any, tmp_root: Path
) -> None:
    redis = ThrowawayRedis(tmp_root)
    redis.start()
    env = {**base_env, "REDIS_URL": redis.url, "GATEWAYZ_RATE_LIMIT_PROBE_SECONDS": "0.2"}
    processes = _start(env, tmp_root)
    a, b = processes
    urls = [a.url, b.url]
    try:
        # Redis up: one counter for both processes.
        assert _statuses(urls, _key(a.url, *urls, requests_per_minute=10), 30) == {200: 10, 429: 20}

        # Redis gone: every request is still answered, by each process's own limits.
        redis.kill()
        key = _key(a.url, *urls, requests_per_minute=10)
        assert _statuses([a.url], key, 15) == {200: 10, 429: 5}
        assert _statuses([b.url], key, 15) == {200: 10, 429: 5}  # B counts on its own while degraded
        ready = _ready(a.url)
        assert ready.status_code == 200
        assert ready.json()["checks"]["rate_limits"]["status"] == "degraded"
        assert ready.json()["checks"]["rate_limits"]["backend"] == "local"
        assert "rate_limit_redis_unavailable" in a.output()

        # Redis back on the same port: shared limits again once the probe sees it.
        redis.start()
        deadline = time.monotonic() + 10
        while any(_ready(url).json()["checks"]["rate_limits"]["status"] != "ok" for url in urls):
            assert time.monotonic() < deadline, "the gateways did not go back to Redis"
            time.sleep(0.1)
        assert _statuses(urls, _key(b.url, *urls, requests_per_minute=10), 30) == {200: 10, 429: 20}
        assert "rate_limit_redis_restored" in a.output()
    finally:
        for process in processes:
            process.stop()
        redis.kill()


def test_an_admin_change_reaches_the_other_process_within_a_second(shared_pair: list[GatewayProcess]) -> None:
    a, b = shared_pair
    email = f"limits-{time.monotonic_ns()}@example.com"
    created = httpx.post(f"{a.url}/admin/users", json={"email": email}, headers=ADMIN).json()
    own = {"Authorization": f"Bearer {created['api_key']['key']}"}
    key = httpx.post(f"{a.url}/user/api-keys", json={"environment": "test"}, headers=own).json()["key"]
    body = {"model": "sandbox/chat", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=b.url, headers=headers) as client:
        assert client.post("/v1/chat/completions", json=body).status_code == 200  # B has the key cached
        changed = httpx.put(f"{a.url}/admin/users/{created['user']['id']}/rate-limits",
                            json={"requests_per_minute": 1}, headers=ADMIN)  # fmt: skip
        assert changed.status_code == 200
        started = time.monotonic()
        while client.post("/v1/chat/completions", json=body).status_code != 429:
            assert time.monotonic() - started < 1.0, "B still ignores the new limit after a second"
            time.sleep(0.02)
