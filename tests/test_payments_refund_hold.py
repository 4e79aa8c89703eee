"""Review F1 and F10: a refund takes its credits when it is reserved, before Stripe is asked (so they
cannot be spent or moved while Stripe answers), gives them back if Stripe refuses, and takes
purchased (non-expiring) credit before a trial's or a grant's expiring credit."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.databases import run_sql
from tests.support.money import balance, grant, nanos
from tests.support.payments import LocalStripe, buy, event, intent_succeeded, on, post_event, stripe_gateway
from tests.support.servers import ThreadedGateway
from tests.support.teams import new_team


def _entries(database_url: str, payment_id: int) -> list[int]:
    return [int(a) for (a,) in run_sql(database_url, "SELECT amount FROM credit_transactions WHERE reference = :p0 "
                                       "ORDER BY id", f"payment:{payment_id}")]


def test_credits_of_a_refund_in_flight_cannot_be_moved_away(
    base_env: dict[str, str], localstripe: LocalStripe, stripe_gw: ThreadedGateway, stripe_admin: httpx.Client,
    make_user: Any, database_url: str,
) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        purchase = client.post("/api/stripe/payment-intent", json={"package": "starter"}).json()
        assert post_event(client, intent_succeeded(purchase)).status_code == 200
    team = new_team(user)
    with socket.socket() as silent:  # Stripe takes its time: the refund is reserved, not yet answered
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        mute = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with stripe_gateway(base_env, localstripe, stripe_api_base=mute, stripe_timeout_seconds=0.5) as slow, \
                httpx.Client(base_url=slow.url, headers=stripe_admin.headers, timeout=60) as admin:
            lost = admin.post("/api/stripe/refund", json={"payment_id": purchase["payment_id"], "reason": "x"})
    assert lost.status_code == 502, lost.text
    assert balance(user.client)["balance"] == "0.000000000"
    moved = user.client.post(f"/teams/{team['id']}/credits", json={"amount": "10"})
    assert moved.status_code in (400, 402), moved.text
    with on(stripe_gw, user) as client:
        charge = event("charge.refunded", {
            "id": "ch_" + purchase["payment_intent_id"][3:], "object": "charge", "amount": 1000,
            "amount_refunded": 1000, "currency": "usd", "paid": True, "refunded": True,
            "payment_intent": purchase["payment_intent_id"], "metadata": {}})
        assert post_event(client, charge).status_code == 200
    assert balance(user.client)["balance"] == "0.000000000"
    assert _entries(database_url, purchase["payment_id"]) == [nanos("10"), -nanos("10")]
    assert run_sql(database_url, "SELECT status, credits_deducted FROM payment_refunds WHERE payment_id = :p0",
                   purchase["payment_id"]) == [("succeeded", nanos("10"))]


def test_a_refund_stripe_refuses_gives_the_credits_back(
    stripe_gw: ThreadedGateway, stripe_admin: httpx.Client, make_user: Any, database_url: str
) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        purchase = client.post("/api/stripe/payment-intent", json={"amount": "5"}).json()
        assert post_event(client, intent_succeeded(purchase)).status_code == 200  # never charged in Stripe
        refused = stripe_admin.post("/api/stripe/refund", json={"payment_id": purchase["payment_id"], "reason": "x"})
        assert refused.status_code >= 400 and refused.status_code != 500, refused.text
        assert balance(client)["balance"] == "5.000000000"
    assert _entries(database_url, purchase["payment_id"]) == [nanos("5"), -nanos("5"), nanos("5")]
    assert run_sql(database_url, "SELECT status, credits_deducted FROM payment_refunds WHERE payment_id = :p0",
                   purchase["payment_id"]) == [("failed", 0)]


def test_a_refund_takes_purchased_credit_before_expiring_credit(
    stripe_gw: ThreadedGateway, localstripe: LocalStripe, stripe_admin: httpx.Client, admin: httpx.Client,
    make_user: Any, database_url: str,
) -> None:
    user = make_user()
    grant(admin, user.id, "10", expires_at=(datetime.now(UTC) + timedelta(days=1)).isoformat())  # a trial's
    with on(stripe_gw, user) as client:
        purchase = buy(client, localstripe, package="starter")
        answer = stripe_admin.post("/api/stripe/refund", json={"payment_id": purchase["payment_id"], "reason": "x"})
        assert answer.status_code == 201, answer.text
        assert balance(client)["balance"] == "10.000000000"
    assert run_sql(database_url, "SELECT expiring FROM credit_accounts WHERE user_id = :p0", user.id) == [
        (nanos("10"),)]
    team = new_team(user)  # what is left expires: it cannot be moved to a pool
    assert user.client.post(f"/teams/{team['id']}/credits", json={"amount": "10"}).status_code in (400, 402)
