"""Issue 17's whole way, end to end on localstripe and its own webhooks: a sign-up, its free trial, spending it, buying
credits with a coupon on a Checkout page (the trial converts), subscribing to a plan (its first
invoice's credits), the renewal (signed: localstripe does not renew), a refund of the purchase; the
ledger check after every step, and the plan's analytics equal to what happened."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gatewayz.plans.stripe_sync import owner_tag
from tests.conftest import providers_config
from tests.fakeprovider import FakeProvider
from tests.support.coupons import make_coupon
from tests.support.identity import ADMIN_KEY, GwUser
from tests.support.money import assert_ledgers_balance, balance, nanos
from tests.support.payments import LocalStripe, event, on, post_event, stripe_gateway, wait_for
from tests.support.plans import make_plan
from tests.support.servers import ThreadedGateway
from tests.test_subscriptions import stripe_price


@pytest.fixture(scope="module")
def shop(base_env: dict[str, str], localstripe: LocalStripe, gateway: ThreadedGateway, upstream_a: FakeProvider,
         upstream_b: FakeProvider) -> Iterator[ThreadedGateway]:
    """Stripe, the session's providers, and trials for a password sign-up (its address is not verified:
    allowed here) from loopback as often as the session's tests need."""
    with stripe_gateway(base_env, localstripe, providers=providers_config(upstream_a, upstream_b),
                        trial_requires_verified_email=False, trials_per_ip_per_day=10_000) as server:
        yield server


def sign_up(shop: ThreadedGateway) -> GwUser:
    email = f"journey-{secrets.token_hex(4)}@example.com"
    signed = httpx.post(f"{shop.url}/auth/signup", json={"email": email, "password": "a long passphrase 1"})
    assert signed.status_code == 201, signed.text
    body = signed.json()
    key = body["api_key"]["key"]
    client = httpx.Client(base_url=shop.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return GwUser(body["user"]["id"], email, key, body["api_key"]["id"], client)


def test_trial_spend_buy_subscribe_renew_refund(
    shop: ThreadedGateway, localstripe: LocalStripe, admin: httpx.Client, database_url: str, fake_b: Any,
) -> None:
    price_id = stripe_price(localstripe, 2000)
    plan = make_plan(admin, price_monthly="20", credits_per_period="15", stripe_price_monthly=price_id)
    coupon = make_coupon(admin, "percent", percent_off="10", max_uses=5)
    user = sign_up(shop)
    with on(shop, user) as me, httpx.Client(base_url=shop.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                                            timeout=30) as staff:
        assert me.post("/trials/start").status_code == 201
        assert balance(me)["balance"] == "10.000000000"
        assert_ledgers_balance(database_url)

        spent = me.post("/v1/chat/completions", json={
            "model": "fakepriced/priced-model", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
        assert spent.status_code == 200, spent.text
        left = wait_for(lambda: balance(me)["balance"] != "10.000000000" and balance(me)["balance"])
        cost = nanos("10") - nanos(left)
        assert cost > 0
        assert_ledgers_balance(database_url)

        checkout = me.post("/api/stripe/checkout", json={"package": "standard", "coupon_code": coupon["code"]})
        assert checkout.status_code == 201, checkout.text
        localstripe.pay_checkout(checkout.json()["checkout_session_id"])
        assert wait_for(lambda: nanos(balance(me)["balance"]) == nanos("35") - cost)  # + $25 of credits
        trial = me.get("/trials/status").json()
        assert (trial["status"], trial["conversion"], trial["requests"]) == ("converted", "payment", 1)
        assert_ledgers_balance(database_url)

        token = localstripe.post("/v1/tokens", {"card[number]": "4242424242424242", "card[exp_month]": "12",
                                                "card[exp_year]": "2040", "card[cvc]": "123"}).json()["id"]
        customer = localstripe.post("/v1/customers", {"email": user.email, "source": token}).json()["id"]
        sub = localstripe.post("/v1/subscriptions", {
            "customer": customer, "items[0][plan]": price_id, "metadata[gatewayz_user_id]": str(user.id),
            "metadata[gatewayz_plan_id]": str(plan["id"]), "metadata[gatewayz_interval]": "month",
            "metadata[gatewayz_tag]": owner_tag(shop.settings.key_hash_secret_bytes, user.id)}).json()
        assert wait_for(lambda: me.get("/user/plan").json()["plan"]["id"] == plan["id"])
        assert wait_for(lambda: nanos(balance(me)["balance"]) == nanos("50") - cost)  # the first invoice's $15
        assert_ledgers_balance(database_url)

        renewal = {"id": f"in_{secrets.token_hex(8)}", "object": "invoice", "customer": customer,
                   "subscription": sub["id"], "amount_paid": 2000, "currency": "usd", "status": "paid",
                   "billing_reason": "subscription_cycle",
                   "lines": {"data": [{"period": {"start": sub["current_period_end"],
                                                  "end": sub["current_period_end"] + 30 * 86400},
                                       "plan": {"id": price_id}}]}}
        for _ in range(2):  # delivered twice: credited once
            assert post_event(me, event("invoice.paid", renewal, created=int(time.time()))).status_code == 200
        assert nanos(balance(me)["balance"]) == nanos("65") - cost
        assert_ledgers_balance(database_url)

        refund = staff.post("/api/stripe/refund", json={"payment_id": checkout.json()["payment_id"],
                                                        "reason": "changed my mind"})
        assert refund.status_code == 201, refund.text
        assert nanos(balance(me)["balance"]) == nanos("40") - cost  # the $25 bought go back
        assert_ledgers_balance(database_url)
        kinds = sorted(t["type"] for t in me.get("/user/credit-transactions").json()["data"])
        assert kinds == ["plan_credits", "plan_credits", "purchase", "refund", "trial", "usage"]
    figures = next(p for p in admin.get("/admin/plans/analytics").json()["plans"] if p["plan_id"] == plan["id"])
    assert (figures["subscribers"], figures["invoices_paid"], figures["revenue_cents"], figures["credits_granted"]) \
        == (1, 2, 4000, "30.000000000")
