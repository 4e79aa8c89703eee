"""Review P4 and L2: two users applying each other's code at the same moment never make a referral cycle
(applies are serialised), and the cycle check is one bounded query even over a cycle in the table;
sandbox keys apply no code."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.support.databases import run_sql
from tests.support.servers import ThreadedGateway


def _code(user: Any) -> str:
    return user.client.get("/referral/code").json()["code"]  # type: ignore[no-any-return]


async def _crossing(url: str, pairs: list[tuple[str, str]]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return list(await asyncio.gather(*(client.post("/referral/apply", json={"code": code},
                                                       headers={"Authorization": f"Bearer {key}"})
                                           for key, code in pairs)))


def test_crossing_applies_never_make_a_cycle(gateway: ThreadedGateway, make_user: Any, database_url: str) -> None:
    for _ in range(8):
        a, b = make_user(), make_user()
        answers = asyncio.run(_crossing(gateway.url, [(a.key, _code(b)), (b.key, _code(a))]))
        assert sorted(r.status_code for r in answers) == [201, 400], [r.text for r in answers]
        assert [r.json()["error"]["code"] for r in answers if r.status_code == 400] == ["referral_cycle"]
        rows = run_sql(database_url, "SELECT COUNT(*) FROM referrals WHERE referred_id IN (:p0, :p1)", a.id, b.id)
        assert rows[0][0] == 1


def test_a_cycle_already_in_the_table_is_checked_in_bounded_time(
    make_user: Any, database_url: str
) -> None:
    a, b, c, d = make_user(), make_user(), make_user(), make_user()
    assert a.client.post("/referral/apply", json={"code": _code(b)}).status_code == 201
    # an A<->B cycle, as a crossing apply of an older version could make
    run_sql(database_url, "INSERT INTO referrals (referrer_id, referred_id, code, status, referrer_reward, "
            "referred_reward, created_at) SELECT :p0, :p1, code, 'signed_up', 0, 0, created_at FROM referrals "
            "WHERE referred_id = :p0", a.id, b.id)
    started = time.monotonic()
    applied = c.client.post("/referral/apply", json={"code": _code(a)})
    assert applied.status_code == 201, applied.text
    assert time.monotonic() - started < 2.0
    assert c.client.post("/referral/apply", json={"code": _code(b)}).json()["error"]["code"] == "already_referred"
    refused = a.client.post("/referral/apply", json={"code": _code(c)})  # A already has a referrer
    assert refused.status_code == 409
    assert d.client.post("/referral/apply", json={"code": _code(c)}).status_code == 201  # d -> c -> a <-> b
    started = time.monotonic()
    assert c.client.get("/referral/stats").status_code == 200
    assert time.monotonic() - started < 2.0


def test_sandbox_keys_cannot_apply_a_code(gateway: ThreadedGateway, make_user: Any, database_url: str) -> None:
    referrer, user = make_user(), make_user()
    key = user.client.post("/user/api-keys", json={"name": "sb", "environment": "test"}).json()["key"]
    answer = httpx.post(f"{gateway.url}/referral/apply", json={"code": _code(referrer)},
                        headers={"Authorization": f"Bearer {key}"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "sandbox_key")
    assert run_sql(database_url, "SELECT COUNT(*) FROM referrals WHERE referred_id = :p0", user.id) == [(0,)]
