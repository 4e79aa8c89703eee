"""Several gateway processes sharing one database (and Redis when configured).

A revoked key or a deactivated user must stop working in every process within one second, even
though each process caches key lookups. On the postgres pass this goes through Redis pub/sub; on
the SQLite pass (no Redis) through the change-counter poll.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.identity import ADMIN_KEY
from tests.support.servers import GatewayProcess, gateway_processes

PROPAGATION_LIMIT = 1.0


@pytest.fixture(scope="module")
def two_gateways(base_env: dict[str, str], gateway: Any, tmp_root: Path) -> Iterator[list[GatewayProcess]]:
    env = {**base_env, "GATEWAYZ_AUTH_POLL_INTERVAL_SECONDS": "0.25", "GATEWAYZ_KEY_CACHE_TTL_SECONDS": "300"}
    with gateway_processes(env, 2, log_dir=tmp_root) as processes:
        yield processes


def _status(url: str, key: str) -> int:
    return httpx.get(f"{url}/user/api-keys", headers={"Authorization": f"Bearer {key}"}).status_code


def _wait_for_status(url: str, key: str, status: int, limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit + 2:
        if _status(url, key) == status:
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"{url} still did not answer {status} after {limit + 2}s")


def _new_user(url: str) -> dict[str, Any]:
    email = f"mp-{time.monotonic_ns()}@example.com"
    response = httpx.post(f"{url}/admin/users", json={"email": email}, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_revocation_reaches_every_process_within_a_second(two_gateways: list[GatewayProcess]) -> None:
    a, b = two_gateways
    created = _new_user(a.url)
    key, key_id = created["api_key"]["key"], created["api_key"]["id"]
    assert _status(a.url, key) == 200 and _status(b.url, key) == 200  # both processes have it cached
    revoked = httpx.delete(f"{a.url}/user/api-keys/{key_id}", headers={"Authorization": f"Bearer {key}"})
    assert revoked.status_code == 200
    assert _status(a.url, key) == 401
    elapsed = _wait_for_status(b.url, key, 401, PROPAGATION_LIMIT)
    assert elapsed < PROPAGATION_LIMIT, f"revocation took {elapsed:.3f}s to reach the other process"


def test_deactivation_reaches_every_process_within_a_second(two_gateways: list[GatewayProcess]) -> None:
    a, b = two_gateways
    created = _new_user(b.url)
    key, user_id = created["api_key"]["key"], created["user"]["id"]
    assert _status(a.url, key) == 200 and _status(b.url, key) == 200
    response = httpx.patch(
        f"{b.url}/admin/users/{user_id}", json={"is_active": False}, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert response.status_code == 200
    elapsed = _wait_for_status(a.url, key, 401, PROPAGATION_LIMIT)
    assert elapsed < PROPAGATION_LIMIT


def test_rotation_reaches_every_process_within_a_second(two_gateways: list[GatewayProcess]) -> None:
    a, b = two_gateways
    created = _new_user(a.url)
    key, key_id = created["api_key"]["key"], created["api_key"]["id"]
    assert _status(b.url, key) == 200
    rotated = httpx.post(f"{a.url}/user/api-keys/{key_id}/rotate", headers={"Authorization": f"Bearer {key}"})
    assert rotated.status_code == 200
    elapsed = _wait_for_status(b.url, key, 401, PROPAGATION_LIMIT)
    assert elapsed < PROPAGATION_LIMIT
    assert _status(b.url, rotated.json()["key"]) == 200
