"""Subscription events signed here (what localstripe cannot send): an invoice's credits once however
often and in whatever form Stripe says it was paid, trial conversion, out-of-order updates, a
failed payment (past due, then the default plan after the grace period), the current API's shapes."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from gatewayz.plans.stripe_sync import owner_tag
from tests.support.databases import run_sql
from tests.support.identity import GwUser
from tests.support.money import nanos
from tests.support.payments import LocalStripe, event, on, post_event, stripe_gateway, wait_for
from tests.support.plans import make_plan
from tests.support.servers import ThreadedGateway

PERIOD = 30 * 86400


def subscription(gw: ThreadedGateway, user: GwUser, plan: dict[str, Any], price: str,
                 **changes: Any) -> dict[str, Any]:
    """What our Checkout makes, as Stripe sends it: the metadata carries the gateway's tag of the user."""
    now = int(time.time())
    return {"id": changes.pop("id", f"sub_{secrets.token_hex(8)}"), "object": "subscription", "status": "active",
            "customer": f"cus_{secrets.token_hex(6)}", "cancel_at_period_end": False, "cancel_at": None,
            "metadata": {"gatewayz_user_id": str(user.id), "gatewayz_plan_id": str(plan["id"]),
                         "gatewayz_interval": "month",
                         "gatewayz_tag": owner_tag(gw.settings.key_hash_secret_bytes, user.id)},
            "items": {"object": "list", "data": [{"id": f"si_{secrets.token_hex(6)}", "object": "subscription_item",
                                                  "current_period_start": now, "current_period_end": now + PERIOD,
                                                  "price": {"id": price, "recurring": {"interval": "month"}}}]},
            **changes}


def invoice(sub: dict[str, Any], price: str, cents: int = 2000, *, start: int | None = None,
            reason: str = "subscription_create", **changes: Any) -> dict[str, Any]:
    """In the current API's shape: the subscription under parent.subscription_details."""
    now = sub["items"]["data"][0]["current_period_start"] if start is None else start
    return {"id": changes.pop("id", f"in_{secrets.token_hex(8)}"), "object": "invoice", "customer": sub["customer"],
            "amount_paid": cents, "currency": "usd", "status": "paid", "billing_reason": reason,
            "parent": {"type": "subscription_details", "subscription_details": {
                "subscription": sub["id"], "metadata": sub["metadata"]}},
            "lines": {"object": "list", "data": [{"period": {"start": now, "end": now + PERIOD},
                                                  "pricing": {"price_details": {"price": price}}}]},
            **changes}


@pytest.fixture(scope="module")
def stripe_gw(base_env: dict[str, str], localstripe: LocalStripe, gateway: ThreadedGateway,
              ) -> Iterator[ThreadedGateway]:
    """A Stripe gateway of this module's own: its trials come from loopback, more than the three per
    IP a day the default allows (the session's other gateways count against the same address)."""
    with stripe_gateway(base_env, localstripe, trials_per_ip_per_day=10_000) as server:
        yield server


def priced(admin: httpx.Client, **fields: Any) -> tuple[dict[str, Any], str]:
    price = f"price_{secrets.token_hex(6)}"
    return make_plan(admin, price_monthly="20", credits_per_period="15", stripe_price_monthly=price, **fields), price


def test_an_invoice_pays_its_credits_once_and_converts_the_trial(
    stripe_gw: ThreadedGateway, admin: httpx.Client, make_user: Any, database_url: str
) -> None:
    plan, price = priced(admin, credits_expire=True)
    user: GwUser = make_user()
    with on(stripe_gw, user) as client:
        assert client.post("/trials/start").status_code == 201
        sub = subscription(stripe_gw, user, plan, price)
        assert post_event(client, event("customer.subscription.created", sub)).status_code == 200
        assert client.get("/user/plan").json()["plan"]["id"] == plan["id"]
        paid = invoice(sub, price)
        replayed = event("invoice.paid", paid)
        bodies = [replayed] * 3 + [event("invoice.payment_succeeded", paid), event("invoice.paid", paid)]
        with ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(lambda body: post_event(client, body), bodies))
        assert [a.status_code for a in answers] == [200] * 5, [a.text for a in answers]
        assert client.get("/user/balance").json()["balance"] == "25.000000000"  # the trial's 10 + the period's 15
        status = client.get("/trials/status").json()
        assert status["status"] == "converted" and status["conversion"] == "subscription"
    rows = run_sql(database_url, "SELECT amount FROM credit_transactions WHERE user_id = :p0 AND type = 'plan_credits'",
                   user.id)
    assert [int(r[0]) for r in rows] == [nanos("15")]
    grants = run_sql(database_url, "SELECT stripe_invoice_id, paid_cents FROM plan_credit_grants WHERE user_id = :p0",
                     user.id)
    assert [(g[0], int(g[1])) for g in grants] == [(paid["id"], 2000)]  # a refund of that invoice can find them
    expiring = run_sql(database_url, "SELECT COUNT(*) FROM credit_grants WHERE user_id = :p0", user.id)
    assert expiring[0][0] == 2  # the trial's and the period's (credits_expire)


def test_a_credit_purchase_converts_the_trial(stripe_gw: ThreadedGateway, make_user: Any) -> None:
    user: GwUser = make_user()
    with on(stripe_gw, user) as client:
        assert client.post("/trials/start").status_code == 201
        bought = client.post("/api/stripe/payment-intent", json={"package": "starter"})
        assert bought.status_code == 201, bought.text
        body = bought.json()
        paid = {"id": body["payment_intent_id"], "object": "payment_intent", "amount": body["amount_cents"],
                "amount_received": body["amount_cents"], "currency": "usd", "status": "succeeded",
                "metadata": {"gatewayz_payment_id": str(body["payment_id"])}}
        assert post_event(client, event("payment_intent.succeeded", paid)).status_code == 200
        status = client.get("/trials/status").json()
        assert status["status"] == "converted" and status["conversion"] == "payment"
        assert client.get("/user/plan").json()["plan"]["slug"] == "trial"  # a purchase is not a plan change


def test_only_a_period_s_own_invoice_grants_its_credits(
    stripe_gw: ThreadedGateway, admin: httpx.Client, make_user: Any
) -> None:
    plan, price = priced(admin)
    user: GwUser = make_user()
    sub = subscription(stripe_gw, user, plan, price)
    with on(stripe_gw, user) as client:
        assert post_event(client, event("customer.subscription.created", sub)).status_code == 200
        assert post_event(client, event("invoice.paid", invoice(sub, price))).status_code == 200
        assert client.get("/user/balance").json()["balance"] == "15.000000000"
        others = [invoice(sub, price, cents=0, reason="subscription_update"),  # a change prorated to nothing
                  invoice(sub, price, cents=700, reason="subscription_update"),  # an upgrade's proration
                  invoice(sub, price, cents=2000),  # another invoice for the same period
                  invoice(sub, price, cents=0, start=sub["items"]["data"][0]["current_period_end"],
                          reason="subscription_cycle")]  # a renewal nothing was paid for
        for other in others:
            assert post_event(client, event("invoice.paid", other)).status_code == 200
        assert client.get("/user/balance").json()["balance"] == "15.000000000"
        renewal = invoice(sub, price, start=sub["items"]["data"][0]["current_period_end"], reason="subscription_cycle")
        assert post_event(client, event("invoice.paid", renewal)).status_code == 200
        assert client.get("/user/balance").json()["balance"] == "30.000000000"


def test_a_delayed_payment_checkout_does_not_apply_the_plan(
    stripe_gw: ThreadedGateway, admin: httpx.Client, make_user: Any
) -> None:
    plan, price = priced(admin)
    user: GwUser = make_user()
    sub = subscription(stripe_gw, user, plan, price)
    session = {"id": f"cs_{secrets.token_hex(6)}", "object": "checkout.session", "mode": "subscription",
               "status": "complete", "payment_status": "unpaid", "subscription": sub["id"],
               "customer": sub["customer"], "metadata": sub["metadata"]}
    with on(stripe_gw, user) as client:
        assert post_event(client, event("checkout.session.completed", session)).status_code == 200
        assert client.get("/user/plan").json()["default"] is True  # until the payment clears
        paid = {**session, "id": f"cs_{secrets.token_hex(6)}", "payment_status": "paid"}
        assert post_event(client, event("checkout.session.completed", paid)).status_code == 200
        assert client.get("/user/plan").json()["plan"]["id"] == plan["id"]


def test_an_invoice_before_any_subscription_event(
    stripe_gw: ThreadedGateway, admin: httpx.Client, make_user: Any
) -> None:
    plan, price = priced(admin)
    user: GwUser = make_user()
    with on(stripe_gw, user) as client:
        sub = subscription(stripe_gw, user, plan, price)  # Stripe (localstripe) does not know it: the invoice tells
        assert post_event(client, event("invoice.paid", invoice(sub, price))).status_code == 200
        assert client.get("/user/plan").json()["plan"]["id"] == plan["id"]
        assert client.get("/user/balance").json()["balance"] == "15.000000000"
        for metadata in ({}, {**sub["metadata"], "gatewayz_tag": owner_tag(b"another gateway", user.id)}):
            stranger = subscription(stripe_gw, user, plan, price, metadata=metadata)  # not made here
            assert post_event(client, event("customer.subscription.created", stranger)).status_code == 200
            foreign = invoice(stranger, price)
            foreign["parent"]["subscription_details"]["metadata"] = metadata
            assert post_event(client, event("invoice.paid", foreign)).status_code == 200  # not ours: acknowledged
        assert client.get("/user/balance").json()["balance"] == "15.000000000"
        assert client.get("/user/plan").json()["subscription"]["current_period_end"] is not None


def test_an_older_event_delivered_late_does_not_undo_a_newer_one(
    stripe_gw: ThreadedGateway, admin: httpx.Client, make_user: Any
) -> None:
    plan, price = priced(admin)
    user: GwUser = make_user()
    now = int(time.time())
    sub = subscription(stripe_gw, user, plan, price)
    with on(stripe_gw, user) as client:
        cancelled = {**sub, "cancel_at_period_end": True}
        assert post_event(client, event("customer.subscription.updated", cancelled, created=now + 10)).status_code \
            == 200
        assert post_event(client, event("customer.subscription.created", sub, created=now)).status_code == 200
        mine = client.get("/user/plan").json()["subscription"]
        assert mine["cancel_at_period_end"] is True and mine["ends_at"] == mine["current_period_end"]
        ended = {**sub, "status": "canceled"}
        assert post_event(client, event("customer.subscription.deleted", ended, created=now + 20)).status_code == 200
        assert client.get("/user/plan").json()["default"] is True


def test_a_failed_payment_is_past_due_then_the_default_plan(
    stripe_gw: ThreadedGateway, base_env: dict[str, str], localstripe: LocalStripe, admin: httpx.Client,
    make_user: Any
) -> None:
    plan, price = priced(admin)
    user: GwUser = make_user()
    sub = subscription(stripe_gw, user, plan, price)
    with on(stripe_gw, user) as client:
        assert post_event(client, event("customer.subscription.created", sub)).status_code == 200
        assert post_event(client, event("invoice.payment_failed", invoice(sub, price, status="open",
                                                                           amount_paid=0))).status_code == 200
        mine = client.get("/user/plan").json()
        assert mine["plan"]["id"] == plan["id"] and mine["subscription"]["status"] == "past_due"  # the grace period
        failed = [e for e in client.get("/user/billing-events").json() if e["type"] == "payment_failed"]
        assert len(failed) == 1 and failed[0]["data"]["subscription"] == sub["id"]
        assert client.get("/user/balance").json()["balance"] == "0.000000000"  # no credits for an unpaid invoice
        with stripe_gateway(base_env, localstripe, subscription_grace_days=0, billing_job_interval_seconds=0.2):
            assert wait_for(lambda: client.get("/user/plan").json()["default"] is True, timeout=5)
        events = [e["type"] for e in client.get("/user/billing-events").json()]
        assert "plan_downgraded" in events


def test_the_admin_analytics_are_what_happened(
    stripe_gw: ThreadedGateway, admin: httpx.Client, make_user: Any
) -> None:
    plan, price = priced(admin, trial_eligible=True)
    payer, failing, trying = make_user(), make_user(), make_user()
    with on(stripe_gw, payer) as a, on(stripe_gw, failing) as b, on(stripe_gw, trying) as c:
        assert c.post("/trials/start", json={"plan_id": plan["id"]}).status_code == 201
        for client, user in ((a, payer), (b, failing)):
            sub = subscription(stripe_gw, user, plan, price)
            assert post_event(client, event("customer.subscription.created", sub)).status_code == 200
            if user is payer:
                paid = event("invoice.paid", invoice(sub, price, cents=2000))
                for body in (paid, paid, event("invoice.payment_succeeded", paid["data"]["object"])):
                    assert post_event(client, body).status_code == 200
                renewal = invoice(sub, price, cents=1500, start=sub["items"]["data"][0]["current_period_end"],
                                  reason="subscription_cycle")
                assert post_event(client, event("invoice.paid", renewal)).status_code == 200
            else:
                assert post_event(client, event("invoice.payment_failed", invoice(sub, price, amount_paid=0))) \
                    .status_code == 200
    figures = admin.get("/admin/plans/analytics")
    assert figures.status_code == 200, figures.text
    mine = next(p for p in figures.json()["plans"] if p["plan_id"] == plan["id"])
    assert mine["subscribers"] == 3 and mine["by_status"] == {"active": 1, "past_due": 1, "trialing": 1}
    assert mine["by_source"] == {"stripe": 2, "trial": 1}
    assert (mine["invoices_paid"], mine["revenue_cents"], mine["revenue"]) == (2, 3500, "35.000000000")
    assert (mine["periods_granted"], mine["credits_granted"]) == (2, "30.000000000")
    assert (mine["trials_started"], mine["trials_converted"]) == (1, 0)
    assert figures.json()["trials"]["started"] >= 1
    assert make_user().client.get("/admin/plans/analytics").status_code == 403
