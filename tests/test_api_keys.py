"""`/user/api-keys`: create, list, read, update, revoke and rotate one's own keys."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.identity import GwUser

KEY_FORMAT = re.compile(r"^gw_(live|test|staging|dev)_[A-Za-z0-9_-]{43}$")


def _get(gateway_url: str, key: str, path: str = "/user/api-keys") -> httpx.Response:
    return httpx.get(f"{gateway_url}{path}", headers={"Authorization": f"Bearer {key}"})


def test_created_key_has_the_documented_format_and_fields(user: GwUser) -> None:
    response = user.client.post(
        "/user/api-keys",
        json={
            "name": "ci",
            "environment": "test",
            "scopes": ["inference"],
            "ip_allowlist": ["10.0.0.0/8", "2001:db8::1"],
            "allowed_referers": ["*.Example.com", "app.example.org"],
            "allowed_models": ["openai/*", "anthropic/claude-3-haiku"],
            "expires_in_days": 30,
            "max_requests": 1000,
            "metadata": {"team": "search"},
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert KEY_FORMAT.match(body["key"])
    assert body["key"].startswith("gw_test_")
    assert body["prefix"] == body["key"][: len("gw_test_") + 4]
    assert body["last4"] == body["key"][-4:]
    assert body["ip_allowlist"] == ["10.0.0.0/8", "2001:db8::1/128"]
    assert body["allowed_referers"] == ["*.example.com", "app.example.org"]
    assert body["allowed_models"] == ["openai/*", "anthropic/claude-3-haiku"]
    assert body["max_requests"] == 1000 and body["request_count"] == 0
    assert body["metadata"] == {"team": "search"}
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    assert body["revoked"] is False and body["last_used_at"] is None


def test_keys_are_unique_and_random(user: GwUser) -> None:
    keys = {user.client.post("/user/api-keys", json={"name": f"k{i}"}).json()["key"] for i in range(5)}
    assert len(keys) == 5
    assert all(KEY_FORMAT.match(k) for k in keys)


def test_list_get_update(user: GwUser) -> None:
    created = user.client.post("/user/api-keys", json={"name": "old"}).json()
    listed = user.client.get("/user/api-keys").json()["data"]
    assert {k["id"] for k in listed} == {user.key_id, created["id"]}
    one = user.client.get(f"/user/api-keys/{created['id']}").json()
    assert one["name"] == "old" and "key" not in one
    patched = user.client.patch(
        f"/user/api-keys/{created['id']}",
        json={"name": "new", "allowed_models": ["groq/*"], "metadata": {"a": 1}},
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "new"
    assert patched.json()["allowed_models"] == ["groq/*"]
    assert user.client.get(f"/user/api-keys/{created['id']}").json()["metadata"] == {"a": 1}


def test_last_used_and_request_count_are_recorded(user: GwUser) -> None:
    for _ in range(3):
        assert user.client.get("/user/api-keys").status_code == 200
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        me = user.client.get(f"/user/api-keys/{user.key_id}").json()
        if me["request_count"] >= 4 and me["last_used_at"]:
            break
        time.sleep(0.2)
    assert me["request_count"] >= 4
    assert me["last_used_at"] is not None


def test_revoke_stops_the_key_at_once(user: GwUser, gateway: Any) -> None:
    created = user.client.post("/user/api-keys", json={"name": "doomed"}).json()
    assert _get(gateway.url, created["key"]).status_code == 200
    revoked = user.client.delete(f"/user/api-keys/{created['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    denied = _get(gateway.url, created["key"])
    assert denied.status_code == 401
    assert denied.json()["error"]["code"] == "revoked_api_key"
    assert created["id"] not in [k["id"] for k in user.client.get("/user/api-keys").json()["data"]]
    with_revoked = user.client.get("/user/api-keys", params={"include_revoked": "true"}).json()["data"]
    assert created["id"] in [k["id"] for k in with_revoked]
    assert user.client.patch(f"/user/api-keys/{created['id']}", json={"name": "x"}).status_code == 400


def test_rotate_without_grace_kills_the_old_secret(user: GwUser, gateway: Any) -> None:
    created = user.client.post("/user/api-keys", json={"name": "rot"}).json()
    rotated = user.client.post(f"/user/api-keys/{created['id']}/rotate")
    assert rotated.status_code == 200
    body = rotated.json()
    assert body["id"] == created["id"] and body["key"] != created["key"]
    assert KEY_FORMAT.match(body["key"]) and body["rotated_at"]
    assert _get(gateway.url, created["key"]).status_code == 401
    assert _get(gateway.url, body["key"]).status_code == 200


def test_rotate_with_grace_keeps_the_old_secret_for_a_while(user: GwUser, gateway: Any) -> None:
    created = user.client.post("/user/api-keys", json={"name": "rot-grace"}).json()
    rotated = user.client.post(f"/user/api-keys/{created['id']}/rotate", json={"grace_period_seconds": 2}).json()
    assert _get(gateway.url, created["key"]).status_code == 200
    assert _get(gateway.url, rotated["key"]).status_code == 200
    time.sleep(2.2)
    expired = _get(gateway.url, created["key"])
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "expired_api_key"
    assert _get(gateway.url, rotated["key"]).status_code == 200


def test_users_cannot_see_or_touch_each_others_keys(make_user: Any) -> None:
    alice: GwUser = make_user()
    bob: GwUser = make_user()
    target = f"/user/api-keys/{alice.key_id}"
    for response in (
        bob.client.get(target),
        bob.client.patch(target, json={"name": "pwned"}),
        bob.client.delete(target),
        bob.client.post(f"{target}/rotate"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
    assert alice.key_id not in [k["id"] for k in bob.client.get("/user/api-keys").json()["data"]]
    mine = alice.client.get(target).json()
    assert mine["name"] == "default" and mine["revoked"] is False
    assert alice.client.get("/user/api-keys").status_code == 200


def test_key_management_needs_the_keys_scope(user: GwUser, gateway: Any) -> None:
    inference_only = user.client.post("/user/api-keys", json={"name": "inf", "scopes": ["inference"]}).json()
    denied = _get(gateway.url, inference_only["key"])
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "insufficient_scope"


def test_bad_key_rules_are_rejected_with_the_param(user: GwUser) -> None:
    cases = [
        ({"ip_allowlist": ["300.1.1.1"]}, "ip_allowlist"),
        ({"allowed_referers": ["not a domain"]}, "allowed_referers"),
        ({"scopes": ["root"]}, "scopes[0]"),
        ({"max_requests": 0}, "max_requests"),
        ({"environment": "prod"}, "environment"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"unknown_field": 1}, "unknown_field"),
        ({"metadata": {"x": "y" * 9000}}, "metadata"),
    ]
    for body, param in cases:
        response = user.client.post("/user/api-keys", json={"name": "bad", **body})
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["param"] == param, (body, response.json())


def test_past_expiry_stops_the_key(user: GwUser, gateway: Any) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    created = user.client.post("/user/api-keys", json={"name": "brief", "expires_at": soon}).json()
    assert _get(gateway.url, created["key"]).status_code == 200
    time.sleep(1.2)
    response = _get(gateway.url, created["key"])
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "expired_api_key"
