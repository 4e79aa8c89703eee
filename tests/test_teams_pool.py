"""Team pools: team keys spend the pool (never the member's own balance), a member's cap refuses
what is over it, many requests at once never overspend the pool or a cap, and a removed member's
team keys stop within a second."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx

from tests.fakeprovider import FakeProvider
from tests.support.databases import run_sql
from tests.support.money import balance, grant, nanos
from tests.support.teams import chat, fire, join, new_team, pool_with_member, team_key

COST = 10_000_000  # fakepriced/priced-model, max_tokens 10 and a longer reply: exactly $0.01 a request
REQUESTS = 60


def _pool(owner: Any, team_id: int) -> dict[str, Any]:
    response = owner.client.get(f"/teams/{team_id}/balance")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_team_key_spends_the_pool_and_records_the_key(
    gateway: Any, admin: httpx.Client, make_user: Any, fake_b: FakeProvider, database_url: str
) -> None:
    fake_b.set(reply=" ".join(["word"] * 50))
    owner = make_user()
    grant(admin, owner.id, "1")
    team = new_team(owner)
    grant(admin, team["account_id"], "0.05")  # an admin grants to the pool's account
    key = team_key(owner, team["id"])
    assert key["scopes"] == ["inference"] and key["member_user_id"] == owner.id
    answered = chat(gateway.url, key["key"])
    assert answered.status_code == 200, answered.text
    assert nanos(_pool(owner, team["id"])["balance"]) == 5 * COST - COST
    assert nanos(balance(owner.client)["balance"]) == 1_000_000_000  # the member's own money is untouched
    usage = owner.client.get(f"/teams/{team['id']}/usage", params={"group_by": "key"}).json()
    assert usage["groups"] == [{**usage["groups"][0], "key": str(key["id"]), "requests": 1}]
    by_member = owner.client.get(f"/teams/{team['id']}/usage", params={"group_by": "member"}).json()
    assert [(g["key"], g["requests"], nanos(g["cost"])) for g in by_member["groups"]] == [(str(owner.id), 1, COST)]
    rows = run_sql(database_url, "SELECT user_id, key_id, cost FROM usage_records WHERE key_id = :p0", key["id"])
    assert rows == [(team["account_id"], key["id"], COST)]
    # an empty pool refuses with 402, whatever the member's own balance
    for _ in range(4):
        assert chat(gateway.url, key["key"]).status_code == 200
    refused = chat(gateway.url, key["key"])
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "insufficient_quota"
    # a team key spends, it does not read or manage (only the inference scope)
    headers = {"Authorization": f"Bearer {key['key']}"}
    assert httpx.get(f"{gateway.url}/user/balance", headers=headers).status_code == 403
    assert httpx.get(f"{gateway.url}/teams", headers=headers).status_code == 403


def test_a_member_cap_refuses_what_is_over_it(
    gateway: Any, admin: httpx.Client, make_user: Any, fake_b: FakeProvider
) -> None:
    fake_b.set(reply=" ".join(["word"] * 50))
    owner, member, team = pool_with_member(admin, make_user)
    capped = owner.client.patch(f"/teams/{team['id']}/members/{member.id}",
                                json={"spend_cap": "0.02", "cap_period": "daily"})
    assert capped.status_code == 200, capped.text
    assert nanos(capped.json()["spend_cap"]) == 2 * COST
    key = team_key(member, team["id"])
    assert [chat(gateway.url, key["key"]).status_code for _ in range(2)] == [200, 200]
    refused = chat(gateway.url, key["key"])
    assert refused.status_code == 402, refused.text
    assert refused.json()["error"]["code"] == "member_cap_exceeded"
    # a second key of the same member shares the cap; the owner (no cap) still spends
    seen = owner.client.get(f"/teams/{team['id']}/members/{member.id}").json()
    assert nanos(seen["cap_spent"]) == 2 * COST and seen["cap_period"] == "daily"
    listed = {m["user_id"]: m for m in owner.client.get(f"/teams/{team['id']}/members").json()["data"]}
    assert nanos(listed[member.id]["cap_spent"]) == 2 * COST and listed[owner.id]["cap_spent"] is None
    other = team_key(member, team["id"], name="second")
    assert chat(gateway.url, other["key"]).json()["error"]["code"] == "member_cap_exceeded"
    assert chat(gateway.url, team_key(owner, team["id"])["key"]).status_code == 200
    # nobody raises their own cap; an admin raising it lets the member spend again, within a second
    assert member.client.patch(f"/teams/{team['id']}/members/{member.id}", json={"spend_cap": "5"}).status_code == 403
    assert owner.client.patch(f"/teams/{team['id']}/members/{member.id}", json={"spend_cap": "0.03"}).status_code == 200
    time.sleep(0.3)
    assert chat(gateway.url, key["key"]).status_code == 200
    assert nanos(_pool(owner, team["id"])["balance"]) == 1_000_000_000 - 4 * COST


def test_many_requests_at_once_never_overspend_the_pool_or_a_cap(
    gateway: Any, admin: httpx.Client, make_user: Any, fake_b: FakeProvider
) -> None:
    fake_b.set(reply=" ".join(["word"] * 50))
    owner, member = make_user(), make_user()
    team = new_team(owner)
    join(owner, team["id"], member, "member")
    grant(admin, team["account_id"], str(20 * COST / 1e9))
    # the pool: two uncapped keys (leased, like a user's own) racing for 20 requests' worth
    keys = [team_key(owner, team["id"])["key"], team_key(owner, team["id"], owner="team")["key"]]
    outcome = asyncio.run(fire([gateway.url], keys, REQUESTS))
    assert outcome == Counter({200: 20, 402: REQUESTS - 20}), outcome
    pool = _pool(owner, team["id"])
    assert nanos(pool["balance"]) == 0 and nanos(pool["held"]) == 0
    # a cap: two keys of a member capped at 7 requests' worth, with the pool good for far more
    grant(admin, team["account_id"], "10")
    assert owner.client.patch(f"/teams/{team['id']}/members/{member.id}",
                              json={"spend_cap": str(7 * COST / 1e9)}).status_code == 200
    capped = [team_key(member, team["id"])["key"], team_key(member, team["id"], name="b")["key"]]
    outcome = asyncio.run(fire([gateway.url], capped, REQUESTS))
    assert outcome == Counter({200: 7, 402: REQUESTS - 7}), outcome
    assert nanos(_pool(owner, team["id"])["balance"]) == 10_000_000_000 - 7 * COST


def test_a_removed_members_team_keys_stop_within_a_second(
    gateway: Any, admin: httpx.Client, make_user: Any, fake_b: FakeProvider
) -> None:
    fake_b.set(reply=" ".join(["word"] * 50))
    owner, member, viewer = make_user(), make_user(), make_user()
    team = new_team(owner)
    grant(admin, team["account_id"], "1")
    join(owner, team["id"], member, "member")
    join(owner, team["id"], viewer, "viewer")
    key = team_key(member, team["id"])
    team_owned = team_key(owner, team["id"], owner="team")
    assert chat(gateway.url, key["key"]).status_code == 200  # cached now
    removed = owner.client.delete(f"/teams/{team['id']}/members/{member.id}")
    assert removed.status_code == 200, removed.text
    deadline = time.monotonic() + 1.0
    while chat(gateway.url, key["key"]).status_code != 401:
        assert time.monotonic() < deadline, "a removed member's team key still works after a second"
        time.sleep(0.05)
    assert chat(gateway.url, key["key"]).json()["error"]["code"] == "revoked_api_key"
    assert chat(gateway.url, team_owned["key"]).status_code == 200  # the team's own key lives on
    # the removed member no longer sees the team at all; a viewer cannot spend
    assert member.client.get(f"/teams/{team['id']}").status_code == 404
    refused = viewer.client.post(f"/teams/{team['id']}/api-keys", json={"name": "x"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "team_role_insufficient"
    # a member made viewer: their keys stop too
    join(owner, team["id"], member, "member")
    again = team_key(member, team["id"])
    assert chat(gateway.url, again["key"]).status_code == 200
    assert owner.client.patch(f"/teams/{team['id']}/members/{member.id}", json={"role": "viewer"}).status_code == 200
    deadline = time.monotonic() + 1.0
    while chat(gateway.url, again["key"]).status_code != 401:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_deactivated_members_team_keys_stop_and_come_back(
    gateway: Any, admin: httpx.Client, make_user: Any, fake_b: FakeProvider
) -> None:
    fake_b.set(reply=" ".join(["word"] * 50))
    _owner, member, team = pool_with_member(admin, make_user)
    key = team_key(member, team["id"])
    assert chat(gateway.url, key["key"]).status_code == 200
    assert admin.patch(f"/admin/users/{member.id}", json={"is_active": False}).status_code == 200
    deadline = time.monotonic() + 1.0
    while (refused := chat(gateway.url, key["key"])).status_code != 401:
        assert time.monotonic() < deadline, "a deactivated member's team key still works after a second"
        time.sleep(0.05)
    assert refused.json()["error"]["code"] == "account_deactivated"
    assert admin.patch(f"/admin/users/{member.id}", json={"is_active": True}).status_code == 200
    deadline = time.monotonic() + 1.0
    while chat(gateway.url, key["key"]).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_rotating_a_team_key(gateway: Any, admin: httpx.Client, make_user: Any, fake_b: FakeProvider) -> None:
    fake_b.set(reply=" ".join(["word"] * 50))
    owner, member, team = pool_with_member(admin, make_user)
    key = team_key(member, team["id"])
    assert chat(gateway.url, key["key"]).status_code == 200
    rotated = member.client.post(f"/teams/{team['id']}/api-keys/{key['id']}/rotate", json={})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["id"] == key["id"] and rotated.json()["member_user_id"] == member.id
    assert chat(gateway.url, rotated.json()["key"]).status_code == 200
    deadline = time.monotonic() + 1.0
    while chat(gateway.url, key["key"]).status_code != 401:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # another member's key cannot be rotated by a member (404), the owner (admin and above) can
    stranger = make_user()
    join(owner, team["id"], stranger, "member")
    assert stranger.client.post(f"/teams/{team['id']}/api-keys/{key['id']}/rotate").status_code == 404
    assert owner.client.post(f"/teams/{team['id']}/api-keys/{key['id']}/rotate").status_code == 200


def test_a_capped_hold_left_by_a_crashed_process_gives_the_cap_back(
    gateway: Any, admin: httpx.Client, make_user: Any, fake_b: FakeProvider, database_url: str,
    base_env: dict[str, str],
) -> None:
    from gatewayz.billing.holds import HoldLedger, SpendCap
    from gatewayz.storage.fastsql import FastSQL
    from tests.conftest import settings_from_env

    fake_b.set(reply=" ".join(["word"] * 50))
    owner, member, team = pool_with_member(admin, make_user)
    assert owner.client.patch(f"/teams/{team['id']}/members/{member.id}",
                              json={"spend_cap": "0.01", "cap_period": "weekly"}).status_code == 200
    cap_id = run_sql(database_url, "SELECT id FROM team_members WHERE team_id = :p0 AND user_id = :p1",
                     team["id"], member.id)[0][0]
    key = team_key(member, team["id"])

    async def crash_mid_request() -> None:
        fast = FastSQL(settings_from_env(base_env))
        await fast.open()
        try:  # the member's whole cap held by a request whose process never settles it
            await HoldLedger(fast).place(request_id=f"req_capped_{cap_id}", user_id=team["account_id"],
                                         key_id=key["id"], amount=COST, budget=None, ttl=0.5,
                                         cap=SpendCap(int(cap_id), COST, "weekly"))  # type: ignore[arg-type]
        finally:
            await fast.close()

    asyncio.run(crash_mid_request())
    assert chat(gateway.url, key["key"]).json()["error"]["code"] == "member_cap_exceeded"
    deadline = time.monotonic() + 5
    while chat(gateway.url, key["key"]).status_code != 200:  # the sweeper released the hold and the cap
        assert time.monotonic() < deadline, "an expired hold kept the member's cap"
        time.sleep(0.1)
    assert run_sql(database_url, "SELECT spent, held FROM cap_spend WHERE cap_id = :p0", cap_id) == [(COST, 0)]


def test_a_kept_settlement_remembers_its_cap() -> None:
    """A settlement kept for the billing job (database trouble) is JSON: the cap must survive it."""
    from datetime import UTC, datetime

    from gatewayz.billing.holds import Hold
    from gatewayz.billing.settlement import _hold_from, _hold_json

    hold = Hold(7, 100, 3, 9, None, 11, datetime(2026, 12, 1, tzinfo=UTC))
    assert _hold_from(orjson_roundtrip(_hold_json(hold))) == hold


def orjson_roundtrip(value: Any) -> Any:
    import orjson

    return orjson.loads(orjson.dumps(value))
