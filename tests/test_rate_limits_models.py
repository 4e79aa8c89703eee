"""Per-model limits hold whatever name the model is asked by: `provider/model`, the bare id, or a
place in the `models` fallback list. A request counts against every model it may be routed to.

Live keys of the admin user (they have credits) against the loopback fake providers: `gpt-4o-mini`
and `gpt-4o` are served by both `fakeopenai` and `fakebackup`.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fakeprovider import FakeProvider

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def http(gateway: Any, fake_a: FakeProvider, fake_b: FakeProvider) -> Any:
    with httpx.Client(base_url=gateway.url, timeout=20) as client:
        yield client


def limited_key(admin: httpx.Client, models: dict[str, Any]) -> str:
    response = admin.post("/user/api-keys", json={"name": "model-limited", "rate_limits": {"models": models}})
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def chat(http: httpx.Client, key: str, model: str, **body: Any) -> httpx.Response:
    return http.post("/v1/chat/completions", json={"model": model, "messages": HI, **body},
                     headers={"Authorization": f"Bearer {key}"})  # fmt: skip


def test_a_provider_qualified_limit_also_holds_for_the_bare_id(http: httpx.Client, admin: httpx.Client) -> None:
    key = limited_key(admin, {"fakeopenai/gpt-4o-mini": {"requests_per_minute": 1}})
    assert chat(http, key, "fakeopenai/gpt-4o-mini").status_code == 200
    refused = chat(http, key, "gpt-4o-mini")  # the same model, by its bare id (may go to fakeopenai)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert "model fakeopenai/gpt-4o-mini" in refused.json()["error"]["message"]
    assert chat(http, key, "fakebackup/gpt-4o").status_code == 200  # other models are not limited


def test_a_bare_id_limit_also_holds_for_the_provider_qualified_id(http: httpx.Client, admin: httpx.Client) -> None:
    key = limited_key(admin, {"gpt-4o": {"requests_per_minute": 1}})
    assert chat(http, key, "gpt-4o").status_code == 200
    assert chat(http, key, "fakeopenai/gpt-4o").status_code == 429  # upstream id `gpt-4o`
    assert chat(http, key, "fakebackup/gpt-4o").status_code == 429


def test_a_provider_glob_covers_bare_ids_routed_to_that_provider(http: httpx.Client, admin: httpx.Client) -> None:
    key = limited_key(admin, {"fakebackup/*": {"requests_per_minute": 2}})
    statuses = [chat(http, key, "gpt-4o-mini").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # counted once per request, although three names match
    assert chat(http, key, "fakebackup/gpt-4o-mini").status_code == 429
    assert chat(http, key, "fakebackup/gpt-4o").status_code == 200  # each model its own counter


def test_a_limited_model_cannot_hide_in_the_fallback_list(http: httpx.Client, admin: httpx.Client) -> None:
    key = limited_key(admin, {"gpt-4o": {"requests_per_minute": 1}})
    assert chat(http, key, "gpt-4o").status_code == 200
    # The first model routes nowhere, so the fallback (the limited model) would answer.
    hidden = chat(http, key, "no-such-model-anywhere", models=["gpt-4o"])
    assert hidden.status_code == 429, (hidden.status_code, hidden.headers.get("x-gatewayz-model"))
    behind = chat(http, key, "groq/llama-3.1-8b", models=["fakeopenai/gpt-4o"])
    assert behind.status_code == 429  # behind an unlimited first model: counted as it may answer


def test_my_rate_limits_shows_the_windows_of_every_name_of_a_model(http: httpx.Client, admin: httpx.Client) -> None:
    key = limited_key(admin, {"fakeopenai/*": {"requests_per_minute": 5}})
    assert chat(http, key, "gpt-4o-mini", provider="fakeopenai").status_code == 200
    response = http.get("/user/rate-limits", params={"model": "gpt-4o-mini"},
                        headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert response.status_code == 200, response.text
    windows = [u for u in response.json()["usage"] if u["dimension"] == "model:fakeopenai/gpt-4o-mini"]
    assert [(w["kind"], w["window"], w["limit"], w["used"]) for w in windows] == [("requests", "minute", 5, 1)]
