"""Deleting a team never turns credit that was not yours into your balance: each funder gets back
at most what they moved in (newest transfers first), grants stay in the closed account."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from gatewayz.teams.closing import plan_returns
from tests.fakeprovider import FakeProvider
from tests.support.databases import run_sql
from tests.support.money import balance, grant, nanos
from tests.support.teams import chat, join, new_team, team_key

USD = 1_000_000_000


def _move(person: Any, team_id: int, amount: str) -> None:
    response = person.client.post(f"/teams/{team_id}/credits", json={"amount": amount})
    assert response.status_code == 201, response.text


def _kept(database_url: str, account_id: int) -> int:
    return int(run_sql(database_url, "SELECT balance FROM credit_accounts WHERE user_id = :p0", account_id)[0][0])


def test_credit_moved_in_by_others_never_reaches_the_deleting_owner(
    gateway: Any, admin: httpx.Client, make_user: Any, database_url: str
) -> None:
    """Review P2/F7: sock accounts (or a support user's grants) fund a pool, the main account is
    made owner and deletes the team: the socks get theirs back, the grant stays, main gets nothing."""
    main, sock, other = make_user(), make_user(), make_user()
    grant(admin, sock.id, "5")
    grant(admin, other.id, "2")
    team = new_team(sock)
    tid, account = team["id"], team["account_id"]
    _move(sock, tid, "5")
    join(sock, tid, other, "member")
    _move(other, tid, "2")
    grant(admin, account, "3")  # a grant to the pool: nobody's own money
    join(sock, tid, main, "owner")
    assert sock.client.delete(f"/teams/{tid}/members/{sock.id}").status_code == 200  # funders may leave first
    deleted = main.client.delete(f"/teams/{tid}")
    assert deleted.status_code == 200, deleted.text
    assert nanos(balance(main.client)["balance"]) == 0
    assert nanos(balance(sock.client)["balance"]) == 5 * USD
    assert nanos(balance(other.client)["balance"]) == 2 * USD
    assert _kept(database_url, account) == 3 * USD
    rows = run_sql(database_url, "SELECT user_id, amount FROM credit_transactions WHERE reference LIKE :p0 "
                   "ORDER BY user_id, amount", f"team:{tid}:return:%")
    assert sorted(rows) == sorted([(sock.id, 5 * USD), (other.id, 2 * USD), (account, -5 * USD),
                                   (account, -2 * USD)])


def test_a_refund_the_ledger_could_not_take_back_is_withheld(
    gateway: Any, admin: httpx.Client, make_user: Any, database_url: str
) -> None:
    """Review F1: buy, move the credit into a pool, get the purchase refunded (the refund finds
    nothing to take: a shortfall), delete the team: the shortfall stays in the closed account."""
    owner = make_user()
    grant(admin, owner.id, "5")  # stands for the purchase
    team = new_team(owner)
    _move(owner, team["id"], "5")
    now = datetime.now(UTC)
    run_sql(database_url, "INSERT INTO payment_refunds (payment_id, user_id, status, amount_cents, credits, "
            "credits_deducted, forced, created_at) VALUES (0, :p0, 'succeeded', 400, :p1, 0, true, :p2)",
            owner.id, 4 * USD, now.replace(tzinfo=None) if database_url.startswith("sqlite") else now)
    assert owner.client.delete(f"/teams/{team['id']}").status_code == 200
    assert nanos(balance(owner.client)["balance"]) == USD
    assert _kept(database_url, team["account_id"]) == 4 * USD


def test_what_was_spent_comes_off_the_oldest_transfers(
    gateway: Any, admin: httpx.Client, make_user: Any, fake_b: FakeProvider, database_url: str
) -> None:
    fake_b.set(reply=" ".join(["word"] * 50))  # exactly $0.01 a request
    owner, early, late = make_user(), make_user(), make_user()
    for person in (early, late):
        grant(admin, person.id, "1")
    team = new_team(owner)
    tid = team["id"]
    join(owner, tid, early, "member")
    join(owner, tid, late, "member")
    _move(early, tid, "0.05")
    _move(late, tid, "0.03")
    key = team_key(owner, tid)
    for _ in range(4):
        assert chat(gateway.url, key["key"]).status_code == 200
    assert owner.client.delete(f"/teams/{tid}").status_code == 200
    assert nanos(balance(late.client)["balance"]) == USD  # the newest transfer, whole
    assert nanos(balance(early.client)["balance"]) == USD - 4 * USD // 100  # 0.05 in, 0.01 back
    assert nanos(balance(owner.client)["balance"]) == 0
    assert _kept(database_url, team["account_id"]) == 0


def test_the_return_plan() -> None:
    newest_first = [(2, 30), (1, 50), (3, -10), (3, 40), (2, 20)]  # user 3 already had 10 back
    assert plan_returns(newest_first, 1000) == {2: 50, 1: 50, 3: 30}
    assert plan_returns(newest_first, 100) == {2: 30, 1: 50, 3: 20}
    assert plan_returns(newest_first, 60) == {2: 30, 1: 30}
    assert plan_returns(newest_first, 0) == {}
    assert plan_returns(newest_first, -5) == {}
