"""Numbers that would overflow are refused at the edge with a 400 naming the param, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.identity import GwUser
from tests.support.money import grant

HELLO = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(("extra", "param"), [
    ({"models": 5}, "models"),
    ({"models": [5]}, "models"),
    ({"provider": 5}, "provider"),
    ({"max_tokens": 2**62}, "max_tokens"),
    ({"max_completion_tokens": 2**62}, "max_completion_tokens"),
    ({"max_tokens": 2**31, "n": 128}, "max_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
])
def test_inference_numbers_are_bounded(user: GwUser, admin: httpx.Client, extra: dict[str, Any], param: str) -> None:
    grant(admin, user.id, "1")
    response = user.client.post("/v1/chat/completions", json={"model": "fakeopenai/gpt-4o-mini",
                                                              "messages": HELLO, **extra})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_the_largest_allowed_max_tokens_is_a_402_not_an_overflow(user: GwUser, admin: httpx.Client) -> None:
    grant(admin, user.id, "1")
    response = user.client.post("/v1/chat/completions", json={"model": "fakepriced/priced-model",
                                                              "messages": HELLO, "max_tokens": 2**31 - 1, "n": 128})
    assert response.status_code == 402


@pytest.mark.parametrize(("body", "param"), [
    ({"max_requests": 1e19}, "max_requests"),
    ({"max_requests": 10**19}, "max_requests"),
    ({"max_budget": "1e30"}, "max_budget"),
    ({"metadata": {"n": 2**70}}, "metadata"),
])
def test_key_numbers_are_bounded(user: GwUser, body: dict[str, Any], param: str) -> None:
    response = user.client.post("/user/api-keys", json={"name": "big", **body})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


@pytest.mark.parametrize(("path", "body", "param"), [
    ("/admin/credits", {"amount": "1e30", "reason": "x"}, "amount"),
    ("/admin/credits", {"amount": "-1e30", "reason": "x"}, "amount"),
    ("/admin/credits", {"amount": "1e-30", "reason": "x"}, "amount"),
    ("/admin/credits", {"amount": "1", "reason": "x", "user_id": 2**63}, "user_id"),
])
def test_money_numbers_are_bounded(admin: httpx.Client, user: GwUser, path: str, body: dict[str, Any],
                                   param: str) -> None:
    response = admin.post(path, json={"user_id": user.id, **body})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    threshold = user.client.patch("/user/balance", json={"low_balance_threshold": "1e30"})
    assert threshold.status_code == 400 and threshold.json()["error"]["param"] == "low_balance_threshold"


@pytest.mark.parametrize("path", [
    "/admin/users/9223372036854775808",
    "/admin/users?offset=9223372036854775808",
    "/user/api-keys/9223372036854775808",
    "/user/api-keys/9223372036854775808/usage",
    "/user/credit-transactions?before_id=9223372036854775808",
])
def test_ids_beyond_64_bits_are_a_400_not_an_overflow(admin: httpx.Client, path: str) -> None:
    response = admin.get(path)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("value", ["inf", "nan", "1e400", "99999999999"])
def test_a_providers_absurd_retry_after_is_not_believed(
    user: GwUser, admin: httpx.Client, fake_a: Any, value: str
) -> None:
    grant(admin, user.id, "1")
    fake_a.set(status=429, error_headers={"retry-after": value})
    response = user.client.post("/v1/chat/completions", json={
        "model": "fakeopenai/gpt-4o-mini", "messages": HELLO, "provider": "fakeopenai"}, timeout=30)
    assert response.status_code == 429, response.text
    retry_after = response.headers.get("retry-after")
    assert retry_after is None or 1 <= int(retry_after) <= 86_400


@pytest.mark.parametrize("body", [
    {"metadata": {"note": "a\u0000b"}},
    {"metadata": {"a\u0000": 1}},
    {"name": "nul\u0000name"},
    {"allowed_models": ["fakeopenai/\u0000"]},
    {"rate_limits": {"models": {"x\u0000": {"requests_per_minute": 1}}}},
], ids=["metadata-value", "metadata-key", "name", "allowed-models", "rate-limit-pattern"])
def test_text_the_database_cannot_store_is_a_400(user: GwUser, body: dict[str, Any]) -> None:
    response = user.client.post("/user/api-keys", json={"name": "k", **body})
    assert response.status_code == 400, response.text


def test_a_lone_surrogate_is_a_400(user: GwUser) -> None:
    raw = b'{"name": "k", "metadata": {"x": "\\udb4b"}}'
    response = user.client.post("/user/api-keys", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("model", ["fakeopenai/" + "x" * 300, "fakeopenai/gpt\u0000", "fakeopenai/gpt\n4"])
def test_a_model_id_that_cannot_be_recorded_is_a_400(user: GwUser, admin: httpx.Client, model: str) -> None:
    grant(admin, user.id, "1")
    response = user.client.post("/v1/chat/completions", json={"model": model, "messages": HELLO})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "model"
