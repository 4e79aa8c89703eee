"""Stripe subscriptions against localstripe: a subscription's own webhooks put the user on the plan
and its paid invoice grants the period's credits once; cancel at period end, resume, change plan
(prorated by Stripe), the customer portal; the subscription's end returns the default plan.
Signed events (what localstripe cannot send): tests/test_subscription_events.py."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from gatewayz.plans.stripe_sync import owner_tag
from tests.support.databases import run_sql
from tests.support.identity import GwUser
from tests.support.money import nanos
from tests.support.payments import STRIPE_SECRET_KEY, LocalStripe, on, wait_for
from tests.support.plans import make_plan
from tests.support.servers import ThreadedGateway


def stripe_price(localstripe: LocalStripe, cents: int) -> str:
    product = localstripe.post("/v1/products", {"name": "Gatewayz plan", "type": "service"})
    assert product.status_code == 200, product.text
    price_id = f"plan_{secrets.token_hex(6)}"
    created = localstripe.post("/v1/plans", {"id": price_id, "product": product.json()["id"], "amount": str(cents),
                                             "currency": "usd", "interval": "month"})
    assert created.status_code == 200, created.text
    return price_id


def subscribe_in_stripe(localstripe: LocalStripe, gw: ThreadedGateway, user: GwUser, price_id: str,
                        plan_id: int) -> dict[str, Any]:
    """What Stripe holds once the customer paid the subscription's Checkout page."""
    token = localstripe.post("/v1/tokens", {"card[number]": "4242424242424242", "card[exp_month]": "12",
                                            "card[exp_year]": "2040", "card[cvc]": "123"}).json()["id"]
    customer = localstripe.post("/v1/customers", {"email": user.email, "source": token}).json()["id"]
    sub = localstripe.post("/v1/subscriptions", {
        "customer": customer, "items[0][plan]": price_id, "metadata[gatewayz_user_id]": str(user.id),
        "metadata[gatewayz_plan_id]": str(plan_id), "metadata[gatewayz_interval]": "month",
        "metadata[gatewayz_tag]": owner_tag(gw.settings.key_hash_secret_bytes, user.id)})
    assert sub.status_code == 200, sub.text
    return sub.json()  # type: ignore[no-any-return]


def _plan_of(client: httpx.Client) -> dict[str, Any]:
    return client.get("/user/plan").json()  # type: ignore[no-any-return]


def test_a_subscription_from_start_to_end(
    stripe_gw: ThreadedGateway, localstripe: LocalStripe, admin: httpx.Client, make_user: Any, database_url: str
) -> None:
    pro_price, max_price = stripe_price(localstripe, 2000), stripe_price(localstripe, 5000)
    pro = make_plan(admin, price_monthly="20", credits_per_period="15", stripe_price_monthly=pro_price)
    bigger = make_plan(admin, price_monthly="50", credits_per_period="40", stripe_price_monthly=max_price)
    user: GwUser = make_user()
    with on(stripe_gw, user) as client:
        sub = subscribe_in_stripe(localstripe, stripe_gw, user, pro_price, pro["id"])
        assert wait_for(lambda: _plan_of(client)["plan"]["id"] == pro["id"])  # customer.subscription.created
        assert wait_for(lambda: client.get("/user/balance").json()["balance"] == "15.000000000")  # the invoice
        mine = _plan_of(client)["subscription"]
        assert mine["source"] == "stripe" and mine["status"] == "active" and mine["cancel_at_period_end"] is False

        cancelled = client.post("/subscriptions/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["cancel_at_period_end"] is True
        assert cancelled.json()["ends_at"] == cancelled.json()["current_period_end"] is not None
        assert localstripe.get(f"/v1/subscriptions/{sub['id']}").json()["cancel_at_period_end"] is True
        assert _plan_of(client)["plan"]["id"] == pro["id"]  # until the period ends
        resumed = client.post("/subscriptions/resume")
        assert resumed.status_code == 200 and resumed.json()["cancel_at_period_end"] is False
        assert resumed.json()["ends_at"] is None

        changed = client.post("/subscriptions/change", json={"plan_id": bigger["id"]})
        assert changed.status_code == 200, changed.text
        assert _plan_of(client)["plan"]["id"] == bigger["id"]
        stripe_sub = localstripe.get(f"/v1/subscriptions/{sub['id']}").json()
        assert stripe_sub["items"]["data"][0]["plan"]["id"] == max_price
        items = localstripe.get("/v1/invoiceitems", customer=sub["customer"]).json()["data"]
        assert any(i["proration"] and i["amount"] == -2000 for i in items), items  # Stripe's proration

        portal = client.post("/subscriptions/portal")
        assert portal.status_code == 201 and portal.json()["url"].startswith("https://")

        ended = httpx.delete(f"{localstripe.url}/v1/subscriptions/{sub['id']}", auth=(STRIPE_SECRET_KEY, ""))
        assert ended.status_code == 200, ended.text
        assert wait_for(lambda: _plan_of(client)["default"] is True)  # customer.subscription.deleted
    grants = run_sql(database_url, "SELECT amount FROM credit_transactions WHERE user_id = :p0 AND "
                     "type = 'plan_credits'", user.id)
    assert [int(g[0]) for g in grants] == [nanos("15")]


def test_checkout_in_subscription_mode(stripe_gw: ThreadedGateway, localstripe: LocalStripe, admin: httpx.Client,
                                       make_user: Any) -> None:
    monthly = stripe_price(localstripe, 2000)
    priced = make_plan(admin, price_monthly="20", price_yearly="200", stripe_price_monthly=monthly)
    user: GwUser = make_user()
    with on(stripe_gw, user) as client:
        created = client.post("/subscriptions/checkout", json={"plan_id": priced["id"]})
        assert created.status_code == 201, created.text
        session = localstripe.get(f"/v1/checkout/sessions/{created.json()['checkout_session_id']}").json()
        assert session["mode"] == "subscription" and session["customer_email"] == user.email
        assert session["metadata"] == {"gatewayz_user_id": str(user.id), "gatewayz_plan_id": str(priced["id"]),
                                       "gatewayz_interval": "month",
                                       "gatewayz_tag": owner_tag(stripe_gw.settings.key_hash_secret_bytes, user.id)}
        assert session["subscription_data"]["metadata"] == session["metadata"]
        assert session["line_items_data"][0]["price"] == monthly
        yearly = client.post("/subscriptions/checkout", json={"plan_id": priced["id"], "interval": "year"})
        assert yearly.status_code == 201, yearly.text  # no Stripe price for a year: price_data with its amount
        session = localstripe.get(f"/v1/checkout/sessions/{yearly.json()['checkout_session_id']}").json()
        data = session["line_items_data"][0]["price_data"]
        assert str(data["unit_amount"]) == "20000" and data["recurring"]["interval"] == "year"


def test_what_cannot_be_subscribed(stripe_gw: ThreadedGateway, gateway: ThreadedGateway, admin: httpx.Client,
                                   make_user: Any, localstripe: LocalStripe) -> None:
    free = make_plan(admin)
    custom = make_plan(admin, price_monthly="5", visibility="custom")
    unpriced = make_plan(admin, price_monthly="5")
    user: GwUser = make_user()
    with on(stripe_gw, user) as client:
        for body, status, code in (
            ({"plan_id": free["id"]}, 400, "plan_not_for_sale"),
            ({"plan_id": unpriced["id"], "interval": "year"}, 400, "plan_not_for_sale"),
            ({"plan_id": custom["id"]}, 409, "plan_not_available"),
            ({"plan_id": 99999999}, 404, "not_found"),
            ({"plan_id": unpriced["id"], "interval": "week"}, 400, None),
        ):
            answer = client.post("/subscriptions/checkout", json=body)
            assert answer.status_code == status, (body, answer.text)
            assert code is None or answer.json()["error"]["code"] == code
        for path in ("/subscriptions/cancel", "/subscriptions/resume", "/subscriptions/portal"):
            answer = client.post(path)
            assert answer.status_code == 409 and answer.json()["error"]["code"] == "no_subscription", path
        answer = client.post("/subscriptions/change", json={"plan_id": unpriced["id"]})
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "plan_not_on_stripe"
        sandbox = client.post("/user/api-keys", json={"name": "s", "environment": "test"}).json()["key"]
        refused = httpx.post(f"{stripe_gw.url}/subscriptions/checkout", json={"plan_id": unpriced["id"]},
                             headers={"Authorization": f"Bearer {sandbox}"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "sandbox_key"
    unconfigured = user.client.post("/subscriptions/checkout", json={"plan_id": unpriced["id"]})  # session gateway
    assert unconfigured.status_code == 404 and unconfigured.json()["error"]["code"] == "payments_not_configured"
