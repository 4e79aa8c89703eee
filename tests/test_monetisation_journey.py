"""Issue 17's whole way, in one customer's order, on localstripe: sign up -> free trial -> spend ->
checkout with a coupon (paid on localstripe, credited by its own signed webhooks) -> a
subscription and its renewal (signed invoice events, what localstripe cannot send) -> a refund;
every ledger sums to its balance after each step, and the ledger says exactly what happened."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from tests.conftest import providers_config
from tests.fakeprovider import FakeProvider
from tests.support.coupons import make_coupon
from tests.support.databases import run_sql
from tests.support.identity import GwUser
from tests.support.money import assert_ledgers_balance, balance, nanos
from tests.support.payments import LocalStripe, event, post_event, stripe_gateway, wait_for
from tests.support.servers import ThreadedGateway
from tests.test_subscription_events import PERIOD, invoice, priced, subscription

CHAT = {"model": "fakepriced/priced-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}


@pytest.fixture(scope="module")
def shop(base_env: dict[str, str], localstripe: LocalStripe, gateway: ThreadedGateway, upstream_a: FakeProvider,
         upstream_b: FakeProvider) -> Iterator[ThreadedGateway]:
    """Stripe, the session's providers, trials for a password sign-up (no email verification here)
    and from loopback as often as the tests need."""
    with stripe_gateway(base_env, localstripe, providers=providers_config(upstream_a, upstream_b),
                        trial_requires_verified_email=False, trials_per_ip_per_day=10_000) as server:
        yield server


def _types(client: httpx.Client) -> list[tuple[str, str]]:
    rows = client.get("/user/credit-transactions", params={"limit": 100}).json()["data"]
    return sorted((r["type"], r["amount"]) for r in rows)


def test_sign_up_trial_spend_coupon_checkout_subscription_renewal_refund(
    shop: ThreadedGateway, localstripe: LocalStripe, stripe_admin: httpx.Client, admin: httpx.Client,
    fake_b: FakeProvider, database_url: str,
) -> None:
    email = f"journey-{secrets.token_hex(4)}@example.com"
    signed_up = httpx.post(f"{shop.url}/auth/signup", json={"email": email, "password": "a long passphrase 1"})
    assert signed_up.status_code == 201, signed_up.text
    user_id, key = signed_up.json()["user"]["id"], signed_up.json()["api_key"]["key"]
    with httpx.Client(base_url=shop.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as me:
        # the trial: $10 that expire
        started = me.post("/trials/start")
        assert started.status_code == 201 and started.json()["credits_granted"] == "10.000000000", started.text
        assert_ledgers_balance(database_url)
        # spend: three requests ($0.001 a completion token), from the trial's credit
        costs = []
        for _ in range(3):
            answer = me.post("/v1/chat/completions", json=CHAT)
            assert answer.status_code == 200, answer.text
            costs.append(Decimal(answer.headers["x-gatewayz-cost"]))
        spent = sum(costs, Decimal(0))
        assert spent > 0 and balance(me)["balance"] == f"{Decimal(10) - spent:.9f}"
        assert me.get("/trials/status").json()["spent"] == f"{spent:.9f}"
        assert_ledgers_balance(database_url)
        # a checkout with a 10% coupon, paid on localstripe; localstripe's webhooks credit it
        coupon = make_coupon(stripe_admin, "percent", percent_off="10", max_uses=5)
        checkout = me.post("/api/stripe/checkout", json={"package": "standard", "coupon_code": coupon["code"]}).json()
        assert (checkout["amount"], checkout["credits"]) == ("22.500000000", "25.000000000"), checkout
        localstripe.pay_checkout(checkout["checkout_session_id"])
        assert wait_for(lambda: balance(me)["balance"] == f"{Decimal(35) - spent:.9f}"), me.get("/user/payments").text
        assert me.get("/trials/status").json()["status"] == "converted"  # the first payment converts the trial
        assert_ledgers_balance(database_url)
        # a subscription: its first invoice grants the period's credits, the renewal the next period's
        plan, price = priced(admin)
        sub = subscription(shop, GwUser(user_id, email, key, signed_up.json()["api_key"]["id"], me), plan, price)
        assert post_event(me, event("customer.subscription.created", sub)).status_code == 200
        first = invoice(sub, price)
        for _ in range(2):  # a replay changes nothing
            assert post_event(me, event("invoice.paid", first)).status_code == 200
        assert me.get("/user/plan").json()["plan"]["id"] == plan["id"]
        assert balance(me)["balance"] == f"{Decimal(50) - spent:.9f}"  # + the period's $15
        assert_ledgers_balance(database_url)
        start = sub["items"]["data"][0]["current_period_start"] + PERIOD
        renewed = invoice(sub, price, start=start, reason="subscription_cycle")
        assert post_event(me, event("invoice.paid", renewed, created=int(time.time()) + 1)).status_code == 200
        assert balance(me)["balance"] == f"{Decimal(65) - spent:.9f}"
        assert_ledgers_balance(database_url)
        # a refund of the whole checkout payment takes its $25 of credit back
        refund = stripe_admin.post("/api/stripe/refund", json={"payment_id": checkout["payment_id"],
                                                               "reason": "changed their mind"})
        assert refund.status_code == 201, refund.text
        assert refund.json()["credits_deducted"] == "25.000000000"
        assert balance(me)["balance"] == f"{Decimal(40) - spent:.9f}"
        assert_ledgers_balance(database_url)
        assert _types(me) == sorted([
            ("trial", "10.000000000"), *[("usage", f"{-c:.9f}") for c in costs], ("purchase", "25.000000000"),
            ("plan_credits", "15.000000000"), ("plan_credits", "15.000000000"), ("refund", "-25.000000000"),
        ])
    recorded = run_sql(database_url, "SELECT COALESCE(SUM(cost), 0) FROM usage_records WHERE user_id = :p0", user_id)
    assert int(recorded[0][0]) == nanos(f"{spent:.9f}")
    stats = stripe_admin.get(f"/admin/coupons/{coupon['id']}/analytics").json()
    assert (stats["redemptions"], stats["discount_given"]) == (1, "2.500000000")
