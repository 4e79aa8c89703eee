"""Rights that end: a removed or demoted admin's team keys and invitations stop working, a capped
admin's team key carries the cap, admins act only on members and viewers, sandbox keys only read."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.fakeprovider import FakeProvider
from tests.support.databases import run_sql
from tests.support.money import grant
from tests.support.teams import chat, invite, join, new_team, team_key


def _until_refused(url: str, key: str) -> int:
    """The status of a chat with `key`, waiting up to 2 s for a change to reach every process."""
    deadline = time.monotonic() + 2
    while True:
        status = chat(url, key).status_code
        if status != 200 or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def _accept(user: Any, token: str) -> httpx.Response:
    return user.client.post("/teams/invitations/accept", json={"token": token})  # type: ignore[no-any-return]


def test_team_keys_of_a_removed_or_demoted_admin_stop(
    gateway: Any, admin: httpx.Client, make_user: Any, fake_b: FakeProvider
) -> None:
    fake_b.set(reply="ok")
    owner, first, second, third = (make_user() for _ in range(4))
    team = new_team(owner)
    tid = team["id"]
    grant(admin, team["account_id"], "1")
    for person in (first, second, third):
        join(owner, tid, person, "admin")
    keys = {p.id: team_key(p, tid, owner="team") for p in (first, second, third)}
    assert [keys[p.id]["created_by"] for p in (first, second, third)] == [first.id, second.id, third.id]
    assert all(k["member_user_id"] is None for k in keys.values())
    listed = owner.client.get(f"/teams/{tid}/api-keys").json()["data"]
    assert {k["id"]: k["created_by"] for k in listed} == {k["id"]: uid for uid, k in keys.items()}
    for key in keys.values():
        assert chat(gateway.url, key["key"]).status_code == 200
    owners_key = team_key(owner, tid, owner="team")
    # removed; demoted to member; demoted to viewer: the team's keys they made are revoked
    assert owner.client.delete(f"/teams/{tid}/members/{first.id}").status_code == 200
    assert owner.client.patch(f"/teams/{tid}/members/{second.id}", json={"role": "member"}).status_code == 200
    assert owner.client.patch(f"/teams/{tid}/members/{third.id}", json={"role": "viewer"}).status_code == 200
    for person in (first, second, third):
        assert _until_refused(gateway.url, keys[person.id]["key"]) == 401, person.id
    everything = owner.client.get(f"/teams/{tid}/api-keys", params={"include_revoked": "true"}).json()["data"]
    revoked = {k["id"] for k in everything if k["revoked_at"] is not None}
    assert revoked == {k["id"] for k in keys.values()}
    # the demoted member keeps spending with their own member key; the owner's team key is untouched
    own = team_key(second, tid)
    assert chat(gateway.url, own["key"]).status_code == 200
    assert chat(gateway.url, owners_key["key"]).status_code == 200


def test_a_capped_admins_team_key_carries_their_cap(
    gateway: Any, admin: httpx.Client, make_user: Any, fake_b: FakeProvider
) -> None:
    fake_b.set(reply=" ".join(["word"] * 50))  # exactly $0.01 a request
    owner, capped = make_user(), make_user()
    team = new_team(owner)
    tid = team["id"]
    grant(admin, team["account_id"], "1")
    join(owner, tid, capped, "admin")
    response = owner.client.patch(f"/teams/{tid}/members/{capped.id}", json={"spend_cap": "0.01"})
    assert response.status_code == 200, response.text
    key = team_key(capped, tid, owner="team")
    assert chat(gateway.url, key["key"]).status_code == 200
    refused = chat(gateway.url, key["key"])
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "member_cap_exceeded"
    # lifting the cap reaches the key within a second
    assert owner.client.patch(f"/teams/{tid}/members/{capped.id}", json={"spend_cap": None}).status_code == 200
    deadline = time.monotonic() + 2
    while chat(gateway.url, key["key"]).status_code != 200:
        assert time.monotonic() < deadline


def test_invitations_of_a_removed_or_demoted_inviter_stop_working(
    gateway: Any, admin: httpx.Client, make_user: Any, database_url: str
) -> None:
    owner, demoted, removed, co_owner, guest = (make_user() for _ in range(5))
    team = new_team(owner)
    tid = team["id"]
    join(owner, tid, demoted, "admin")
    join(owner, tid, removed, "admin")
    join(owner, tid, co_owner, "owner")
    by_demoted = [invite(demoted, tid, role=r, expires_in_hours=720) for r in ("admin", "member")]
    by_removed = invite(removed, tid, role="admin")
    as_owner, as_admin = invite(co_owner, tid, role="owner"), invite(co_owner, tid, role="admin")
    assert owner.client.patch(f"/teams/{tid}/members/{demoted.id}", json={"role": "member"}).status_code == 200
    assert owner.client.delete(f"/teams/{tid}/members/{removed.id}").status_code == 200
    assert owner.client.patch(f"/teams/{tid}/members/{co_owner.id}", json={"role": "admin"}).status_code == 200
    states = {i["id"]: i["revoked_at"] for i in owner.client.get(f"/teams/{tid}/invitations").json()["data"]}
    gone = [*by_demoted, by_removed, as_owner]
    assert all(states[i["id"]] is not None for i in gone)
    assert states[as_admin["id"]] is None  # an admin may still admit admins
    # even with the revocation undone behind the gateway's back, accepting re-checks the inviter
    for row in gone:
        run_sql(database_url, "UPDATE team_invitations SET revoked_at = NULL WHERE id = :p0", row["id"])
    for row in gone:
        refused = _accept(guest, row["token"])
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "invitation_not_found"
    assert removed.client.get(f"/teams/{tid}").status_code == 404
    assert _accept(guest, as_admin["token"]).json()["role"] == "admin"


def test_admins_act_only_on_members_and_viewers(gateway: Any, make_user: Any) -> None:
    owner, one, other, member = (make_user() for _ in range(4))
    team = new_team(owner)
    tid = team["id"]
    join(owner, tid, one, "admin")
    join(owner, tid, other, "admin")
    join(owner, tid, member, "member")
    for body in ({"role": "viewer"}, {"role": "admin"}, {"spend_cap": "0"}, {"cap_period": "daily"}):
        refused = one.client.patch(f"/teams/{tid}/members/{other.id}", json=body)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "team_role_insufficient", body
    assert one.client.delete(f"/teams/{tid}/members/{other.id}").status_code == 403
    assert one.client.patch(f"/teams/{tid}/members/{member.id}", json={"spend_cap": "1"}).status_code == 200
    assert one.client.patch(f"/teams/{tid}/members/{member.id}", json={"role": "viewer"}).status_code == 200
    assert one.client.delete(f"/teams/{tid}/members/{member.id}").status_code == 200
    assert owner.client.patch(f"/teams/{tid}/members/{other.id}", json={"spend_cap": "2"}).status_code == 200
    assert one.client.patch(f"/teams/{tid}/members/{one.id}", json={"role": "member"}).status_code == 200  # itself
    assert owner.client.delete(f"/teams/{tid}/members/{other.id}").status_code == 200


def test_sandbox_keys_read_teams_but_change_nothing(gateway: Any, make_user: Any) -> None:
    owner, guest = make_user(), make_user()
    team = new_team(owner)
    tid = team["id"]
    join(owner, tid, guest, "member")
    made = owner.client.post("/user/api-keys", json={"name": "ci", "environment": "test",
                                                      "scopes": ["inference", "keys", "billing"]})
    assert made.status_code == 201, made.text
    sandbox = httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {made.json()['key']}"})
    key = team_key(owner, tid)
    token = invite(owner, tid, role="admin")["token"]
    with sandbox:
        for path in ("", "/members", "/api-keys", "/invitations", "/balance"):
            assert sandbox.get(f"/teams/{tid}{path}").status_code == 200, path
        assert sandbox.get("/teams").status_code == 200
        attempts = [
            ("POST", "/teams", {"name": "x"}), ("PATCH", f"/teams/{tid}", {"name": "x"}),
            ("DELETE", f"/teams/{tid}", None), ("POST", f"/teams/{tid}/invitations", {"role": "admin"}),
            ("POST", f"/teams/{tid}/members", {"role": "admin"}),
            ("PATCH", f"/teams/{tid}/members/{guest.id}", {"spend_cap": None}),
            ("DELETE", f"/teams/{tid}/members/{guest.id}", None),
            ("POST", f"/teams/{tid}/api-keys", {"owner": "team"}),
            ("PATCH", f"/teams/{tid}/api-keys/{key['id']}", {"name": "y"}),
            ("POST", f"/teams/{tid}/api-keys/{key['id']}/rotate", None),
            ("DELETE", f"/teams/{tid}/api-keys/{key['id']}", None),
            ("POST", f"/teams/{tid}/credits", {"amount": "1"}),
            ("POST", "/teams/invitations/accept", {"token": token}),
        ]
        for method, path, body in attempts:
            refused = sandbox.request(method, path, json=body)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "sandbox_key", (method, path)
    assert owner.client.get(f"/teams/{tid}").json()["name"] == team["name"]
    assert owner.client.get(f"/teams/{tid}/api-keys/{key['id']}").json()["revoked_at"] is None
