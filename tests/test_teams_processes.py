"""Teams across two gateway processes sharing PostgreSQL and Redis: a pool and a member's cap
never overspend, and a removed member's team key stops in the other process within a second."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakeprovider import FakeProvider
from tests.support.databases import backend
from tests.support.identity import ADMIN_KEY, UPSTREAM_KEY_B, GwUser
from tests.support.money import grant, nanos, priced_config
from tests.support.servers import GatewayProcess, gateway_processes
from tests.support.teams import chat, fire, join, new_team, team_key

pytestmark = pytest.mark.skipif(backend() != "postgres", reason="two processes share PostgreSQL in the postgres pass")
COST = 10_000_000


@pytest.fixture
def two(base_env: dict[str, str], upstream_b: FakeProvider, tmp_root: Path, gateway: Any
        ) -> Iterator[list[GatewayProcess]]:
    config = priced_config(tmp_root / "teams-race.toml", upstream_b.openai_base_url, UPSTREAM_KEY_B)
    with gateway_processes({**base_env, "GATEWAYZ_CONFIG": str(config)}, 2, log_dir=tmp_root) as processes:
        yield processes


def _person(url: str, clients: list[httpx.Client]) -> GwUser:
    import secrets

    email = f"team-{secrets.token_hex(5)}@example.com"
    made = httpx.post(f"{url}/admin/users", json={"email": email}, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert made.status_code == 201, made.text
    body = made.json()
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {body['api_key']['key']}"})
    clients.append(client)
    return GwUser(body["user"]["id"], email, body["api_key"]["key"], body["api_key"]["id"], client)


def test_two_processes_never_overspend_a_pool_or_a_cap_and_stop_removed_keys(
    two: list[GatewayProcess], fake_b: FakeProvider
) -> None:
    fake_b.set(reply=" ".join(["word"] * 50))
    urls = [p.url for p in two]
    clients: list[httpx.Client] = []
    try:
        owner, member = _person(urls[0], clients), _person(urls[0], clients)
        team = new_team(owner)
        join(owner, team["id"], member, "member")
        with httpx.Client(base_url=urls[0], headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
            grant(admin, team["account_id"], str(15 * COST / 1e9))
        pool_keys = [team_key(owner, team["id"])["key"], team_key(owner, team["id"], owner="team")["key"]]
        assert asyncio.run(fire(urls, pool_keys, 80)) == Counter({200: 15, 402: 65})
        with httpx.Client(base_url=urls[0], headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
            grant(admin, team["account_id"], "10")
        assert owner.client.patch(f"/teams/{team['id']}/members/{member.id}",
                                  json={"spend_cap": str(6 * COST / 1e9)}).status_code == 200
        capped = [team_key(member, team["id"])["key"], team_key(member, team["id"], name="b")["key"]]
        assert asyncio.run(fire(urls, capped, 80)) == Counter({200: 6, 402: 74})
        pool = owner.client.get(f"/teams/{team['id']}/balance").json()
        assert nanos(pool["balance"]) == 10_000_000_000 - 6 * COST and nanos(pool["held"]) == 0
        # removed through one process: the member's key stops in the other within a second
        assert owner.client.patch(f"/teams/{team['id']}/members/{member.id}",
                                  json={"spend_cap": None}).status_code == 200
        deadline = time.monotonic() + 1.0
        while chat(urls[1], capped[0]).status_code != 200:  # the cap's removal reached the other process
            assert time.monotonic() < deadline, "the other process still applies a removed cap"
            time.sleep(0.05)
        assert owner.client.delete(f"/teams/{team['id']}/members/{member.id}").status_code == 200
        deadline = time.monotonic() + 1.0
        while chat(urls[1], capped[0]).status_code != 401:
            assert time.monotonic() < deadline, "the other process still accepts a removed member's key"
            time.sleep(0.05)
    finally:
        for client in clients:
            client.close()
