"""Authentication headers and the access rules a key carries: IP, referer, scope, cap, expiry."""

from __future__ import annotations

import time
from typing import Any

import httpx

from gatewayz.accounts.keys import model_allowed, referer_allowed
from tests.support.identity import GwUser

ERROR_FIELDS = {"message", "type", "param", "code"}


def _key(user: GwUser, **rules: Any) -> str:
    response = user.client.post("/user/api-keys", json={"name": "rules", **rules})
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def _call(url: str, key: str, local: str | None = None, **headers: str) -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=local) if local else None
    with httpx.Client(transport=transport) as client:
        return client.get(f"{url}/user/api-keys", headers={"Authorization": f"Bearer {key}", **headers})


def test_bearer_and_x_api_key_headers_both_work(user: GwUser, gateway: Any) -> None:
    assert httpx.get(f"{gateway.url}/user/api-keys", headers={"x-api-key": user.key}).status_code == 200
    assert _call(gateway.url, user.key).status_code == 200


def test_missing_malformed_and_unknown_keys_are_401_in_openai_shape(gateway: Any) -> None:
    cases = [
        ({}, "missing_api_key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing_api_key"),
        ({"Authorization": "Bearer short"}, "invalid_api_key"),
        ({"Authorization": "Bearer gw_live_" + "A" * 43}, "invalid_api_key"),
        ({"x-api-key": "sk-ant-api03-something-long-enough"}, "invalid_api_key"),
    ]
    for headers, code in cases:
        response = httpx.get(f"{gateway.url}/user/api-keys", headers=headers)
        assert response.status_code == 401, headers
        error = response.json()["error"]
        assert set(error) == ERROR_FIELDS
        assert error["type"] == "authentication_error" and error["code"] == code


def test_ip_allowlist(user: GwUser, gateway: Any) -> None:
    assert _call(gateway.url, _key(user, ip_allowlist=["127.0.0.1"])).status_code == 200
    assert _call(gateway.url, _key(user, ip_allowlist=["127.0.0.0/8", "::1"])).status_code == 200
    denied = _call(gateway.url, _key(user, ip_allowlist=["10.0.0.0/8", "2001:db8::/32"]))
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "ip_not_allowed"


def test_forwarded_for_is_only_believed_from_trusted_proxies(user: GwUser, gateway: Any) -> None:
    key = _key(user, ip_allowlist=["203.0.113.0/24"])
    spoofed = _call(gateway.url, key, **{"X-Forwarded-For": "203.0.113.9"})
    assert spoofed.status_code == 403  # 127.0.0.1 is not a trusted proxy: header ignored
    proxied = _call(gateway.url, key, local="127.0.0.2", **{"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 200  # 127.0.0.2 is configured as a trusted proxy
    outside = _call(gateway.url, key, local="127.0.0.2", **{"X-Forwarded-For": "198.51.100.1"})
    assert outside.status_code == 403


def test_referer_allowlist_with_wildcards(user: GwUser, gateway: Any) -> None:
    key = _key(user, allowed_referers=["*.example.com", "app.example.org"])
    assert _call(gateway.url, key).status_code == 403  # no referer at all
    assert _call(gateway.url, key, Referer="https://shop.example.com/cart").status_code == 200
    assert _call(gateway.url, key, Origin="https://a.b.example.com").status_code == 200
    assert _call(gateway.url, key, Origin="https://app.example.org").status_code == 200
    for bad in (
        "https://example.com/",
        "https://example.com.evil.net/",
        "https://notexample.com/",
        "https://x.app.example.org/",
    ):
        response = _call(gateway.url, key, Referer=bad)
        assert response.status_code == 403, bad
        assert response.json()["error"]["code"] == "referer_not_allowed"


def test_referer_matching_rules() -> None:
    patterns = ("*.example.com", "exact.org")
    assert referer_allowed(patterns, "a.example.com")
    assert referer_allowed(patterns, "EXACT.org.")
    assert not referer_allowed(patterns, "example.com")
    assert not referer_allowed(patterns, "badexample.com")
    assert not referer_allowed(patterns, None)


def test_model_allowlist_rules() -> None:
    patterns = ("openai/*", "anthropic/claude-3-haiku")
    assert model_allowed(patterns, "openai/gpt-4o")
    assert model_allowed(patterns, "anthropic/claude-3-haiku")
    assert not model_allowed(patterns, "anthropic/claude-3-opus")
    assert not model_allowed(patterns, "groq/llama")


def test_lifetime_request_cap(user: GwUser, gateway: Any) -> None:
    key = _key(user, max_requests=2)
    assert _call(gateway.url, key).status_code == 200
    assert _call(gateway.url, key).status_code == 200
    third = _call(gateway.url, key)
    assert third.status_code == 403
    assert third.json()["error"]["code"] == "key_request_cap_reached"


def test_failed_authentications_are_security_events_without_the_key(
    user: GwUser, admin: httpx.Client, gateway: Any
) -> None:
    fake_key = "gw_live_" + "Zq9" * 14 + "x"
    httpx.get(f"{gateway.url}/user/api-keys", headers={"Authorization": f"Bearer {fake_key}", "User-Agent": "probe/1"})
    ip_key = _key(user, ip_allowlist=["10.0.0.0/8"])
    _call(gateway.url, ip_key)
    deadline = time.monotonic() + 5
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        events = admin.get("/admin/security-events", params={"limit": 200}).json()["data"]
        reasons = {(e["reason"], e["user_agent"]) for e in events}
        mine = [e for e in events if e["reason"] == "ip_not_allowed" and e["user_id"] == user.id]
        if ("unknown_key", "probe/1") in reasons and mine:
            break
        time.sleep(0.1)
    unknown = next(e for e in events if e["reason"] == "unknown_key" and e["user_agent"] == "probe/1")
    assert unknown["status"] == 401 and unknown["ip"] == "127.0.0.1"
    assert unknown["key_prefix"] == fake_key[:12]
    assert unknown["path"] == "/user/api-keys" and unknown["method"] == "GET"
    ip_event = next(e for e in events if e["reason"] == "ip_not_allowed" and e["user_id"] == user.id)
    assert ip_event["status"] == 403 and ip_event["key_prefix"] == ip_key[:12]
    dump = str(events)
    assert fake_key not in dump and ip_key not in dump
    filtered = admin.get("/admin/security-events", params={"reason": "ip_not_allowed"}).json()["data"]
    assert filtered and all(e["reason"] == "ip_not_allowed" for e in filtered)


def test_a_burst_with_a_cold_key_makes_one_database_lookup(gateway: Any, user: GwUser) -> None:
    import asyncio

    key = _key(user, name="cold")
    calls = 0
    auth = gateway.services.auth
    original = auth._load

    async def counting(key_hash: str) -> Any:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)  # a slow database: the burst arrives while the lookup is in flight
        return await original(key_hash)

    async def burst() -> list[int]:
        async with httpx.AsyncClient() as client:
            responses = await asyncio.gather(*(
                client.get(f"{gateway.url}/user/api-keys", headers={"Authorization": f"Bearer {key}"})
                for _ in range(20)
            ))
        return [r.status_code for r in responses]

    auth._load = counting
    try:
        statuses = asyncio.run(burst())
    finally:
        auth._load = original
    assert statuses == [200] * 20
    assert calls == 1
