"""POST /api/stripe/webhook with events signed here (what localstripe cannot send): signatures,
exactly-once processing under parallel replays, out-of-order events, the handler registry and the
purchase hook. Payments are created through the gateway on localstripe and left unpaid there."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from gatewayz.billing import ledger
from gatewayz.payments import hooks, webhooks
from tests.support.databases import run_sql
from tests.support.money import balance
from tests.support.payments import event, intent_succeeded, on, post_event, sign
from tests.support.servers import ThreadedGateway


def _intent(client: httpx.Client, **body: Any) -> dict[str, Any]:
    created = client.post("/api/stripe/payment-intent", json=body or {"package": "starter"})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def _events(database_url: str, event_id: str) -> int:
    return int(run_sql(database_url, "SELECT COUNT(*) FROM stripe_events WHERE event_id = :p0", event_id)[0][0])


def test_bad_signatures_are_400_and_change_nothing(stripe_gw: ThreadedGateway, make_user: Any,
                                                  database_url: str) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        body = _intent(client)
        good = intent_succeeded(body)
        payload = httpx.Request("POST", "/", json=good).content
        stale = int(time.time()) - 301  # the default tolerance is 300 s
        for header in (sign(payload, secret="whsec_wrong"), sign(payload, timestamp=stale), "t=1,v1=00", "garbage",
                       sign(payload + b" "), sign(payload).replace("v1=", "v0=")):
            answer = post_event(client, payload, signature=header)
            assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid_signature"), header
        missing = client.post("/api/stripe/webhook", content=payload)
        assert missing.status_code == 400
        for junk in (b"not json", b"[]", b'{"id": "evt_1"}', b'{"id": 5, "type": "x", "data": {"object": {}}}'):
            assert post_event(client, junk).status_code == 400, junk  # signed, but not an event
        assert _events(database_url, good["id"]) == 0
        assert balance(client)["balance"] == "0.000000000"
        assert post_event(client, payload).status_code == 200  # the same bytes, correctly signed
        assert balance(client)["balance"] == "10.000000000"


def test_parallel_replays_of_one_event_credit_once(stripe_gw: ThreadedGateway, make_user: Any,
                                                   database_url: str) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        body = _intent(client, amount="7.77")
        signed = intent_succeeded(body)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: post_event(client, signed), range(8)))
        assert [a.status_code for a in answers] == [200] * 8
        assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 7
        assert balance(client)["balance"] == "7.770000000"
        assert _events(database_url, signed["id"]) == 1
        assert post_event(client, signed).json()["duplicate"] is True  # and later too


def test_two_events_about_one_payment_in_parallel_and_in_any_order_credit_once(
    stripe_gw: ThreadedGateway, make_user: Any
) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        checkout = client.post("/api/stripe/checkout", json={"package": "standard"}).json()
        metadata = {"gatewayz_payment_id": str(checkout["payment_id"])}
        completed = event("checkout.session.completed", {
            "id": checkout["checkout_session_id"], "object": "checkout.session", "mode": "payment",
            "payment_status": "paid", "amount_total": 2500, "currency": "usd", "metadata": metadata,
            "payment_intent": "pi_checkout_" + str(checkout["payment_id"])})
        succeeded = event("payment_intent.succeeded", {
            "id": "pi_checkout_" + str(checkout["payment_id"]), "object": "payment_intent", "amount": 2500,
            "amount_received": 2500, "currency": "usd", "metadata": metadata})
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda e: post_event(client, e), [succeeded, completed] * 3))
        assert all(a.status_code == 200 for a in answers)
        assert sum(not a.json()["duplicate"] for a in answers) == 2  # each event once; credited once
        assert balance(client)["balance"] == "25.000000000"
        rows = client.get("/user/credit-transactions", params={"type": "purchase"}).json()["data"]
        assert len(rows) == 1


def test_events_that_do_not_match_the_payment_credit_nothing(stripe_gw: ThreadedGateway, make_user: Any) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        body = _intent(client)
        for changes in ({"amount_received": 100000}, {"currency": "eur"}, {"id": "pi_someone_elses"},
                        {"id": "pi_unknown", "metadata": {}}, {"metadata": {"gatewayz_payment_id": "99999999"}}):
            wrong = intent_succeeded(body, **changes)
            answer = post_event(client, wrong)
            assert answer.status_code == 200 and answer.json()["handled"] is True, answer.text
        assert balance(client)["balance"] == "0.000000000"
        assert client.get("/user/payments").json()["data"][0]["status"] == "pending"
        unknown = post_event(client, event("customer.created", {"id": "cus_1", "object": "customer"}))
        assert unknown.status_code == 200 and unknown.json() == {"received": True, "duplicate": False,
                                                                 "handled": False}


def test_a_failing_handler_rolls_its_event_back_and_the_retry_succeeds(
    stripe_gw: ThreadedGateway, make_user: Any, database_url: str
) -> None:
    """Registered handlers run in the event's transaction: one that raises leaves no trace (so Stripe's
    retry is processed), one that succeeds is not run again on a replay."""
    user = make_user()
    calls: list[str] = []

    async def grant_then_maybe_fail(session: Any, evt: webhooks.WebhookEvent) -> None:
        if evt.object.get("user") != user.id:
            return
        calls.append(evt.id)
        await ledger.adjust(session, user_id=user.id, amount=3_000_000_000, type_="adjustment",
                            reason="registry test", actor="test")
        if len(calls) == 1:
            raise RuntimeError("the first delivery fails")

    webhooks.register("gatewayz.test.grant", grant_then_maybe_fail)
    signed = event("gatewayz.test.grant", {"id": "obj_1", "user": user.id})
    with on(stripe_gw, user) as client:
        assert post_event(client, signed).status_code == 500
        assert balance(client)["balance"] == "0.000000000" and _events(database_url, signed["id"]) == 0
        assert post_event(client, signed).json() == {"received": True, "duplicate": False, "handled": True}
        assert post_event(client, signed).json()["duplicate"] is True
        assert balance(client)["balance"] == "3.000000000"
    assert len(calls) == 2


def test_purchase_listeners_hear_each_purchase_once_and_which_was_first(
    stripe_gw: ThreadedGateway, make_user: Any
) -> None:
    user = make_user()
    heard: list[hooks.PurchaseCompleted] = []

    async def listener(session: Any, purchase: hooks.PurchaseCompleted) -> None:
        assert webhooks.settings_of(session).stripe_webhook_secret is not None
        if purchase.user_id == user.id:
            heard.append(purchase)

    hooks.subscribe(listener)
    with on(stripe_gw, user) as client:
        first, second = _intent(client, amount="2.50"), _intent(client, package="pro")
        for body in (first, second, first):
            assert post_event(client, intent_succeeded(body)).status_code == 200
    assert [(p.payment_id, p.first_purchase, p.amount_nanos, p.credits_nanos, p.amount_cents) for p in heard] == [
        (first["payment_id"], True, 2_500_000_000, 2_500_000_000, 250),
        (second["payment_id"], False, 100_000_000_000, 105_000_000_000, 10000),
    ]


@pytest.mark.parametrize("tolerance", [1])
def test_the_tolerance_is_a_setting(base_env: dict[str, str], localstripe: Any, make_user: Any,
                                    tolerance: int) -> None:
    from tests.support.payments import stripe_gateway

    user = make_user()
    with stripe_gateway(base_env, localstripe, stripe_webhook_tolerance_seconds=tolerance) as server, \
            on(server, user) as client:
        body = _intent(client)
        late = post_event(client, intent_succeeded(body), timestamp=int(time.time()) - 5)
        assert late.status_code == 400
        assert post_event(client, intent_succeeded(body)).status_code == 200
        assert balance(client)["balance"] == "10.000000000"
