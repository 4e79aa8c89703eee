"""Rate limits seen from outside: keys, users, tokens, concurrency, headers, 429s and the SDK.

Traffic uses sandbox keys (no upstream). On the SQLite pass the session gateway counts in process;
on the postgres pass it counts in Redis. Several processes: tests/test_rate_limits_shared.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from gatewayz.inference.estimate import prompt_tokens
from tests.support.clients import openai_client
from tests.support.identity import GwUser

HI = [{"role": "user", "content": "hi"}]


def sandbox_key(client: httpx.Client, **limits: Any) -> str:
    response = client.post("/user/api-keys", json={"name": "limited", "environment": "test", "rate_limits": limits})
    assert response.status_code == 201, response.text
    assert response.json()["rate_limits"] == (limits or None)
    return str(response.json()["key"])


@pytest.fixture(scope="module")
def http(gateway: Any) -> Iterator[httpx.Client]:
    """One client for the module: a new httpx client per request costs ~70 ms (TLS context)."""
    with httpx.Client(base_url=gateway.url) as client:
        yield client


def chat(http: httpx.Client, key: str, content: str = "hi", timeout: float = 10.0, **body: Any) -> httpx.Response:
    return http.post(
        "/v1/chat/completions",
        json={"model": "sandbox/chat", "messages": [{"role": "user", "content": content}], **body},
        headers={"Authorization": f"Bearer {key}"},
        timeout=timeout,
    )


def my_limits(http: httpx.Client, key: str, **params: str) -> dict[str, Any]:
    response = http.get("/user/rate-limits", params=params, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def usage_of(body: dict[str, Any], scope: str, kind: str, window: str, dimension: str | None = None) -> dict[str, Any]:
    found = [
        u for u in body["usage"]
        if (u["scope"], u["kind"], u["window"], u["dimension"]) == (scope, kind, window, dimension)
    ]  # fmt: skip
    assert len(found) == 1, body["usage"]
    return found[0]


def test_key_limits_are_stored_returned_changed_and_validated(admin: httpx.Client) -> None:
    created = admin.post("/user/api-keys", json={"name": "k", "rate_limits": {"requests_per_minute": 5}}).json()
    assert created["rate_limits"] == {"requests_per_minute": 5}
    patched = admin.patch(f"/user/api-keys/{created['id']}", json={"rate_limits": {"tokens_per_day": 9}})
    assert patched.status_code == 200 and patched.json()["rate_limits"] == {"tokens_per_day": 9}
    assert admin.get(f"/user/api-keys/{created['id']}").json()["rate_limits"] == {"tokens_per_day": 9}
    cleared = admin.patch(f"/user/api-keys/{created['id']}", json={"rate_limits": None})
    assert cleared.json()["rate_limits"] is None
    bad = admin.post("/user/api-keys", json={"rate_limits": {"requests_per_minute": -1}})
    assert bad.status_code == 400 and bad.json()["error"]["param"].startswith("rate_limits")
    bad = admin.post("/user/api-keys", json={"rate_limits": {"requests_per_week": 1}})
    assert bad.status_code == 400


def test_a_key_over_its_limit_gets_openai_429s_with_headers(http: httpx.Client, admin: httpx.Client) -> None:
    key = sandbox_key(admin, requests_per_minute=3)
    remaining = []
    for _ in range(3):
        response = chat(http, key)
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit-requests"] == "3"
        remaining.append(response.headers["x-ratelimit-remaining-requests"])
        assert response.headers["x-ratelimit-reset-requests"].endswith("s")
    assert remaining == ["2", "1", "0"]
    refused = chat(http, key)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    assert "requests per minute" in error["message"]
    retry_ms = int(refused.headers["retry-after-ms"])
    assert 58_000 < retry_ms <= 61_000  # the three requests leave the window a minute after they came
    assert int(refused.headers["retry-after"]) == -(-retry_ms // 1000)
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"


def test_no_limits_no_headers(http: httpx.Client, admin: httpx.Client) -> None:
    response = chat(http, sandbox_key(admin))
    assert response.status_code == 200
    assert not any(h.startswith("x-ratelimit") for h in response.headers)


def test_errors_after_admission_carry_the_headers_and_count(http: httpx.Client, admin: httpx.Client) -> None:
    key = sandbox_key(admin, requests_per_minute=5, tokens_per_minute=10_000)
    failed = chat(http, key, "[[sandbox:error=500]]")
    assert failed.status_code >= 500
    assert failed.headers["x-ratelimit-remaining-requests"] == "4"
    assert "x-ratelimit-remaining-tokens" in failed.headers
    streamed = chat(http, key, stream=True)
    assert streamed.status_code == 200 and streamed.headers["x-ratelimit-remaining-requests"] == "3"


def test_boundary_burst_is_not_doubled_in_real_time(http: httpx.Client, admin: httpx.Client) -> None:
    """5 requests at x.75 s and 5 more at (x+1).05 s: a fixed one-second window would let all 10
    through; the sliding window refuses the second burst and tells when to come back."""
    key = sandbox_key(admin, requests_per_second=5)
    chat(http, sandbox_key(admin))  # warm up the connection path
    time.sleep((0.75 - time.time() % 1) % 1)
    first = [chat(http, key).status_code for _ in range(5)]
    assert time.time() % 1 > 0.75, "the first burst took too long to test the boundary"
    time.sleep((1.05 - time.time() % 1) % 1)
    second = [chat(http, key) for _ in range(5)]
    assert first == [200] * 5
    assert [r.status_code for r in second] == [429] * 5
    time.sleep(int(second[-1].headers["retry-after-ms"]) / 1000)
    assert chat(http, key).status_code == 200


def test_admin_sets_user_limits_shared_by_all_their_keys(http: httpx.Client, admin: httpx.Client, user: GwUser) -> None:
    first = sandbox_key(user.client)
    second = sandbox_key(user.client)
    assert chat(http, first).status_code == 200  # cached by the gateway before the change
    response = admin.put(f"/admin/users/{user.id}/rate-limits", json={"requests_per_minute": 3})
    assert response.status_code == 200 and response.json()["rate_limits"] == {"requests_per_minute": 3}
    assert admin.get(f"/admin/users/{user.id}").json()["rate_limits"] == {"requests_per_minute": 3}
    statuses = [chat(http, k).status_code for k in (first, second, first, second)]
    assert statuses == [200, 200, 200, 429]  # 3 per minute from the change on, whichever key
    body = my_limits(http, second)
    assert body["limits"]["user"] == {"requests_per_minute": 3}
    assert usage_of(body, "user", "requests", "minute")["remaining"] == 0
    assert user.client.put(f"/admin/users/{user.id}/rate-limits", json={}).status_code == 403  # admins only
    assert admin.put(f"/admin/users/{user.id}/rate-limits", json={}).json()["rate_limits"] is None
    assert chat(http, first).status_code == 200


def test_token_reservations_are_corrected_by_actual_usage(http: httpx.Client, admin: httpx.Client) -> None:
    key = sandbox_key(admin, tokens_per_minute=1000)
    reserved = prompt_tokens("chat", {"messages": [{"role": "user", "content": "x" * 40}]}) + 800
    first = chat(http, key, "x" * 40, max_tokens=800)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-remaining-tokens"] == str(1000 - reserved)  # reserved at admission
    used = first.json()["usage"]["total_tokens"]
    assert used < 1000 - reserved
    tokens = usage_of(my_limits(http, key), "key", "tokens", "minute")
    assert tokens["used"] == used  # the reservation was replaced by the real usage
    # Without the correction 2 x the reservation > 1000 and this would be refused.
    second = chat(http, key, "x" * 40, max_tokens=800)
    assert second.status_code == 200
    assert second.headers["x-ratelimit-remaining-tokens"] == str(1000 - used - reserved)
    third = chat(http, key, "x" * 40, max_tokens=800)
    assert third.status_code == 429 and "tokens per minute" in third.json()["error"]["message"]


def test_a_prompt_hidden_in_tools_counts_against_token_limits(http: httpx.Client, admin: httpx.Client) -> None:
    """~3,000 tokens of tool schemas and a two-letter message: counting message text only, the
    request reserved 2 tokens and slipped through a 2,000 tokens-per-minute limit."""
    key = sandbox_key(admin, tokens_per_minute=2000)
    assert chat(http, key, max_tokens=1).status_code == 200  # a little of the window is used
    params = {"type": "object", "properties": {f"p{i}": {"type": "string", "description": "x" * 80}
                                               for i in range(100)}}  # fmt: skip
    tools = [{"type": "function", "function": {"name": "lookup", "description": "Look it up.", "parameters": params}}]
    refused = chat(http, key, max_tokens=1, tools=tools)
    assert refused.status_code == 429, refused.text
    assert "tokens per minute" in refused.json()["error"]["message"]
    assert "requested 2000" in refused.json()["error"]["message"]  # the whole limit (capped), not 2


def test_concurrency_slots_are_released_on_finish_and_on_disconnect(http: httpx.Client, admin: httpx.Client) -> None:
    key = sandbox_key(admin, concurrent_requests=2)
    slow = "[[sandbox:delay_ms=3000]] take your time"
    results: dict[str, Any] = {}

    def patient() -> None:
        results["patient"] = chat(http, key, slow).status_code

    def impatient() -> None:
        try:
            chat(http, key, slow, timeout=0.6)
        except httpx.TimeoutException:
            results["impatient"] = "gave up"

    threads = [threading.Thread(target=patient), threading.Thread(target=impatient)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    assert chat(http, key).status_code == 429  # both slots taken
    threads[1].join()
    assert results["impatient"] == "gave up"
    deadline = time.monotonic() + 2
    while chat(http, key).status_code != 200:  # the disconnect released its slot...
        assert time.monotonic() < deadline, "the disconnected request still holds its slot"
        time.sleep(0.05)
    assert threads[0].is_alive()  # ...while the patient request is still running
    threads[0].join()
    assert results["patient"] == 200
    for _ in range(3):  # finished requests (plain and streamed) always give their slot back
        assert chat(http, key).status_code == 200
        assert chat(http, key, stream=True).status_code == 200
    assert usage_of(my_limits(http, key), "key", "concurrent", "concurrent")["used"] == 0


def test_endpoint_and_model_limits(http: httpx.Client, admin: httpx.Client) -> None:
    key = sandbox_key(
        admin,
        endpoints={"embeddings": {"requests_per_minute": 1}},
        models={"sandbox/*": {"requests_per_minute": 1}},
    )
    headers = {"Authorization": f"Bearer {key}"}
    embed = {"model": "sandbox/embed", "input": "hello"}
    assert http.post("/v1/embeddings", json=embed, headers=headers).status_code == 200
    assert http.post("/v1/embeddings", json=embed, headers=headers).status_code == 429
    assert chat(http, key).status_code == 200  # the chat endpoint is not limited
    assert chat(http, key).status_code == 429  # but sandbox/chat is, once a minute
    other = http.post("/v1/chat/completions", json={"model": "sandbox/chat-mini", "messages": HI}, headers=headers)
    assert other.status_code == 200  # each model matching the glob has its own counter
    body = my_limits(http, key, model="sandbox/chat")
    assert usage_of(body, "key", "requests", "minute", "model:sandbox/chat")["used"] == 1
    assert usage_of(body, "key", "requests", "minute", "endpoint:embeddings")["used"] == 1


def test_openai_sdk_retries_after_a_429_and_succeeds(gateway: Any, admin: httpx.Client) -> None:
    key = sandbox_key(admin, requests_per_second=1)
    with openai_client(gateway.url, key, max_retries=3) as sdk:
        sdk.chat.completions.create(model="sandbox/chat", messages=HI)
        started = time.monotonic()
        raw = sdk.chat.completions.with_raw_response.create(model="sandbox/chat", messages=HI)
        assert raw.retries_taken >= 1  # it was refused first...
        assert raw.parse().choices[0].message.content  # ...then served
        assert time.monotonic() - started > 0.2  # after waiting what retry-after-ms said
    with openai_client(gateway.url, key, max_retries=0) as sdk, pytest.raises(openai.RateLimitError) as raised:
        sdk.chat.completions.create(model="sandbox/chat", messages=HI)  # no retries: the 429 surfaces
    assert 0 < int(raised.value.response.headers["retry-after-ms"]) <= 1_100


def test_readiness_reports_where_limits_are_counted(anon: httpx.Client, redis_url: str | None) -> None:
    body = anon.get("/health/ready").json()
    assert body["checks"]["rate_limits"] == ({"status": "ok", "backend": "redis"} if redis_url
                                             else {"status": "local", "backend": "local"})  # fmt: skip
