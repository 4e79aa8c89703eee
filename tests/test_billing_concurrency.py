"""No overspend under concurrency: 200 requests at once against a balance good for 20."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakeprovider import FakeProvider
from tests.support.databases import backend
from tests.support.identity import ADMIN_KEY, UPSTREAM_KEY_B
from tests.support.money import assert_ledgers_balance, grant, nanos, priced_config
from tests.support.servers import GatewayProcess, gateway_processes

# fakepriced/priced-model costs $0.001 per completion token and nothing per prompt token; the fake
# answers exactly max_tokens words when its reply is longer, so each request costs exactly its hold.
BODY = {"model": "fakepriced/priced-model", "messages": [{"role": "user", "content": "go"}], "max_tokens": 10}
COST = 10_000_000  # $0.01
REQUESTS = 200
AFFORDABLE = 20


async def _fire(urls: list[str], key: str) -> Counter[int]:
    limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(index: int) -> int:
            response = await client.post(
                f"{urls[index % len(urls)]}/v1/chat/completions", json=BODY, headers={"Authorization": f"Bearer {key}"}
            )
            if response.status_code == 402:
                assert response.json()["error"]["type"] == "insufficient_quota"
            return response.status_code

        return Counter(await asyncio.gather(*(one(i) for i in range(REQUESTS))))


def _new_funded_user(admin_url: str) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    email = f"race-{secrets.token_hex(5)}@example.com"
    created = httpx.post(f"{admin_url}/admin/users", json={"email": email}, headers=headers).json()
    with httpx.Client(base_url=admin_url, headers=headers) as admin:
        grant(admin, created["user"]["id"], str(AFFORDABLE * COST / 1e9))
    return created["user"]["id"], created["api_key"]["key"]


def _check(outcome: Counter[int], admin_url: str, key: str, database_url: str) -> Counter[int]:
    assert set(outcome) <= {200, 402}, outcome
    assert outcome[200] == AFFORDABLE, outcome
    state = httpx.get(f"{admin_url}/user/balance", headers={"Authorization": f"Bearer {key}"}).json()
    assert nanos(state["balance"]) == 0 and nanos(state["held"]) == 0
    assert_ledgers_balance(database_url)
    return outcome


def test_two_hundred_requests_against_a_balance_for_twenty(
    gateway: Any, admin: httpx.Client, fake_b: FakeProvider, database_url: str
) -> None:
    fake_b.set(reply=" ".join(["word"] * 50))
    _, key = _new_funded_user(gateway.url)
    outcome = _check(asyncio.run(_fire([gateway.url], key)), gateway.url, key, database_url)
    assert outcome[200] == AFFORDABLE and outcome[402] == REQUESTS - AFFORDABLE


@pytest.fixture
def two_processes(
    base_env: dict[str, str], upstream_b: FakeProvider, tmp_root: Path, gateway: Any
) -> Iterator[list[GatewayProcess]]:
    config = priced_config(tmp_root / "billing-race.toml", upstream_b.openai_base_url, UPSTREAM_KEY_B)
    env = {**base_env, "GATEWAYZ_CONFIG": str(config)}
    with gateway_processes(env, 2, log_dir=tmp_root) as processes:
        yield processes


@pytest.mark.skipif(backend() != "postgres", reason="two processes share PostgreSQL in the postgres pass")
def test_two_processes_sharing_postgres_never_overspend(
    two_processes: list[GatewayProcess], fake_b: FakeProvider, database_url: str
) -> None:
    fake_b.set(reply=" ".join(["word"] * 50))
    urls = [p.url for p in two_processes]
    _, key = _new_funded_user(urls[0])
    outcome = _check(asyncio.run(_fire(urls, key)), urls[0], key, database_url)
    assert outcome[200] == AFFORDABLE and outcome[402] == REQUESTS - AFFORDABLE
