"""Short Redis outages, seen by a user of a real `gatewayz serve` process: a hung Redis delays a
request by a fraction of a second (not seconds), and a slot released while Redis was away is
released in Redis once it is back (the user is not stuck at their concurrency limit).

Runs a private redis-server (it is frozen, killed and restarted), on both passes like
tests/test_rate_limits_shared.py.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.identity import ADMIN_KEY
from tests.support.redis_server import ThrowawayRedis
from tests.support.servers import GatewayProcess

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(scope="module")
def outage(base_env: dict[str, str], gateway: Any, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[tuple[ThrowawayRedis, GatewayProcess]]:  # fmt: skip
    redis = ThrowawayRedis(tmp_path_factory.mktemp("redis-outage")).start()  # its own dir: its own dump.rdb
    env = {**base_env, "REDIS_URL": redis.url, "GATEWAYZ_RATE_LIMIT_PROBE_SECONDS": "0.2"}
    process = GatewayProcess(env, log_dir=tmp_path_factory.mktemp("outage-logs"))
    try:
        process.start()
        yield redis, process
    finally:
        process.stop()
        redis.kill()


def _key(url: str, **limits: Any) -> str:
    body = {"name": "outage", "environment": "test", "rate_limits": limits}
    response = httpx.post(f"{url}/user/api-keys", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    key = str(response.json()["key"])
    assert httpx.get(f"{url}/user/rate-limits", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    return key  # now in the gateway's key cache: no database work on the timed requests


def _chat(url: str, key: str, content: str = "hi") -> httpx.Response:
    body = {"model": "sandbox/chat", "messages": [{"role": "user", "content": content}]}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _limits_status(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/health/ready", timeout=10).json()["checks"]["rate_limits"]  # type: ignore[no-any-return]


def _wait_back_on_redis(url: str) -> None:
    deadline = time.monotonic() + 10
    while _limits_status(url)["status"] != "ok":
        assert time.monotonic() < deadline, "the gateway did not go back to Redis"
        time.sleep(0.05)


def _restart(redis: ThrowawayRedis) -> None:
    """Start it again on the same port; it reloads the snapshot in its directory, if any."""
    redis.start()


def _snapshot(redis: ThrowawayRedis) -> None:
    subprocess.run(["redis-cli", "-p", str(redis.port), "save"], check=True, capture_output=True)


def test_a_hung_redis_delays_the_first_request_a_fraction_of_a_second(
    outage: tuple[ThrowawayRedis, GatewayProcess],
) -> None:
    redis, gateway = outage
    key = _key(gateway.url, requests_per_minute=100)
    assert _chat(gateway.url, key).status_code == 200  # counted in Redis, connection pooled
    assert redis.process is not None
    redis.process.send_signal(signal.SIGSTOP)  # accepts connections, answers nothing
    try:
        started = time.monotonic()
        response = _chat(gateway.url, key)
        elapsed = time.monotonic() - started
        assert response.status_code == 200
        assert elapsed < 1.0, f"the request that met the hung Redis took {elapsed:.2f}s"
        assert response.headers["x-ratelimit-limit-requests"] == "100"  # still limited, locally
        assert _limits_status(gateway.url)["status"] == "degraded"
        started = time.monotonic()
        assert _chat(gateway.url, key).status_code == 200
        assert time.monotonic() - started < 0.5  # later ones do not touch Redis at all
    finally:
        redis.process.send_signal(signal.SIGCONT)
    _wait_back_on_redis(gateway.url)


def test_a_slot_released_during_an_outage_is_released_in_redis_after_it(
    outage: tuple[ThrowawayRedis, GatewayProcess],
) -> None:
    redis, gateway = outage
    _wait_back_on_redis(gateway.url)
    key = _key(gateway.url, concurrent_requests=1)
    other = _key(gateway.url, requests_per_minute=100)
    result: dict[str, int] = {}
    slow = threading.Thread(target=lambda: result.update(status=_chat(gateway.url, key, "[[sandbox:delay_ms=1500]] x")
                                                         .status_code))  # fmt: skip
    slow.start()
    time.sleep(0.4)
    assert _chat(gateway.url, key).status_code == 429  # the slow request holds the slot, in Redis
    _snapshot(redis)  # the lease survives the restart, as with any persistent Redis
    redis.kill()
    assert _chat(gateway.url, other).status_code == 200  # served locally; the gateway is degraded
    assert _limits_status(gateway.url)["status"] == "degraded"
    slow.join()
    assert result["status"] == 200  # it finished while Redis was away
    _restart(redis)
    _wait_back_on_redis(gateway.url)
    assert _chat(gateway.url, key).status_code == 200, "the slot is still held in Redis after the outage"
    usage = httpx.get(f"{gateway.url}/user/rate-limits", headers={"Authorization": f"Bearer {key}"}).json()
    assert usage["backend"] == "redis"
    assert [u["used"] for u in usage["usage"] if u["kind"] == "concurrent"] == [0]
    assert "rate_limit_redis_restored" in gateway.output()


def test_restarted_redis_is_the_one_with_the_snapshot(tmp_path: Path) -> None:
    """The premise of the test above: a snapshot taken with SAVE is what a restart comes back with."""
    redis = ThrowawayRedis(tmp_path).start()
    try:
        subprocess.run(["redis-cli", "-p", str(redis.port), "set", "probe", "1"], check=True, capture_output=True)
        _snapshot(redis)
        redis.kill()
        _restart(redis)
        got = subprocess.run(["redis-cli", "-p", str(redis.port), "get", "probe"], check=True, capture_output=True)
        assert got.stdout.strip() == b"1"
    finally:
        redis.kill()
