"""A plan change and a plan assignment made through one gateway process are in force in another
within a second, although each caches its keys and plans (Redis pub/sub on the postgres pass,
the change-counter poll on SQLite)."""

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
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
IMAGE = {"model": "sandbox/image", "prompt": "a field"}


@pytest.fixture(scope="module")
def two_gateways(base_env: dict[str, str], gateway: Any, tmp_root: Path) -> Iterator[list[GatewayProcess]]:
    env = {**base_env, "GATEWAYZ_AUTH_POLL_INTERVAL_SECONDS": "0.25", "GATEWAYZ_KEY_CACHE_TTL_SECONDS": "300"}
    with gateway_processes(env, 2, log_dir=tmp_root) as processes:
        yield processes


def _wait_for(check: Any, limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit + 2:
        if check():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"not in force after {limit + 2}s")


def _sandbox_user(url: str) -> tuple[int, dict[str, str]]:
    created = httpx.post(f"{url}/admin/users", json={"email": f"mp-plan-{time.monotonic_ns()}@example.com"},
                         headers=ADMIN)
    assert created.status_code == 201, created.text
    live = {"Authorization": f"Bearer {created.json()['api_key']['key']}"}
    key = httpx.post(f"{url}/user/api-keys", json={"name": "s", "environment": "test"}, headers=live)
    assert key.status_code == 201, key.text
    return created.json()["user"]["id"], {"Authorization": f"Bearer {key.json()['key']}"}


def _plan(url: str, **fields: Any) -> dict[str, Any]:
    created = httpx.post(f"{url}/admin/plans", json={"slug": f"mp-{time.monotonic_ns()}", "name": "mp", **fields},
                         headers=ADMIN)
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def test_a_plan_change_reaches_every_process_within_a_second(two_gateways: list[GatewayProcess]) -> None:
    a, b = two_gateways
    plan = _plan(a.url, features=["images"])
    user_id, key = _sandbox_user(a.url)
    assigned = httpx.post(f"{a.url}/plans/assign", json={"user_id": user_id, "plan_id": plan["id"]}, headers=ADMIN)
    assert assigned.status_code == 200, assigned.text
    assert _wait_for(lambda: httpx.post(f"{b.url}/v1/images/generations", json=IMAGE, headers=key).status_code
                     == 200, PROPAGATION_LIMIT) < PROPAGATION_LIMIT
    changed = httpx.patch(f"{a.url}/admin/plans/{plan['id']}", json={"features": []}, headers=ADMIN)
    assert changed.status_code == 200
    assert httpx.post(f"{a.url}/v1/images/generations", json=IMAGE, headers=key).status_code == 403
    elapsed = _wait_for(lambda: httpx.post(f"{b.url}/v1/images/generations", json=IMAGE, headers=key).status_code
                        == 403, PROPAGATION_LIMIT)
    assert elapsed < PROPAGATION_LIMIT, f"the plan change took {elapsed:.3f}s to reach the other process"


def test_an_assignment_reaches_every_process_within_a_second(two_gateways: list[GatewayProcess]) -> None:
    a, b = two_gateways
    plan = _plan(a.url, rate_limits={"requests_per_minute": 1})
    user_id, key = _sandbox_user(a.url)
    chat = {"model": "sandbox/chat", "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(3):  # the default plan: no limit; both processes have the key cached
        assert httpx.post(f"{b.url}/v1/chat/completions", json=chat, headers=key).status_code == 200
        assert httpx.post(f"{a.url}/v1/chat/completions", json=chat, headers=key).status_code == 200
    assigned = httpx.post(f"{b.url}/plans/assign", json={"user_id": user_id, "plan_id": plan["id"]}, headers=ADMIN)
    assert assigned.status_code == 200

    def plan_on_a() -> bool:
        shown = httpx.get(f"{a.url}/user/plan", headers=key)
        return shown.status_code == 200 and shown.json()["plan"]["id"] == plan["id"]

    elapsed = _wait_for(plan_on_a, PROPAGATION_LIMIT)
    assert elapsed < PROPAGATION_LIMIT, f"the assignment took {elapsed:.3f}s to reach the other process"
    statuses = [httpx.post(f"{a.url}/v1/chat/completions", json=chat, headers=key).status_code for _ in range(3)]
    assert statuses.count(429) >= 2, statuses  # one request a minute (per process without Redis)
