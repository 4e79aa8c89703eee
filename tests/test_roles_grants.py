"""Who may give which rights: nobody grants a permission they do not hold, nobody widens their own
rights (through roles, role edits, or the legacy `role` field); the `support` role's bounded grants;
PUT /admin/users/{id}/roles and the `role` column kept in step."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.identity import GwUser
from tests.support.roles import make_role, refused, staff


@pytest.fixture
def manager(admin: httpx.Client, gateway: Any) -> Iterator[tuple[GwUser, str]]:
    """A user who may write users, write and assign roles, and read, but holds no credit permission."""
    role = make_role(admin, ["users.read", "users.write", "roles.read", "roles.write", "roles.assign"])
    person = staff(admin, gateway.url, [role])
    yield person, role
    person.client.close()


@pytest.fixture
def support(admin: httpx.Client, gateway: Any) -> Iterator[GwUser]:
    person = staff(admin, gateway.url, ["support"])
    yield person
    person.client.close()


def _roles(admin: httpx.Client, user_id: int) -> list[str]:
    response = admin.get(f"/admin/users/{user_id}/roles")
    assert response.status_code == 200
    return response.json()["roles"]  # type: ignore[no-any-return]


def test_no_one_grants_a_permission_they_do_not_hold(manager: tuple[GwUser, str], admin: httpx.Client,
                                                   user: GwUser) -> None:
    person, _ = manager
    c = person.client
    assert refused(c.post("/admin/roles", json={"name": f"x-{person.id}", "permissions": ["credits.grant"]}),
                   "permission_not_held")
    assert refused(c.post("/admin/roles", json={"name": f"y-{person.id}", "inherits": ["support"]}),
                   "permission_not_held")  # support's credits.grant_small, by inheritance
    assert refused(c.put(f"/admin/users/{user.id}/roles", json={"roles": ["support"]}), "permission_not_held")
    assert refused(c.put(f"/admin/users/{user.id}/roles", json={"roles": ["admin"]}), "permission_not_held")
    assert refused(c.patch(f"/admin/users/{user.id}", json={"role": "admin"}), "permission_not_held")
    assert _roles(admin, user.id) == ["user"]
    email = f"made-admin-{person.id}@example.com"
    for body in ({"email": email, "role": "admin"}, {"email": email, "roles": ["support"]}):
        assert refused(c.post("/admin/users", json=body), "permission_not_held")
    assert admin.get("/admin/users", params={"email": email}).json()["total"] == 0  # rolled back whole
    # within their own permissions they may: a role, given to someone
    within = c.post("/admin/roles", json={"name": f"reader-{person.id}", "permissions": ["users.read"]})
    assert within.status_code == 201, within.text
    given = c.put(f"/admin/users/{user.id}/roles", json={"roles": [f"reader-{person.id}"]})
    assert given.status_code == 200 and given.json() == {
        "user_id": user.id, "roles": ["user", f"reader-{person.id}"], "permissions": ["users.read"]}
    # and nobody edits a role to hold more than they do
    assert refused(c.patch(f"/admin/roles/reader-{person.id}", json={"permissions": ["users.read", "limits.write"]}),
                   "permission_not_held")


def test_no_one_widens_their_own_rights(manager: tuple[GwUser, str], admin: httpx.Client) -> None:
    person, own_role = manager
    c = person.client
    assert refused(c.patch(f"/admin/users/{person.id}", json={"role": "admin"}), "permission_not_held")
    assert refused(c.put(f"/admin/users/{person.id}/roles", json={"roles": [own_role, "admin"]}),
                   "permission_not_held")
    assert refused(c.put(f"/admin/users/{person.id}/roles", json={"roles": [own_role, "support"]}),
                   "permission_not_held")
    assert refused(c.patch(f"/admin/roles/{own_role}", json={"permissions": ["users.read", "credits.grant"]}),
                   "permission_not_held")
    assert refused(c.patch(f"/admin/roles/{own_role}", json={"inherits": ["admin"]}), "permission_not_held")
    assert refused(c.post("/admin/credits", json={"user_id": person.id, "amount": "1", "reason": "me"}))
    assert _roles(admin, person.id) == ["user", own_role]
    assert admin.get(f"/admin/users/{person.id}").json()["role"] == "user"


def test_no_one_acts_against_someone_holding_more(manager: tuple[GwUser, str], admin: httpx.Client,
                                                  gateway: Any) -> None:
    person, _ = manager
    boss = staff(admin, gateway.url, ["admin"])
    try:
        assert refused(person.client.patch(f"/admin/users/{boss.id}", json={"is_active": False}),
                       "permission_not_held")
        assert refused(person.client.put(f"/admin/users/{boss.id}/roles", json={"roles": []}),
                       "permission_not_held")
        assert boss.client.get("/admin/users").status_code == 200
        # an admin may take admin from another admin, never from themselves
        assert admin.put(f"/admin/users/{boss.id}/roles", json={"roles": []}).status_code == 200
        assert refused(boss.client.get("/admin/users"))
        assert admin.get(f"/admin/users/{boss.id}").json()["role"] == "user"
    finally:
        boss.client.close()
    me = admin.get("/admin/users", params={"email": "admin@example.com"}).json()["data"][0]["id"]
    for attempt in (admin.put(f"/admin/users/{me}/roles", json={"roles": []}),
                    admin.patch(f"/admin/users/{me}", json={"role": "user"})):
        assert attempt.status_code == 400, attempt.text
    assert "admin" in _roles(admin, me)


def test_support_reads_and_grants_small_credits(support: GwUser, user: GwUser, gateway: Any) -> None:
    c = support.client
    limit = gateway.settings.support_max_credit_grant_usd
    assert c.get("/admin/users").status_code == 200 and c.get(f"/admin/users/{user.id}").status_code == 200
    assert c.get("/admin/security-events").status_code == 200 and c.get("/admin/roles").status_code == 200
    granted = c.post("/admin/credits", json={"user_id": user.id, "amount": str(limit), "reason": "sorry"})
    assert granted.status_code == 201, granted.text
    assert granted.json()["balance"] == granted.json()["amount"]
    over = c.post("/admin/credits", json={"user_id": user.id, "amount": str(limit + 1), "reason": "too much"})
    assert refused(over, "grant_over_limit") and over.json()["error"]["param"] == "amount"
    assert refused(c.post("/admin/credits", json={"user_id": user.id, "amount": "-1", "reason": "take"}),
                   "grant_over_limit")
    assert refused(c.post("/admin/credits", json={"user_id": support.id, "amount": "1", "reason": "me"}),
                   "self_grant")
    own_team = c.post("/teams", json={"name": "mine"}).json()  # its pool would come back to them on deletion
    assert refused(c.post("/admin/credits", json={"user_id": own_team["account_id"], "amount": "1", "reason": "pool"}),
                   "team_grant")
    assert user.client.get("/user/balance").json()["balance"] == granted.json()["balance"]
    for attempt in (
        c.patch(f"/admin/users/{user.id}", json={"is_active": False}),
        c.post("/admin/refunds", json={"request_id": "req_x", "reason": "no"}),
        c.put(f"/admin/users/{user.id}/rate-limits", json={}),
        c.put(f"/admin/users/{user.id}/roles", json={"roles": ["support"]}),
        c.post("/admin/roles", json={"name": f"s-{support.id}"}),
    ):
        assert refused(attempt), attempt.text


def test_a_user_holds_several_roles(admin: httpx.Client, user: GwUser) -> None:
    readers = make_role(admin, ["users.read"])
    limiters = make_role(admin, ["limits.write"])
    response = admin.put(f"/admin/users/{user.id}/roles", json={"roles": [limiters, readers, "user", readers]})
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["user", *sorted([limiters, readers])]
    assert response.json()["permissions"] == ["limits.write", "users.read"]
    # the user's key has no admin scope: roles do not replace scopes
    assert refused(user.client.get("/admin/users"), "insufficient_scope")
    bad = admin.put(f"/admin/users/{user.id}/roles", json={"roles": ["x"] * 33})
    assert bad.status_code == 400
    assert admin.put("/admin/users/999999999/roles", json={"roles": []}).status_code == 404


def test_the_role_column_follows_the_admin_role(admin: httpx.Client, gateway: Any) -> None:
    created = admin.post("/admin/users", json={"email": f"legacy-{id(admin)}@example.com", "role": "admin"})
    assert created.status_code == 201 and created.json()["user"]["role"] == "admin"
    person = created.json()["user"]["id"]
    assert "admin" in created.json()["api_key"]["scopes"]
    assert _roles(admin, person) == ["user", "admin"]
    with httpx.Client(base_url=gateway.url,
                      headers={"Authorization": f"Bearer {created.json()['api_key']['key']}"}) as theirs:
        assert theirs.get("/admin/roles").status_code == 200
        demoted = admin.patch(f"/admin/users/{person}", json={"role": "user"})
        assert demoted.status_code == 200 and demoted.json()["role"] == "user"
        assert _roles(admin, person) == ["user"] and refused(theirs.get("/admin/roles"))
        promoted = admin.put(f"/admin/users/{person}/roles", json={"roles": ["admin"]})
        assert promoted.status_code == 200
        assert admin.get(f"/admin/users/{person}").json()["role"] == "admin"
        assert theirs.get("/admin/roles").status_code == 200


def test_the_admin_scope_needs_a_role(admin: httpx.Client, user: GwUser) -> None:
    """A key with the `admin` scope is only for a user holding a role (and never a sandbox key)."""
    asked = user.client.post("/user/api-keys", json={"name": "wants admin", "scopes": ["admin"]})
    assert asked.status_code == 403
    created = admin.post("/admin/users", json={"email": f"plain-{user.id}@example.com"})
    assert "admin" not in created.json()["api_key"]["scopes"]
