"""What a plan allows, enforced on the next request after a change: models, features (history,
images), rate limits and concurrent requests (in Redis on the postgres pass), and max keys."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.fakeprovider import FakeProvider
from tests.support.identity import GwUser
from tests.support.plans import assign, make_plan

HI = [{"role": "user", "content": "hi"}]


def sandbox_client(user: GwUser, gateway: Any) -> httpx.Client:
    created = user.client.post("/user/api-keys", json={"name": "sandbox", "environment": "test"})
    assert created.status_code == 201, created.text
    return httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {created.json()['key']}"})


def error_code(response: httpx.Response) -> str | None:
    return response.json().get("error", {}).get("code")  # type: ignore[no-any-return]


def test_allowed_models_refuse_others_and_a_change_applies_at_once(
    admin: httpx.Client, funded: GwUser, fake_a: FakeProvider, fake_b: FakeProvider
) -> None:
    plan = make_plan(admin, allowed_models=["fakebackup/*"])
    assign(admin, funded.id, plan["id"], grant_credits=False)
    refused = funded.client.post("/v1/chat/completions", json={"model": "fakeopenai/gpt-4o-mini", "messages": HI})
    assert refused.status_code == 403 and error_code(refused) == "model_not_in_plan", refused.text
    assert not fake_a.requests  # refused before any provider was asked
    fallback = funded.client.post("/v1/chat/completions", json={
        "model": "fakebackup/gpt-4o-mini", "models": ["fakeopenai/gpt-4o-mini"], "messages": HI})
    assert fallback.status_code == 403 and error_code(fallback) == "model_not_in_plan"  # fallbacks too
    allowed = funded.client.post("/v1/chat/completions", json={"model": "fakebackup/gpt-4o-mini", "messages": HI})
    assert allowed.status_code == 200, allowed.text
    listed = {m["id"] for m in funded.client.get("/v1/models").json()["data"]}
    assert "fakebackup/gpt-4o-mini" in listed and not any(m.startswith("fakeopenai/") for m in listed)
    assert funded.client.get("/v1/models/fakeopenai/gpt-4o-mini").status_code == 404
    assert funded.client.get("/v1/models/fakebackup/gpt-4o-mini").status_code == 200
    assert admin.patch(f"/admin/plans/{plan['id']}", json={"allowed_models": None}).status_code == 200
    now_allowed = funded.client.post("/v1/chat/completions", json={"model": "fakeopenai/gpt-4o-mini", "messages": HI})
    assert now_allowed.status_code == 200, now_allowed.text
    assert funded.client.get("/v1/models/fakeopenai/gpt-4o-mini").status_code == 200
    events = admin.get("/admin/security-events", params={"reason": "model_not_in_plan"}).json()["data"]
    assert any(e["user_id"] == funded.id for e in events)


def test_features_gate_history_and_images(admin: httpx.Client, funded: GwUser, gateway: Any) -> None:
    plan = make_plan(admin, features=[])
    assign(admin, funded.id, plan["id"], grant_credits=False)
    history = funded.client.post("/v1/chat/completions", json={
        "model": "fakeopenai/gpt-4o-mini", "session_id": "new", "messages": HI})
    assert history.status_code == 403 and error_code(history) == "feature_not_in_plan", history.text
    plain = funded.client.post("/v1/chat/completions", json={"model": "fakeopenai/gpt-4o-mini", "messages": HI})
    assert plain.status_code == 200, plain.text
    with sandbox_client(funded, gateway) as sandbox:
        image = {"model": "sandbox/image", "prompt": "a field"}
        refused = sandbox.post("/v1/images/generations", json=image)
        assert refused.status_code == 403 and error_code(refused) == "feature_not_in_plan", refused.text
        assert admin.patch(f"/admin/plans/{plan['id']}", json={"features": ["images"]}).status_code == 200
        assert sandbox.post("/v1/images/generations", json=image).status_code == 200
    still = funded.client.post("/v1/chat/completions", json={
        "model": "fakeopenai/gpt-4o-mini", "session_id": "new", "messages": HI})
    assert still.status_code == 403  # images only
    admin.patch(f"/admin/plans/{plan['id']}", json={"features": ["history", "images"]})
    allowed = funded.client.post("/v1/chat/completions", json={
        "model": "fakeopenai/gpt-4o-mini", "session_id": "new", "messages": HI})
    assert allowed.status_code == 200, allowed.text


def test_plan_rate_limits_apply_and_an_admins_user_limits_override_them(
    admin: httpx.Client, user: GwUser, gateway: Any
) -> None:
    plan = make_plan(admin, rate_limits={"requests_per_minute": 2})
    assign(admin, user.id, plan["id"], grant_credits=False)
    with sandbox_client(user, gateway) as sandbox:
        body = {"model": "sandbox/chat", "messages": HI}
        assert [sandbox.post("/v1/chat/completions", json=body).status_code for _ in range(3)] == [200, 200, 429]
        shown = sandbox.get("/user/rate-limits")
        assert shown.status_code == 200
        override = admin.put(f"/admin/users/{user.id}/rate-limits", json={"requests_per_minute": 10})
        assert override.status_code == 200, override.text
        assert sandbox.post("/v1/chat/completions", json=body).status_code == 200


def test_max_concurrent_requests(admin: httpx.Client, user: GwUser, gateway: Any) -> None:
    plan = make_plan(admin, max_concurrent_requests=1)
    assign(admin, user.id, plan["id"], grant_credits=False)
    slow = {"model": "sandbox/chat", "messages": [{"role": "user", "content": "[[sandbox:delay_ms=1500]] wait"}]}
    fast = {"model": "sandbox/chat", "messages": HI}
    with sandbox_client(user, gateway) as sandbox:
        results: list[int] = []
        worker = threading.Thread(target=lambda: results.append(
            sandbox.post("/v1/chat/completions", json=slow, timeout=10).status_code))
        worker.start()
        time.sleep(0.4)
        refused = sandbox.post("/v1/chat/completions", json=fast)
        assert refused.status_code == 429, refused.text
        assert "concurrent" in refused.json()["error"]["message"]
        worker.join()
        assert results == [200]
        assert sandbox.post("/v1/chat/completions", json=fast).status_code == 200
        admin.patch(f"/admin/plans/{plan['id']}", json={"max_concurrent_requests": None})


def test_max_keys_counts_live_keys_and_holds_under_concurrency(admin: httpx.Client, user: GwUser) -> None:
    plan = make_plan(admin, max_keys=4)  # the user has its first key already
    assign(admin, user.id, plan["id"], grant_credits=False)

    def create(_: int) -> int:
        return user.client.post("/user/api-keys", json={"name": "k"}).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(create, range(6)))
    assert sorted(statuses) == [201] * 3 + [403] * 3, statuses
    refused = user.client.post("/user/api-keys", json={"name": "k"})
    assert refused.status_code == 403 and error_code(refused) == "plan_key_limit"
    keys = user.client.get("/user/api-keys").json()["data"]
    assert len(keys) == 4
    assert user.client.delete(f"/user/api-keys/{keys[-1]['id']}").status_code == 200
    assert user.client.post("/user/api-keys", json={"name": "k"}).status_code == 201
    admin.patch(f"/admin/plans/{plan['id']}", json={"max_keys": None})
    assert user.client.post("/user/api-keys", json={"name": "k"}).status_code == 201
