"""A key never widens anyone's rights, its own included; sandbox keys never administer; client IPs
behind proxies are read from every X-Forwarded-For line; floods of bad keys do not evict good ones.

Regression tests of the security review (items 5 and 6, and the suspected key-cache eviction).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from gatewayz.accounts.cache import MAX_NEGATIVE_ENTRIES, KeyCache
from gatewayz.accounts.principal import Principal
from gatewayz.settings import load_settings
from tests.support.identity import GwUser


def _create(key: str, gateway: Any, **body: Any) -> httpx.Response:
    return httpx.post(f"{gateway.url}/user/api-keys", json={"name": "child", **body},
                      headers={"Authorization": f"Bearer {key}"})


def _restricted(admin: httpx.Client, **rules: Any) -> dict[str, Any]:
    response = admin.post("/user/api-keys", json={"name": "restricted", "scopes": ["inference", "keys"], **rules})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_keys_scoped_key_of_an_admin_cannot_mint_an_admin_key(gateway: Any, admin: httpx.Client) -> None:
    parent = _restricted(admin)
    refused = _create(parent["key"], gateway, scopes=["admin", "keys"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "key_rights_exceeded"
    default = _create(parent["key"], gateway)  # unset scopes: the defaults within the caller's own
    assert default.status_code == 201 and sorted(default.json()["scopes"]) == ["inference", "keys"]
    assert httpx.get(f"{gateway.url}/admin/users",
                     headers={"Authorization": f"Bearer {default.json()['key']}"}).status_code == 403


def test_a_key_cannot_strip_its_own_restrictions(gateway: Any, admin: httpx.Client) -> None:
    parent = _restricted(admin, allowed_models=["fakeopenai/*"], ip_allowlist=["127.0.0.0/8"])
    headers = {"Authorization": f"Bearer {parent['key']}"}
    for change in ({"allowed_models": None}, {"allowed_models": ["*"]}, {"ip_allowlist": []},
                   {"scopes": ["inference", "keys", "billing"]}):
        response = httpx.patch(f"{gateway.url}/user/api-keys/{parent['id']}", json=change, headers=headers)
        assert response.status_code == 403, change
    narrowed = httpx.patch(f"{gateway.url}/user/api-keys/{parent['id']}",
                           json={"allowed_models": ["fakeopenai/gpt-4o-mini"]}, headers=headers)
    assert narrowed.status_code == 200 and narrowed.json()["allowed_models"] == ["fakeopenai/gpt-4o-mini"]
    # what it creates inherits its restrictions, and cannot exceed them
    child = _create(parent["key"], gateway)
    assert child.status_code == 201
    assert child.json()["allowed_models"] == ["fakeopenai/gpt-4o-mini"]
    assert child.json()["ip_allowlist"] == ["127.0.0.0/8"]
    assert _create(parent["key"], gateway, allowed_models=["fakebackup/gpt-4o-mini"]).status_code == 403
    assert _create(parent["key"], gateway, ip_allowlist=["10.0.0.0/8"]).status_code == 403
    assert _create(parent["key"], gateway, ip_allowlist=["127.0.0.1"]).status_code == 201


def test_a_key_with_a_budget_cannot_lift_or_multiply_it(gateway: Any, admin: httpx.Client) -> None:
    parent = _restricted(admin, max_budget="5", budget_period="daily")
    headers = {"Authorization": f"Bearer {parent['key']}"}
    for change in ({"max_budget": None}, {"max_budget": "50"}, {"budget_period": "monthly"}):
        response = httpx.patch(f"{gateway.url}/user/api-keys/{parent['id']}", json=change, headers=headers)
        assert response.status_code == 403, change
    assert admin.get(f"/user/api-keys/{parent['id']}").json()["max_budget"] == "5.000000000"
    lowered = httpx.patch(f"{gateway.url}/user/api-keys/{parent['id']}", json={"max_budget": "1"}, headers=headers)
    assert lowered.status_code == 200
    child = _create(parent["key"], gateway, max_budget="1", budget_period="daily")
    assert child.status_code == 403 and "quota" in child.json()["error"]["message"]


def test_a_restricted_key_cannot_touch_a_wider_key(gateway: Any, admin: httpx.Client) -> None:
    wide = admin.post("/user/api-keys", json={"name": "wide"}).json()
    parent = _restricted(admin, allowed_models=["fakeopenai/*"])
    headers = {"Authorization": f"Bearer {parent['key']}"}
    base = f"{gateway.url}/user/api-keys/{wide['id']}"
    assert httpx.patch(base, json={"name": "x"}, headers=headers).status_code == 403
    assert httpx.post(base + "/rotate", headers=headers).status_code == 403
    assert httpx.delete(base, headers=headers).status_code == 403
    assert admin.get(f"/user/api-keys/{wide['id']}").json()["revoked"] is False


def test_sandbox_keys_never_administer(gateway: Any, admin: httpx.Client) -> None:
    refused = admin.post("/user/api-keys", json={"name": "t", "environment": "test", "scopes": ["admin"]})
    assert refused.status_code == 403
    sandbox = admin.post("/user/api-keys", json={"name": "t", "environment": "test"}).json()
    assert "admin" not in sandbox["scopes"]  # the README's example: the default is all but admin
    headers = {"Authorization": f"Bearer {sandbox['key']}"}
    me = admin.get("/admin/users", params={"email": "admin@example.com"}).json()["data"][0]
    granted = httpx.post(f"{gateway.url}/admin/credits", headers=headers,
                         json={"user_id": me["id"], "amount": "1000", "reason": "free money"})
    assert granted.status_code == 403
    # a sandbox key cannot create live keys either
    assert _create(sandbox["key"], gateway, environment="live").status_code == 403
    assert _create(sandbox["key"], gateway).json()["environment"] == "test"


def test_every_forwarded_for_line_counts(user: GwUser, gateway: Any) -> None:
    key = user.client.post("/user/api-keys", json={"name": "ip", "ip_allowlist": ["203.0.113.0/24"]}).json()["key"]
    transport = httpx.HTTPTransport(local_address="127.0.0.2")  # a trusted proxy (see conftest)
    with httpx.Client(transport=transport) as proxy:
        # the client forged the first line; the proxy appended the real address as a second line
        forged = proxy.get(f"{gateway.url}/user/api-keys", headers=[
            ("Authorization", f"Bearer {key}"), ("X-Forwarded-For", "203.0.113.9"),
            ("X-Forwarded-For", "198.51.100.7")])
        assert forged.status_code == 403
        honest = proxy.get(f"{gateway.url}/user/api-keys", headers=[
            ("Authorization", f"Bearer {key}"), ("X-Forwarded-For", "198.51.100.7"),
            ("X-Forwarded-For", "203.0.113.9")])
        assert honest.status_code == 200


def test_trusted_proxies_take_the_documented_comma_separated_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAYZ_TRUSTED_PROXIES", "127.0.0.1/32, 10.0.0.0/8")
    assert load_settings().trusted_proxies == ["127.0.0.1/32", "10.0.0.0/8"]
    monkeypatch.setenv("GATEWAYZ_TRUSTED_PROXIES", "not-a-network")
    with pytest.raises(Exception, match="not an IP address or CIDR"):
        load_settings()


def _principal(key_id: int) -> Principal:
    return Principal(key_id=key_id, user_id=1, role="user", environment="live", scopes=frozenset({"inference"}),
                     prefix="gw_live_abcd", key_hash=str(key_id), ip_networks=None, referer_patterns=None,
                     allowed_models=None, expires_at=None, max_requests=None, revoked=False, active=True)


def test_a_flood_of_unknown_keys_never_evicts_known_ones() -> None:
    cache = KeyCache(60)
    for i in range(100):
        cache.put(f"good-{i}", _principal(i), cache.epoch)
    for i in range(MAX_NEGATIVE_ENTRIES * 3):
        cache.put(f"bad-{i}", None, cache.epoch)
    assert all(cache.get(f"good-{i}") is not None for i in range(100))
    assert cache.get(f"bad-{MAX_NEGATIVE_ENTRIES * 3 - 1}") is not None  # the newest unknowns stay cached
    assert cache.get("bad-0") is None  # the oldest were dropped, not the good entries


def test_the_data_directory_is_private(tmp_path: Path) -> None:
    import asyncio

    from gatewayz.storage.db import Database

    data = tmp_path / "fresh" / "data"
    settings = load_settings(data_dir=data, database_url=f"sqlite:///{data / 'gatewayz.db'}", environment="dev")
    assert settings.key_hash_secret_bytes  # generates secrets.json
    asyncio.run(Database(settings).close())
    for path, mode in ((data, 0o700), (data / "secrets.json", 0o600), (data / "gatewayz.db", 0o600)):
        assert stat.S_IMODE(os.stat(path).st_mode) == mode, path
