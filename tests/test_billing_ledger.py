"""The ledger API: grants, deductions, refunds, expiring credits, low-balance events, usage views."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openai
import pytest

from tests.fakeprovider import FakeProvider
from tests.support.clients import openai_client
from tests.support.databases import run_sql
from tests.support.identity import GwUser
from tests.support.money import balance, grant, nanos

HELLO = [{"role": "user", "content": "hello there"}]
PRICED = {"model": "fakepriced/priced-model", "messages": HELLO, "max_tokens": 10}  # $0.003 a request



def _spend(gateway: Any, person: GwUser, times: int = 1) -> list[str]:
    ids = []
    with openai_client(gateway.url, person.key) as sdk:
        for _ in range(times):
            raw = sdk.chat.completions.with_raw_response.create(**PRICED)
            ids.append(raw.headers["x-request-id"])
    return ids


def test_grant_deduct_and_the_transaction_list(admin: httpx.Client, user: GwUser) -> None:
    first = grant(admin, user.id, "5.5")
    assert first["balance"] == "5.500000000"
    assert grant(admin, user.id, "-1.25")["balance"] == "4.250000000"
    too_much = admin.post("/admin/credits", json={"user_id": user.id, "amount": "-100", "reason": "x"})
    assert too_much.status_code == 400 and too_much.json()["error"]["param"] == "amount"
    assert admin.post("/admin/credits", json={"user_id": 987654, "amount": "1", "reason": "x"}).status_code == 404
    assert admin.post("/admin/credits", json={"user_id": user.id, "amount": "0", "reason": "x"}).status_code == 400
    page = user.client.get("/user/credit-transactions").json()
    assert [(t["type"], t["amount"]) for t in page["data"]] == [
        ("admin_deduct", "-1.250000000"),
        ("admin_grant", "5.500000000"),
    ]
    assert page["data"][0]["balance_before"] == "5.500000000" and page["data"][0]["actor"].startswith("user:")
    only_grants = user.client.get("/user/credit-transactions", params={"type": "admin_grant"}).json()["data"]
    assert [t["type"] for t in only_grants] == ["admin_grant"]
    first_page = user.client.get("/user/credit-transactions", params={"limit": 1}).json()
    assert first_page["has_more"] is True
    second = user.client.get(
        "/user/credit-transactions", params={"limit": 1, "before_id": first_page["next_before_id"]}
    ).json()
    assert second["data"][0]["type"] == "admin_grant" and second["has_more"] is False
    assert (
        user.client.post("/admin/credits", json={"user_id": user.id, "amount": "9", "reason": "x"}).status_code == 403
    )


def test_refunds_are_capped_at_the_charge(
    gateway: Any, admin: httpx.Client, user: GwUser, fake_b: FakeProvider
) -> None:
    grant(admin, user.id, "1")
    request_id = _spend(gateway, user)[0]
    part = admin.post("/admin/refunds", json={"request_id": request_id, "amount": "0.001", "reason": "bad answer"})
    assert part.status_code == 201 and part.json()["refunded"] == "0.001000000"
    rest = admin.post("/admin/refunds", json={"request_id": request_id, "reason": "the rest"})
    assert rest.json()["refunded"] == "0.002000000"
    again = admin.post("/admin/refunds", json={"request_id": request_id, "reason": "greedy"})
    assert again.status_code == 400 and again.json()["error"]["code"] == "refund_exceeds_charge"
    assert admin.post("/admin/refunds", json={"request_id": "req_nope", "reason": "x"}).status_code == 404
    assert balance(user.client)["balance"] == "1.000000000"


def test_expiring_grant_leaves_through_an_expiry_entry(
    gateway: Any, admin: httpx.Client, user: GwUser, fake_b: FakeProvider
) -> None:
    grant(admin, user.id, "1")  # permanent
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    grant(admin, user.id, "0.010", expires_at=soon)
    _spend(gateway, user, times=2)  # $0.006, taken from the expiring grant first
    deadline = time.monotonic() + 6
    expiries: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not expiries:
        time.sleep(0.2)
        expiries = user.client.get("/user/credit-transactions", params={"type": "expiry"}).json()["data"]
    assert [e["amount"] for e in expiries] == ["-0.004000000"]
    assert balance(user.client)["balance"] == "1.000000000"  # 1 + 0.010 - 0.006 - 0.004
    audited = admin.get("/admin/audit-logs", params={"action": "credits.expire", "target_id": str(user.id)}).json()
    assert [(r["actor_type"], r["after"]["expired"]) for r in audited["data"]] == [("system", 4_000_000)]


def test_low_balance_event_and_forecast(gateway: Any, admin: httpx.Client, user: GwUser, fake_b: FakeProvider) -> None:
    grant(admin, user.id, "0.016")
    settings = user.client.patch("/user/balance", json={"low_balance_threshold": "0.011"})
    assert settings.status_code == 200 and settings.json()["low_balance_threshold"] == "0.011000000"
    _spend(gateway, user)  # 0.016 -> 0.013: still above
    assert user.client.get("/user/billing-events").json() == []
    _spend(gateway, user)  # 0.013 -> 0.010 crosses 0.011
    events = user.client.get("/user/billing-events").json()
    assert [e["type"] for e in events] == ["low_balance"]
    assert events[0]["data"] == {"balance": 10_000_000, "threshold": 11_000_000}
    forecast = balance(user.client)["forecast"]
    assert nanos(forecast["daily_burn"]) == 6_000_000 // 7
    assert forecast["days_remaining"] == pytest.approx(10_000_000 / (6_000_000 // 7), rel=0.01)


def test_usage_views(gateway: Any, admin: httpx.Client, user: GwUser, fake_b: FakeProvider) -> None:
    grant(admin, user.id, "1")
    _spend(gateway, user, times=3)
    by_model = user.client.get("/user/usage", params={"group_by": "model"}).json()
    assert by_model["total"]["requests"] == 3 and by_model["total"]["cost"] == "0.009000000"
    assert [(g["key"], g["requests"], g["completion_tokens"]) for g in by_model["groups"]] == [
        ("fakepriced/priced-model", 3, 9)
    ]
    by_day = user.client.get("/user/usage", params={"group_by": "day"}).json()["groups"]
    assert len(by_day) == 1 and by_day[0]["key"] == datetime.now(UTC).date().isoformat()
    by_provider = user.client.get("/user/usage", params={"group_by": "provider"}).json()["groups"]
    assert [g["key"] for g in by_provider] == ["fakepriced"]
    key_usage = user.client.get(f"/user/api-keys/{user.key_id}/usage").json()
    assert key_usage["total"]["requests"] == 3
    other = user.client.post("/user/api-keys", json={"name": "idle"}).json()
    assert user.client.get(f"/user/api-keys/{other['id']}/usage").json()["total"]["requests"] == 0
    assert user.client.get("/user/usage", params={"group_by": "colour"}).status_code == 400


def test_other_users_key_usage_is_404(make_user: Any) -> None:
    alice, bob = make_user(), make_user()
    assert bob.client.get(f"/user/api-keys/{alice.key_id}/usage").status_code == 404


def test_idempotent_retry_is_charged_once(
    gateway: Any, admin: httpx.Client, user: GwUser, fake_b: FakeProvider, database_url: str
) -> None:
    grant(admin, user.id, "1")
    headers = {"Authorization": f"Bearer {user.key}", "Idempotency-Key": "order-42"}
    url = f"{gateway.url}/v1/chat/completions"
    first = httpx.post(url, json=PRICED, headers=headers)
    second = httpx.post(url, json=PRICED, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json() and second.headers["idempotent-replayed"] == "true"
    assert len(fake_b.requests) == 1
    charges = run_sql(
        database_url, "SELECT COUNT(*) FROM credit_transactions WHERE user_id = :p0 AND type = 'usage'", user.id
    )
    assert charges[0][0] == 1
    different = httpx.post(url, json={**PRICED, "max_tokens": 5}, headers=headers)
    assert different.status_code == 400 and different.json()["error"]["code"] == "idempotency_key_reused"
    with openai_client(gateway.url, user.key) as sdk:
        streamed = "".join(
            c.choices[0].delta.content or ""
            for c in sdk.chat.completions.create(**PRICED, stream=True, extra_headers={"Idempotency-Key": "stream-1"})
            if c.choices
        )
        replayed = "".join(
            c.choices[0].delta.content or ""
            for c in sdk.chat.completions.create(**PRICED, stream=True, extra_headers={"Idempotency-Key": "stream-1"})
            if c.choices
        )
    assert streamed == replayed and streamed


def test_idempotent_retry_while_running_is_409(
    gateway: Any, admin: httpx.Client, user: GwUser, fake_b: FakeProvider
) -> None:
    grant(admin, user.id, "1")
    fake_b.set(latency_ms=1500)
    headers = {"Authorization": f"Bearer {user.key}", "Idempotency-Key": "slow-1"}
    url = f"{gateway.url}/v1/chat/completions"
    with httpx.Client(timeout=10) as client:
        import threading

        results: list[int] = []
        worker = threading.Thread(
            target=lambda: results.append(client.post(url, json=PRICED, headers=headers).status_code)
        )
        worker.start()
        time.sleep(0.5)
        busy = httpx.post(url, json=PRICED, headers=headers)
        worker.join()
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "idempotency_key_in_use"
    assert results == [200]


def test_a_failed_first_attempt_lets_the_retry_run(
    gateway: Any, admin: httpx.Client, user: GwUser, fake_b: FakeProvider
) -> None:
    grant(admin, user.id, "1")
    fake_b.set(status=500, status_times=3)
    headers = {"Authorization": f"Bearer {user.key}", "Idempotency-Key": "flaky-1"}
    url = f"{gateway.url}/v1/chat/completions"
    assert httpx.post(url, json=PRICED, headers=headers).status_code == 502
    retry = httpx.post(url, json=PRICED, headers=headers)
    assert retry.status_code == 200 and "idempotent-replayed" not in retry.headers


def test_openai_sdk_errors_for_402_are_typed(gateway: Any, user: GwUser) -> None:
    with openai_client(gateway.url, user.key) as sdk, pytest.raises(openai.APIStatusError) as raised:
        sdk.chat.completions.create(**PRICED)
    assert raised.value.status_code == 402


def test_holds_left_by_a_crashed_process_are_released(
    admin: httpx.Client, user: GwUser, database_url: str, base_env: dict[str, str]
) -> None:
    import asyncio

    from gatewayz.billing.holds import HoldLedger
    from gatewayz.storage.fastsql import FastSQL
    from tests.conftest import settings_from_env

    grant(admin, user.id, "1")

    async def crash_mid_request() -> None:
        fast = FastSQL(settings_from_env(base_env))
        await fast.open()
        try:  # a hold whose process never comes back to settle it
            await HoldLedger(fast).place(request_id="req_crashed", user_id=user.id, key_id=None,
                                         amount=400_000_000, budget=None, ttl=0.5)
        finally:
            await fast.close()

    asyncio.run(crash_mid_request())
    assert balance(user.client)["available"] == "0.600000000"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and balance(user.client)["held"] != "0.000000000":
        time.sleep(0.1)
    assert balance(user.client)["available"] == "1.000000000"
    status = run_sql(database_url, "SELECT status FROM credit_holds WHERE request_id = 'req_crashed'")
    assert status == [("expired",)]
