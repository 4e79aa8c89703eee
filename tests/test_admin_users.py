"""`/admin/users`: admins create, list, read and deactivate users."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.support.identity import GwUser


def _email() -> str:
    return f"person-{secrets.token_hex(4)}@example.com"


def test_create_user_returns_user_and_a_working_key(admin: httpx.Client, anon: httpx.Client) -> None:
    email = _email()
    response = admin.post("/admin/users", json={"email": email.upper(), "name": "Ada"})
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == email  # normalised to lower case
    assert body["user"]["name"] == "Ada"
    assert body["user"]["role"] == "user"
    assert body["user"]["is_active"] is True
    key = body["api_key"]["key"]
    assert key.startswith("gw_live_")
    assert body["api_key"]["scopes"] == ["inference", "keys", "billing"]
    listed = anon.get("/user/api-keys", headers={"Authorization": f"Bearer {key}"})
    assert listed.status_code == 200
    assert [k["id"] for k in listed.json()["data"]] == [body["api_key"]["id"]]
    assert "key" not in listed.json()["data"][0]  # the secret is shown only at creation


def test_duplicate_email_is_a_conflict(admin: httpx.Client) -> None:
    email = _email()
    assert admin.post("/admin/users", json={"email": email}).status_code == 201
    again = admin.post("/admin/users", json={"email": email})
    assert again.status_code == 409
    assert again.json()["error"]["param"] == "email"


def test_invalid_email_and_role_are_400_naming_the_param(admin: httpx.Client) -> None:
    bad_email = admin.post("/admin/users", json={"email": "not-an-email"})
    assert bad_email.status_code == 400
    assert bad_email.json()["error"]["param"] == "email"
    assert bad_email.json()["error"]["type"] == "invalid_request_error"
    bad_role = admin.post("/admin/users", json={"email": _email(), "role": "superuser"})
    assert bad_role.status_code == 400
    assert bad_role.json()["error"]["param"] == "role"


def test_list_and_get_users(admin: httpx.Client, make_user: Any) -> None:
    created: GwUser = make_user()
    page = admin.get("/admin/users", params={"email": created.email}).json()
    assert page["total"] == 1
    assert page["data"][0]["id"] == created.id
    one = admin.get(f"/admin/users/{created.id}")
    assert one.status_code == 200 and one.json()["email"] == created.email
    missing = admin.get("/admin/users/987654321")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    paged = admin.get("/admin/users", params={"limit": 1, "offset": 0}).json()
    assert len(paged["data"]) == 1 and paged["total"] >= 2


def test_deactivating_a_user_stops_all_their_keys(admin: httpx.Client, make_user: Any) -> None:
    person: GwUser = make_user()
    second = person.client.post("/user/api-keys", json={"name": "second"}).json()["key"]
    assert person.client.get("/user/api-keys").status_code == 200
    response = admin.patch(f"/admin/users/{person.id}", json={"is_active": False})
    assert response.status_code == 200 and response.json()["is_active"] is False
    for key in (person.key, second):
        denied = httpx.get(f"{admin.base_url}/user/api-keys", headers={"Authorization": f"Bearer {key}"})
        assert denied.status_code == 401
        assert denied.json()["error"]["code"] == "account_deactivated"
    assert admin.patch(f"/admin/users/{person.id}", json={"is_active": True}).status_code == 200
    assert person.client.get("/user/api-keys").status_code == 200


def test_admin_endpoints_refuse_non_admins(make_user: Any) -> None:
    person: GwUser = make_user()
    response = person.client.get("/admin/users")
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"
    assert person.client.post("/admin/users", json={"email": _email()}).status_code == 403


def test_admin_needs_the_admin_scope_too(admin: httpx.Client) -> None:
    limited = admin.post("/user/api-keys", json={"name": "no-admin", "scopes": ["keys"]}).json()["key"]
    response = httpx.get(f"{admin.base_url}/admin/users", headers={"Authorization": f"Bearer {limited}"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


def test_admin_cannot_deactivate_themselves(admin: httpx.Client) -> None:
    me = admin.get("/admin/users", params={"email": "admin@example.com"}).json()["data"][0]
    response = admin.patch(f"/admin/users/{me['id']}", json={"is_active": False})
    assert response.status_code == 400
    assert admin.get("/admin/users").status_code == 200


def test_a_promoted_users_keys_do_not_gain_the_admin_scope(admin: httpx.Client, make_user: Any) -> None:
    person: GwUser = make_user()
    denied = person.client.post("/user/api-keys", json={"name": "x", "scopes": ["admin"]})
    assert denied.status_code == 403
    assert admin.patch(f"/admin/users/{person.id}", json={"role": "admin"}).json()["role"] == "admin"
    # the role allows admin keys, but a key never mints one with more scopes than it has itself
    still = person.client.post("/user/api-keys", json={"name": "x", "scopes": ["admin", "keys"]})
    assert still.status_code == 403 and still.json()["error"]["code"] == "key_rights_exceeded"
    # an admin user created as such gets a first key that can administer
    created = admin.post("/admin/users", json={"email": f"adm-{person.id}@example.com", "role": "admin"}).json()
    assert "admin" in created["api_key"]["scopes"]
    minted = httpx.post(f"{admin.base_url}/user/api-keys", json={"name": "y", "scopes": ["admin", "keys"]},
                        headers={"Authorization": f"Bearer {created['api_key']['key']}"})
    assert minted.status_code == 201
    as_admin = httpx.get(f"{admin.base_url}/admin/users", headers={"Authorization": f"Bearer {minted.json()['key']}"})
    assert as_admin.status_code == 200
