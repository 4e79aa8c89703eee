"""Credit purchases end to end against localstripe: a payment intent and a Checkout session are
created through the gateway, paid on localstripe, and credited by the webhook localstripe sends."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.databases import run_sql
from tests.support.money import balance, nanos
from tests.support.payments import LocalStripe, on, wait_for
from tests.support.servers import ThreadedGateway


def _payment(client: httpx.Client, payment_id: int) -> dict[str, Any]:
    rows = client.get("/user/payments").json()["data"]
    return next(p for p in rows if p["id"] == payment_id)


def _succeeded(client: httpx.Client, payment_id: int) -> bool:
    return _payment(client, payment_id)["status"] == "succeeded"


def _purchases(database_url: str, payment_id: int) -> list[tuple[Any, ...]]:
    return run_sql(database_url, "SELECT type, amount FROM credit_transactions WHERE reference = :p0 ORDER BY id",
                   f"payment:{payment_id}")


def test_packages_are_listed(stripe_gw: ThreadedGateway) -> None:
    listed = httpx.get(f"{stripe_gw.url}/api/stripe/packages").json()
    pro = next(p for p in listed["data"] if p["id"] == "pro")
    assert (pro["price"], pro["price_cents"], pro["credits"]) == ("100.000000000", 10000, "105.000000000")
    assert (listed["custom_amount_min"], listed["custom_amount_max"]) == ("1.00", "10000.00")


def test_a_payment_intent_paid_on_stripe_credits_the_package_once(
    stripe_gw: ThreadedGateway, localstripe: LocalStripe, make_user: Any, database_url: str
) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        created = client.post("/api/stripe/payment-intent", json={"package": "starter"})
        assert created.status_code == 201, created.text
        body = created.json()
        assert (body["amount_cents"], body["credits"], body["status"]) == (1000, "10.000000000", "pending")
        assert body["client_secret"].startswith(body["payment_intent_id"])
        intent = localstripe.get(f"/v1/payment_intents/{body['payment_intent_id']}").json()
        assert (intent["amount"], intent["currency"]) == (1000, "usd")
        assert intent["metadata"]["gatewayz_payment_id"] == str(body["payment_id"])
        assert balance(client)["balance"] == "0.000000000"

        localstripe.pay_intent(body["payment_intent_id"])
        assert wait_for(lambda: _succeeded(client, body["payment_id"])), "payment_intent.succeeded never arrived"
        assert balance(client)["balance"] == "10.000000000"
        assert _purchases(database_url, body["payment_id"]) == [("purchase", nanos("10"))]
        shown = _payment(client, body["payment_id"])
        assert (shown["kind"], shown["amount"], shown["payment_intent_id"]) == (
            "payment_intent", "10.000000000", body["payment_intent_id"])


def test_a_checkout_session_credits_once_although_two_events_say_it_is_paid(
    stripe_gw: ThreadedGateway, localstripe: LocalStripe, make_user: Any, database_url: str
) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        created = client.post("/api/stripe/checkout", json={"amount": "12.34"})
        assert created.status_code == 201, created.text
        body = created.json()
        session = localstripe.get(f"/v1/checkout/sessions/{body['checkout_session_id']}").json()
        assert (session["amount_total"], session["mode"]) == (1234, "payment")
        assert session["metadata"]["gatewayz_payment_id"] == str(body["payment_id"])
        assert session["success_url"].startswith("http://127.0.0.1/")
        assert body["checkout_url"] == session["url"]

        paid = localstripe.pay_checkout(body["checkout_session_id"])
        events = {"checkout.session.completed", "payment_intent.succeeded"}
        object_ids = {body["checkout_session_id"], paid["payment_intent"]}

        def both_arrived() -> bool:
            rows = run_sql(database_url, "SELECT type, object_id FROM stripe_events")
            return {t for t, o in rows if o in object_ids} == events

        assert wait_for(both_arrived), "localstripe's two events never both arrived"
        assert balance(client)["balance"] == "12.340000000"
        assert _purchases(database_url, body["payment_id"]) == [("purchase", nanos("12.34"))]
        assert _payment(client, body["payment_id"])["payment_intent_id"] == paid["payment_intent"]


def test_bad_purchases_are_400s_that_name_the_problem(stripe_gw: ThreadedGateway, make_user: Any) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        for body, param in (({"amount": "0.99"}, "amount"), ({"amount": "10001"}, "amount"),
                            ({"amount": "10.001"}, "amount"), ({"amount": "-5"}, "amount"),
                            ({"package": "nope"}, "package"), ({"package": "starter", "amount": "5"}, None),
                            ({}, None), ({"amount": "NaN"}, "amount"), ({"amount": "1e400"}, "amount")):
            for path in ("/api/stripe/checkout", "/api/stripe/payment-intent"):
                answer = client.post(path, json=body)
                assert answer.status_code == 400, (path, body, answer.text)
                assert answer.json()["error"]["param"] == param, (body, answer.text)
        assert client.get("/user/payments").json()["data"] == []


def test_sandbox_keys_cannot_buy_and_a_gateway_without_stripe_says_so(
    stripe_gw: ThreadedGateway, gateway: ThreadedGateway, make_user: Any
) -> None:
    user = make_user()
    sandbox = user.client.post("/user/api-keys", json={"name": "sb", "environment": "test"})
    assert sandbox.status_code == 201, sandbox.text
    key = sandbox.json()["key"]
    answer = httpx.post(f"{stripe_gw.url}/api/stripe/checkout", json={"package": "starter"},
                        headers={"Authorization": f"Bearer {key}"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "sandbox_key")
    unconfigured = user.client.post("/api/stripe/checkout", json={"package": "starter"})
    assert (unconfigured.status_code, unconfigured.json()["error"]["code"]) == (404, "payments_not_configured")
    webhook = httpx.post(f"{gateway.url}/api/stripe/webhook", content=b"{}")
    assert webhook.status_code == 404
    assert user.client.get("/user/payments").json()["data"] == []
