"""A customer's way through payments, end to end on localstripe with its own webhooks: sign up,
apply a referral code, buy with a coupon on a Checkout page, get credits (and the referral rewards),
a partial refund; the ledger check after every step, and the analytics equal to what happened.
Then what happens when Stripe cannot be reached or refuses."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.support.coupons import make_coupon
from tests.support.money import assert_ledgers_balance, balance, nanos
from tests.support.payments import LocalStripe, intent_succeeded, on, post_event, stripe_gateway, wait_for
from tests.support.servers import ThreadedGateway, free_port


def test_sign_up_refer_buy_with_a_coupon_and_refund(
    stripe_gw: ThreadedGateway, localstripe: LocalStripe, stripe_admin: httpx.Client, make_user: Any,
    database_url: str,
) -> None:
    before = stripe_admin.get("/admin/referrals/analytics").json()
    referrer = make_user()
    code = referrer.client.get("/referral/code").json()["code"]
    email = f"journey-{secrets.token_hex(4)}@example.com"
    signed_up = httpx.post(f"{stripe_gw.url}/auth/signup", json={"email": email, "password": "a long passphrase 1"})
    assert signed_up.status_code == 201, signed_up.text
    key = signed_up.json()["api_key"]["key"]
    coupon = make_coupon(stripe_admin, "percent", percent_off="10", max_uses=5)
    with httpx.Client(base_url=stripe_gw.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as me:
        assert me.post("/referral/apply", json={"code": code}).status_code == 201
        assert_ledgers_balance(database_url)
        checkout = me.post("/api/stripe/checkout", json={"package": "standard", "coupon_code": coupon["code"]}).json()
        assert (checkout["amount"], checkout["credits"]) == ("22.500000000", "25.000000000")
        localstripe.pay_checkout(checkout["checkout_session_id"])  # localstripe sends both events, signed

        def credited() -> bool:
            payment = me.get("/user/payments").json()["data"][0]
            return payment["status"] == "succeeded" and balance(me)["balance"] == "30.000000000"

        assert wait_for(credited), me.get("/user/payments").text  # 25 bought + the $5 referral reward
        assert balance(referrer.client)["balance"] == "5.000000000"
        assert_ledgers_balance(database_url)
        refund = stripe_admin.post("/api/stripe/refund", json={"payment_id": checkout["payment_id"],
                                                               "amount": "11.25", "reason": "half"})
        assert refund.status_code == 201, refund.text
        assert refund.json()["credits_deducted"] == "12.500000000"  # half of what the payment credited
        assert balance(me)["balance"] == "17.500000000"
        assert_ledgers_balance(database_url)
        kinds = sorted((t["type"], t["amount"]) for t in me.get("/user/credit-transactions").json()["data"])
        assert kinds == [("purchase", "25.000000000"), ("referral", "5.000000000"), ("refund", "-12.500000000")]
    stats = stripe_admin.get(f"/admin/coupons/{coupon['id']}/analytics").json()
    assert (stats["redemptions"], stats["users"], stats["discount_given"], stats["revenue"]) == (
        1, 1, "2.500000000", "22.500000000")
    referred = referrer.client.get("/referral/stats").json()
    assert (referred["signed_up"], referred["converted"], referred["earned"]) == (1, 1, "5.000000000")
    after = stripe_admin.get("/admin/referrals/analytics").json()
    grew = {k: (nanos(after[k]) - nanos(before[k]) if isinstance(after[k], str) else after[k] - before[k])
            for k in after}
    assert grew == {"codes": 1, "visits": 0, "signed_up": 1, "converted": 1,
                    "referrer_rewards": nanos("5"), "referred_rewards": nanos("5")}


def test_when_stripe_cannot_be_reached_nothing_is_charged_and_the_coupon_use_comes_back(
    base_env: dict[str, str], localstripe: LocalStripe, stripe_admin: httpx.Client, make_user: Any
) -> None:
    coupon = make_coupon(stripe_admin, "fixed", amount_off="1", max_uses=1)
    user = make_user()
    closed = f"http://127.0.0.1:{free_port()}"
    with stripe_gateway(base_env, localstripe, stripe_api_base=closed, stripe_timeout_seconds=2) as down, \
            on(down, user) as client:
        answer = client.post("/api/stripe/checkout", json={"package": "starter", "coupon_code": coupon["code"]})
        assert (answer.status_code, answer.json()["error"]["type"]) == (502, "api_error"), answer.text
        assert [p["status"] for p in client.get("/user/payments").json()["data"]] == ["failed"]
    assert stripe_admin.get(f"/admin/coupons/{coupon['id']}").json()["uses"] == 0


def test_a_refund_stripe_refuses_takes_nothing_and_can_be_tried_again(
    stripe_gw: ThreadedGateway, stripe_admin: httpx.Client, make_user: Any
) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        purchase = client.post("/api/stripe/payment-intent", json={"package": "starter"}).json()
        assert post_event(client, intent_succeeded(purchase)).status_code == 200  # never paid on localstripe
        refused = stripe_admin.post("/api/stripe/refund", json={"payment_id": purchase["payment_id"], "reason": "x"})
        assert refused.status_code == 502, refused.text
        assert balance(client)["balance"] == "10.000000000"
        shown = client.get("/user/payments").json()["data"][0]
        assert (shown["status"], shown["refunded_cents"]) == ("succeeded", 0)
