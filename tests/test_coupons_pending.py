"""Review P3 and P8: coupon uses held by unpaid payments — one first-purchase discount waiting at a
time, and uses given back when the payment fails or lapses."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.support.coupons import make_coupon
from tests.support.money import balance
from tests.support.payments import LocalStripe, event, intent_succeeded, on, post_event, stripe_gateway, wait_for
from tests.support.servers import ThreadedGateway


def _intent(client: httpx.Client, code: str) -> httpx.Response:
    return client.post("/api/stripe/payment-intent", json={"package": "starter", "coupon_code": code})


def test_one_first_purchase_discount_waits_at_a_time(
    stripe_gw: ThreadedGateway, localstripe: LocalStripe, admin: httpx.Client, make_user: Any
) -> None:
    first = make_coupon(admin, "percent", percent_off="50", first_time_only=True, max_uses_per_user=5)
    other = make_coupon(admin, "fixed", amount_off="2", first_time_only=True)
    user = make_user()
    with on(stripe_gw, user) as client:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: _intent(client, first["code"]), range(4)))
        assert sorted(a.status_code for a in answers) == [201, 400, 400, 400], [a.text for a in answers]
        assert {a.json()["error"]["code"] for a in answers if a.status_code == 400} == {
            "coupon_first_purchase_pending"}
        refused = _intent(client, other["code"])  # another first-purchase coupon: the same first purchase
        assert (refused.status_code, refused.json()["error"]["code"]) == (400, "coupon_first_purchase_pending")
        assert client.post("/api/stripe/payment-intent", json={"package": "starter"}).status_code == 201
        made = next(a.json() for a in answers if a.status_code == 201)
        assert post_event(client, intent_succeeded(made)).status_code == 200
        assert _intent(client, first["code"]).json()["error"]["code"] == "coupon_first_purchase_only"
        assert balance(client)["balance"] == "10.000000000"
    assert admin.get(f"/admin/coupons/{first['id']}").json()["uses"] == 1


def test_a_failed_payment_gives_its_coupon_use_back(
    stripe_gw: ThreadedGateway, admin: httpx.Client, make_user: Any
) -> None:
    coupon = make_coupon(admin, "percent", percent_off="10", max_uses=1)
    user, other = make_user(), make_user()
    with on(stripe_gw, user) as client:
        made = _intent(client, coupon["code"]).json()
        failed = event("payment_intent.payment_failed", {**intent_succeeded(made)["data"]["object"],
                                                         "status": "requires_payment_method"})
        assert post_event(client, failed).status_code == 200
    assert admin.get(f"/admin/coupons/{coupon['id']}").json()["uses"] == 0
    with on(stripe_gw, other) as client:
        assert _intent(client, coupon["code"]).status_code == 201


def test_an_unpaid_payment_lapses_and_gives_its_coupon_use_back(
    base_env: dict[str, str], localstripe: LocalStripe, admin: httpx.Client, make_user: Any
) -> None:
    coupon = make_coupon(admin, "percent", percent_off="10", max_uses=1)
    user, other = make_user(), make_user()
    with stripe_gateway(base_env, localstripe, coupon_reservation_ttl_minutes=0.02,
                        billing_job_interval_seconds=0.3) as quick, on(quick, user) as client:
        made = _intent(client, coupon["code"])
        assert made.status_code == 201, made.text
        lapsed = wait_for(lambda: admin.get(f"/admin/coupons/{coupon['id']}").json()["uses"] == 0, timeout=20)
        assert lapsed
        intent = localstripe.get(f"/v1/payment_intents/{made.json()['payment_intent_id']}").json()
        assert intent["status"] == "canceled"
        assert client.get("/user/payments").json()["data"][0]["status"] == "canceled"
        with on(quick, other) as second:
            assert _intent(second, coupon["code"]).status_code == 201
