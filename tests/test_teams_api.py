"""The teams API as users see it: roles and what each may do, invitations (single use, expiring,
bound to an address), 404 for non-members, moving credit into a pool, deleting a team, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.databases import run_sql
from tests.support.money import balance, grant, nanos
from tests.support.plans import assign, make_plan
from tests.support.teams import invite, join, new_team, team_key


def _audited(admin: httpx.Client, action: str, target_id: str) -> list[dict[str, Any]]:
    response = admin.get("/admin/audit-logs", params={"action": action, "target_id": target_id})
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def test_roles_decide_who_reads_spends_and_manages(gateway: Any, admin: httpx.Client, make_user: Any) -> None:
    owner, adm, member, viewer, stranger = (make_user() for _ in range(5))
    team = new_team(owner, "Acme")
    tid = team["id"]
    assert team["role"] == "owner" and team["name"] == "Acme"
    for person, role in ((adm, "admin"), (member, "member"), (viewer, "viewer")):
        join(owner, tid, person, role)
    assert {t["id"]: t["role"] for t in viewer.client.get("/teams").json()["data"]} == {tid: "viewer"}
    # viewers read everything, change nothing
    for path in ("", "/members", "/balance", "/credit-transactions", "/usage", "/api-keys"):
        assert viewer.client.get(f"/teams/{tid}{path}").status_code == 200, path
    assert viewer.client.patch(f"/teams/{tid}", json={"name": "x"}).status_code == 403
    assert viewer.client.post(f"/teams/{tid}/invitations", json={}).status_code == 403
    assert viewer.client.post(f"/teams/{tid}/credits", json={"amount": "1"}).status_code == 403
    # a member spends (own keys) but manages nobody, and never the team's own keys
    assert member.client.post(f"/teams/{tid}/api-keys", json={"owner": "team"}).status_code == 403
    mine = team_key(member, tid)
    assert member.client.patch(f"/teams/{tid}/members/{viewer.id}", json={"role": "member"}).status_code == 403
    # an admin manages members and every key, but cannot make owners nor touch an owner
    assert adm.client.patch(f"/teams/{tid}/members/{viewer.id}", json={"role": "member"}).status_code == 200
    assert adm.client.patch(f"/teams/{tid}/members/{member.id}", json={"role": "owner"}).status_code == 403
    assert adm.client.patch(f"/teams/{tid}/members/{adm.id}", json={"role": "owner"}).status_code == 403
    assert adm.client.delete(f"/teams/{tid}/members/{owner.id}").status_code == 403
    assert adm.client.post(f"/teams/{tid}/invitations", json={"role": "owner"}).status_code == 403
    assert adm.client.delete(f"/teams/{tid}").status_code == 403
    assert adm.client.delete(f"/teams/{tid}/api-keys/{mine['id']}").status_code == 200
    # a member sees another member's key in the listing but cannot change it (404)
    theirs = team_key(owner, tid)
    assert viewer.client.get(f"/teams/{tid}/api-keys/{theirs['id']}").json()["member_user_id"] == owner.id
    assert viewer.client.get(f"/teams/{tid}/api-keys/{member.key_id}").status_code == 404  # a personal key
    assert member.client.delete(f"/teams/{tid}/api-keys/{theirs['id']}").status_code == 404
    # team keys carry the inference scope only
    wide = owner.client.post(f"/teams/{tid}/api-keys", json={"scopes": ["inference", "keys"]})
    assert wide.status_code == 400 and wide.json()["error"]["code"] == "team_key_scope"
    # the last owner stays: not demoted, not leaving
    assert owner.client.patch(f"/teams/{tid}/members/{owner.id}", json={"role": "admin"}).status_code == 409
    assert owner.client.delete(f"/teams/{tid}/members/{owner.id}").status_code == 409
    # a non-member gets 404 for everything, exactly as for a team that does not exist
    for method, path in (("GET", ""), ("GET", "/members"), ("GET", "/balance"), ("PATCH", ""),
                         ("POST", "/api-keys"), ("DELETE", f"/members/{owner.id}"), ("GET", "/usage")):
        response = stranger.client.request(method, f"/teams/{tid}{path}", json={} if method != "GET" else None)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "team_not_found"
    assert stranger.client.get("/teams/999999999").json()["error"]["code"] == "team_not_found"
    assert stranger.client.get("/teams/abc").status_code == 400
    # the pool's account is no user: it is hidden from the user listing
    listed = admin.get("/admin/users", params={"limit": 500}).json()["data"]
    assert team["account_id"] not in {u["id"] for u in listed}
    assert _audited(admin, "team.member.update", f"{tid}:{viewer.id}")[0]["after"] == {"role": "member"}


def test_invitations_are_single_use_expire_and_bind_to_an_address(
    gateway: Any, admin: httpx.Client, make_user: Any, database_url: str
) -> None:
    owner, alice, bob, carol = (make_user() for _ in range(4))
    tid = new_team(owner)["id"]
    link = invite(owner, tid, role="viewer")
    assert link["token"].startswith("gwinv_") and link["email"] is None
    stored = run_sql(database_url, "SELECT token_hash FROM team_invitations WHERE id = :p0", link["id"])
    assert stored[0][0] != link["token"] and link["token"] not in str(stored)  # only its HMAC is kept
    assert alice.client.post("/teams/invitations/accept", json={"token": link["token"]}).status_code == 200
    reused = bob.client.post("/teams/invitations/accept", json={"token": link["token"]})
    assert reused.status_code == 404 and reused.json()["error"]["code"] == "invitation_not_found"
    # bound to an address: another user cannot use it (and it stays usable for its addressee)
    for_carol = invite(owner, tid, email=carol.email.upper(), role="member")
    assert bob.client.post("/teams/invitations/accept", json={"token": for_carol["token"]}).status_code == 404
    assert carol.client.post("/teams/invitations/accept", json={"token": for_carol["token"]}).json()["role"] == "member"
    # already a member: refused, and the invitation is not used up
    again = invite(owner, tid, email=alice.email)
    assert alice.client.post("/teams/invitations/accept", json={"token": again["token"]}).status_code == 409
    # expired
    late = invite(owner, tid, email=bob.email, expires_in_hours=1)
    past = datetime.now(UTC) - timedelta(seconds=1)
    run_sql(database_url, "UPDATE team_invitations SET expires_at = :p0 WHERE id = :p1",
            past.replace(tzinfo=None) if database_url.startswith("sqlite") else past, late["id"])
    assert bob.client.post("/teams/invitations/accept", json={"token": late["token"]}).status_code == 404
    # revoked, guessed, over-long
    revoked = invite(owner, tid, email=bob.email)
    assert owner.client.delete(f"/teams/{tid}/invitations/{revoked['id']}").json()["revoked_at"] is not None
    assert bob.client.post("/teams/invitations/accept", json={"token": revoked["token"]}).status_code == 404
    assert bob.client.post("/teams/invitations/accept", json={"token": "gwinv_guess"}).status_code == 404
    for bad in ({"token": "x" * 200}, {"token": ""}, {"token": 5}, {}, {"token": "gwinv_x", "more": 1}):
        assert bob.client.post("/teams/invitations/accept", json=bad).status_code == 400, bad
    # the token never travels in a URL (access logs record paths): the path form is gone
    fresh, dave = invite(owner, tid, role="member")["token"], make_user()
    assert dave.client.post(f"/teams/invitations/{fresh}/accept").status_code in (404, 405)
    assert dave.client.post("/teams/invitations/accept", json={"token": fresh}).json()["role"] == "member"
    assert bob.client.get(f"/teams/{tid}").status_code == 404
    bad = owner.client.post(f"/teams/{tid}/invitations", json={"expires_in_hours": 0})
    assert bad.status_code == 400
    assert [r["action"] for r in _audited(admin, "team.member.join", f"{tid}:{carol.id}")] == ["team.member.join"]


def test_moving_credit_into_a_pool_and_deleting_the_team(
    gateway: Any, admin: httpx.Client, make_user: Any, database_url: str
) -> None:
    owner, member = make_user(), make_user()
    team = new_team(owner)
    tid, account = team["id"], team["account_id"]
    join(owner, tid, member, "member")
    grant(admin, member.id, "3")
    grant(admin, member.id, "2", expires_at=(datetime.now(UTC) + timedelta(days=3)).isoformat())
    moved = member.client.post(f"/teams/{tid}/credits", json={"amount": "2.5", "reason": "our share"})
    assert moved.status_code == 201, moved.text
    assert nanos(moved.json()["balance"]) == 2_500_000_000
    assert nanos(balance(member.client)["balance"]) == 2_500_000_000
    rows = run_sql(database_url, "SELECT user_id, amount FROM credit_transactions WHERE reference = :p0 "
                   "ORDER BY amount", moved.json()["reference"])
    assert rows == [(member.id, -2_500_000_000), (account, 2_500_000_000)]
    # credit that expires does not move (3 non-expiring - 2.5 moved leaves 0.5 that may)
    over = member.client.post(f"/teams/{tid}/credits", json={"amount": "0.6"})
    assert over.status_code == 400 and over.json()["error"]["code"] == "insufficient_balance"
    for amount in ("0", "-1", "1e30", "abc"):
        assert member.client.post(f"/teams/{tid}/credits", json={"amount": amount}).status_code == 400, amount
    ledger = owner.client.get(f"/teams/{tid}/credit-transactions").json()["data"]
    assert [(t["type"], nanos(t["amount"])) for t in ledger] == [("transfer", 2_500_000_000)]
    # deleting: owner only; what the member moved in goes back to them (not to the owner), an
    # admin's grant to the pool stays in the closed account; every team key stops
    grant(admin, account, "1")
    key = team_key(member, tid)
    assert member.client.delete(f"/teams/{tid}").status_code == 403
    deleted = owner.client.delete(f"/teams/{tid}")
    assert deleted.status_code == 200, deleted.text
    assert nanos(balance(owner.client)["balance"]) == 0
    assert nanos(balance(member.client)["balance"]) == 5_000_000_000
    assert run_sql(database_url, "SELECT balance FROM credit_accounts WHERE user_id = :p0", account) == [
        (1_000_000_000,)]
    assert owner.client.get(f"/teams/{tid}").status_code == 404
    assert member.client.get("/teams").json()["data"] == []
    gone = httpx.post(f"{gateway.url}/v1/chat/completions", headers={"Authorization": f"Bearer {key['key']}"},
                      json={"model": "fakepriced/priced-model", "messages": [{"role": "user", "content": "x"}]})
    assert gone.status_code == 401
    after = _audited(admin, "team.delete", str(tid))[0]["after"]
    assert (after["balance_returned"], after["returned"], after["balance_kept"]) == (
        "2.500000000", {str(member.id): "2.500000000"}, "1.000000000")


def test_the_teams_plan_bounds_its_keys(gateway: Any, admin: httpx.Client, make_user: Any) -> None:
    owner, member = make_user(), make_user()
    team = new_team(owner)
    join(owner, team["id"], member, "member")
    assign(admin, team["account_id"], make_plan(admin, max_keys=2)["id"])  # the team's account's plan
    first = team_key(member, team["id"])
    team_key(owner, team["id"], owner="team")
    refused = member.client.post(f"/teams/{team['id']}/api-keys", json={"name": "third"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "plan_key_limit"
    assert member.client.delete(f"/teams/{team['id']}/api-keys/{first['id']}").status_code == 200
    team_key(member, team["id"], name="third")  # a revoked key frees its place
    # the members' own keys are theirs, not the team's
    assert member.client.post("/user/api-keys", json={"name": "mine"}).status_code == 201


def test_two_owners_leaving_at_once_leave_one_owner(gateway: Any, make_user: Any) -> None:
    import asyncio

    pairs = []
    for _ in range(6):
        first, second = make_user(), make_user()
        tid = new_team(first)["id"]
        join(first, tid, second, "owner")
        pairs.append((tid, first, second))

    async def leave_together() -> list[int]:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            calls = [client.delete(f"/teams/{tid}/members/{person.id}",
                                   headers={"Authorization": f"Bearer {person.key}"})
                     for tid, *people in pairs for person in people]
            return [r.status_code for r in await asyncio.gather(*calls)]

    statuses = asyncio.run(leave_together())
    assert [sorted(statuses[i:i + 2]) for i in range(0, len(statuses), 2)] == [[200, 409]] * len(pairs), statuses
    for tid, first, second in pairs:
        stayed = next(p for p in (first, second) if p.client.get(f"/teams/{tid}").status_code == 200)
        members = stayed.client.get(f"/teams/{tid}/members").json()["data"]
        assert [(m["user_id"], m["role"]) for m in members] == [(stayed.id, "owner")]


def test_the_compliance_report_counts_team_keys(gateway: Any, admin: httpx.Client, make_user: Any) -> None:
    def counts() -> dict[str, int]:
        response = admin.get("/admin/compliance/report")
        assert response.status_code == 200, response.text
        return response.json()["counts"]  # type: ignore[no-any-return]

    owner = make_user()
    tid = new_team(owner)["id"]
    before = counts()
    key = team_key(owner, tid)
    assert owner.client.post(f"/teams/{tid}/api-keys/{key['id']}/rotate").status_code == 200
    assert owner.client.delete(f"/teams/{tid}/api-keys/{key['id']}").status_code == 200
    after = counts()
    assert [after[n] - before[n] for n in ("key_creations", "key_rotations", "key_revocations")] == [1, 1, 1]
