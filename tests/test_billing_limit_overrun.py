"""A provider that answers more than the request allowed (it ignored max_tokens, or billed
reasoning tokens beyond it) costs more than the hold. The account pays what it can, but a key's
budget and a team member's spending cap are limits: the charge stops at what they leave, and the
rest is recorded as uncollected on the usage record, never spent past the limit."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fakeprovider import FakeProvider
from tests.support.databases import run_sql
from tests.support.identity import GwUser
from tests.support.money import nanos
from tests.support.teams import chat, pool_with_member, team_key

OVERRUN = {"completion_tokens": 2000}  # $2 on fakepriced ($0.001 a completion token); max_tokens 10 holds $0.01


def _charged(database_url: str, request_id: str) -> tuple[int, int]:
    row = run_sql(database_url, "SELECT cost, uncollected FROM usage_records WHERE request_id = :p0", request_id)
    return int(row[0][0]), int(row[0][1])


def test_a_key_budget_is_never_exceeded_by_a_cost_above_the_hold(
    gateway: Any, funded: GwUser, fake_b: FakeProvider, database_url: str
) -> None:
    key = funded.client.post("/user/api-keys", json={"name": "budget", "max_budget": "0.05"}).json()
    fake_b.set(usage_override=OVERRUN)
    first = chat(gateway.url, key["key"])
    assert first.status_code == 200, first.text
    cost, uncollected = _charged(database_url, first.headers["x-request-id"])
    assert cost == nanos("0.05") and uncollected == nanos("2") - nanos("0.05")  # the budget's room, no more
    spent = run_sql(database_url, "SELECT spent, held FROM key_spend WHERE key_id = :p0", key["id"])
    assert [(int(s), int(h)) for s, h in spent] == [(nanos("0.05"), 0)]
    assert funded.client.get("/user/balance").json()["balance"] == "9.950000000"
    refused = chat(gateway.url, key["key"])
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "key_budget_exceeded"


def test_a_member_cap_is_never_exceeded_by_a_cost_above_the_hold(
    gateway: Any, admin: httpx.Client, make_user: Any, fake_b: FakeProvider, database_url: str
) -> None:
    owner, member, team = pool_with_member(admin, make_user, "5")
    capped = owner.client.patch(f"/teams/{team['id']}/members/{member.id}", json={"spend_cap": "0.05"})
    assert capped.status_code == 200, capped.text
    key = team_key(member, team["id"])
    fake_b.set(usage_override=OVERRUN)
    first = chat(gateway.url, key["key"])
    assert first.status_code == 200, first.text
    cost, uncollected = _charged(database_url, first.headers["x-request-id"])
    assert cost == nanos("0.05") and uncollected == nanos("1.95")
    assert owner.client.get(f"/teams/{team['id']}/balance").json()["balance"] == "4.950000000"
    refused = chat(gateway.url, key["key"])
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "member_cap_exceeded"
