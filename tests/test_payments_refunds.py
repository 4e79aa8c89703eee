"""POST /api/stripe/refund against localstripe, and refunds made in Stripe's dashboard (signed
`charge.refunded` events): the money through Stripe, the credits back through the ledger, once."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.support.databases import run_sql
from tests.support.money import balance, nanos
from tests.support.payments import LocalStripe, buy, event, intent_succeeded, on, post_event, stripe_gateway
from tests.support.servers import ThreadedGateway


def _refund(admin: httpx.Client, payment_id: int, **body: Any) -> httpx.Response:
    return admin.post("/api/stripe/refund", json={"payment_id": payment_id, "reason": "test", **body})


def _stripe_refunds(localstripe: LocalStripe, intent: str) -> list[int]:
    listed = localstripe.get("/v1/refunds", payment_intent=intent).json()["data"]
    return sorted(r["amount"] for r in listed)


def _entries(database_url: str, payment_id: int) -> list[tuple[str, int]]:
    return [(str(t), int(a)) for t, a in run_sql(
        database_url, "SELECT type, amount FROM credit_transactions WHERE reference = :p0 ORDER BY id",
        f"payment:{payment_id}")]


def _charge(purchase: dict[str, Any], refunded: int, **changes: Any) -> dict[str, Any]:
    return event("charge.refunded", {
        "id": "ch_" + purchase["payment_intent_id"][3:], "object": "charge", "amount": purchase["amount_cents"],
        "amount_refunded": refunded, "currency": "usd", "paid": True, "refunded": refunded >= purchase["amount_cents"],
        "payment_intent": purchase["payment_intent_id"], "metadata": {}, **changes})


def test_a_full_refund_goes_through_stripe_and_takes_the_credits_back(
    stripe_gw: ThreadedGateway, localstripe: LocalStripe, stripe_admin: httpx.Client, make_user: Any, database_url: str
) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        purchase = buy(client, localstripe, package="starter")
        assert balance(client)["balance"] == "10.000000000"
        answer = _refund(stripe_admin, purchase["payment_id"])
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert (body["status"], body["amount_cents"], body["credits_deducted"], body["credits_shortfall"]) == (
            "succeeded", 1000, "10.000000000", "0.000000000")
        assert body["stripe_refund_id"].startswith("re_")
        assert _stripe_refunds(localstripe, purchase["payment_intent_id"]) == [1000]
        assert balance(client)["balance"] == "0.000000000"
        assert _entries(database_url, purchase["payment_id"]) == [("purchase", nanos("10")), ("refund", -nanos("10"))]
        shown = client.get("/user/payments").json()["data"][0]
        assert (shown["status"], shown["refunded_cents"], shown["refunded_credits"]) == ("refunded", 1000,
                                                                                       "10.000000000")
        again = _refund(stripe_admin, purchase["payment_id"])
        assert (again.status_code, again.json()["error"]["code"]) == (400, "refund_exceeds_payment")
        # Stripe's own charge.refunded for it, later, takes nothing more
        assert post_event(client, _charge(purchase, 1000)).status_code == 200
        assert balance(client)["balance"] == "0.000000000"
    audit = stripe_admin.get("/admin/audit-logs", params={"action": "payments.refund"}).json()["data"]
    assert any(r["target_id"] == str(purchase["payment_id"]) for r in audit)


def test_partial_refunds_take_credits_in_proportion_and_the_last_takes_the_exact_rest(
    stripe_gw: ThreadedGateway, localstripe: LocalStripe, stripe_admin: httpx.Client, make_user: Any
) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        purchase = buy(client, localstripe, package="pro")  # $100 buys $105 of credits
        first = _refund(stripe_admin, purchase["payment_id"], amount="33.33").json()
        assert first["credits_deducted"] == "34.996500000"  # 105 x 33.33 / 100
        rest = _refund(stripe_admin, purchase["payment_id"]).json()
        assert (rest["amount_cents"], rest["credits_deducted"]) == (6667, "70.003500000")
        assert balance(client)["balance"] == "0.000000000"
        assert _stripe_refunds(localstripe, purchase["payment_intent_id"]) == [3333, 6667]


def test_credits_already_spent_are_refunded_only_when_the_admin_forces_it(
    stripe_gw: ThreadedGateway, localstripe: LocalStripe, stripe_admin: httpx.Client, make_user: Any,
    admin: httpx.Client,
) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        purchase = buy(client, localstripe, package="starter")
        spent = admin.post("/admin/credits", json={"user_id": user.id, "amount": "-4", "reason": "spent"})
        assert spent.status_code == 201, spent.text
        refused = _refund(stripe_admin, purchase["payment_id"])
        assert (refused.status_code, refused.json()["error"]["code"]) == (400, "refund_exceeds_unspent")
        assert "6.000000000" in refused.json()["error"]["message"]
        assert _stripe_refunds(localstripe, purchase["payment_intent_id"]) == []
        assert _refund(stripe_admin, purchase["payment_id"], amount="6").status_code == 201  # what is left is fine
        forced = _refund(stripe_admin, purchase["payment_id"], force=True).json()
        assert (forced["amount_cents"], forced["credits_deducted"], forced["credits_shortfall"], forced["forced"]) == (
            400, "0.000000000", "4.000000000", True)
        assert _stripe_refunds(localstripe, purchase["payment_intent_id"]) == [400, 600]
        assert balance(client)["balance"] == "0.000000000"


def test_parallel_refunds_never_refund_more_than_was_paid(
    stripe_gw: ThreadedGateway, localstripe: LocalStripe, stripe_admin: httpx.Client, make_user: Any
) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        purchase = buy(client, localstripe, package="starter")
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: _refund(stripe_admin, purchase["payment_id"], amount="4"), range(6)))
        assert sorted(a.status_code for a in answers) == [201, 201] + [400] * 4, [a.text for a in answers]
        assert _stripe_refunds(localstripe, purchase["payment_intent_id"]) == [400, 400]
        assert balance(client)["balance"] == "2.000000000"


def test_refunds_made_in_stripe_arrive_by_webhook_once(
    stripe_gw: ThreadedGateway, localstripe: LocalStripe, make_user: Any, database_url: str
) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        purchase = buy(client, localstripe, package="starter")
        partial = _charge(purchase, 300)
        assert post_event(client, partial).status_code == 200
        assert post_event(client, partial).json()["duplicate"] is True
        assert post_event(client, _charge(purchase, 300)).status_code == 200  # a new event, the same total
        assert balance(client)["balance"] == "7.000000000"
        assert post_event(client, _charge(purchase, 200)).status_code == 200  # out of order: an older total
        assert balance(client)["balance"] == "7.000000000"
        assert post_event(client, _charge(purchase, 1000)).status_code == 200
        assert balance(client)["balance"] == "0.000000000"
        assert _entries(database_url, purchase["payment_id"]) == [
            ("purchase", nanos("10")), ("refund", -nanos("3")), ("refund", -nanos("7"))]


def test_a_refund_seen_before_the_payment_event_credits_then_refunds(
    stripe_gw: ThreadedGateway, make_user: Any, database_url: str
) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        created = client.post("/api/stripe/payment-intent", json={"amount": "5"}).json()
        assert post_event(client, _charge(created, 500)).status_code == 200
        assert _entries(database_url, created["payment_id"]) == [("purchase", nanos("5")), ("refund", -nanos("5"))]
        assert balance(client)["balance"] == "0.000000000"


def test_bad_refunds_are_4xx(stripe_gw: ThreadedGateway, stripe_admin: httpx.Client, make_user: Any) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        pending = client.post("/api/stripe/payment-intent", json={"amount": "5"}).json()
    assert _refund(stripe_admin, 10**15).status_code == 404
    assert _refund(stripe_admin, pending["payment_id"]).json()["error"]["code"] == "payment_not_paid"
    for body in ({"amount": "0"}, {"amount": "1.001"}, {"force": "yes"}, {"reason": ""}):
        assert _refund(stripe_admin, pending["payment_id"], **body).status_code == 400, body
    with on(stripe_gw, user) as client:
        assert client.post("/api/stripe/refund", json={"payment_id": pending["payment_id"], "reason": "x"}
                           ).status_code == 403


def test_a_refund_whose_answer_is_lost_stays_pending_until_stripe_says_it_was_made(
    base_env: dict[str, str], localstripe: LocalStripe, stripe_gw: ThreadedGateway, stripe_admin: httpx.Client,
    make_user: Any, database_url: str,
) -> None:
    user = make_user()
    with on(stripe_gw, user) as client:
        purchase = client.post("/api/stripe/payment-intent", json={"package": "starter"}).json()
        assert post_event(client, intent_succeeded(purchase)).status_code == 200
    with socket.socket() as silent:  # accepts connections, never answers: Stripe timing out
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        mute = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with stripe_gateway(base_env, localstripe, stripe_api_base=mute, stripe_timeout_seconds=0.5) as slow, \
                httpx.Client(base_url=slow.url, headers=stripe_admin.headers, timeout=60) as admin:
            lost = _refund(admin, purchase["payment_id"])
    assert (lost.status_code, lost.json()["error"]["code"]) == (502, "refund_outcome_unknown"), lost.text
    assert run_sql(database_url, "SELECT status FROM payment_refunds WHERE payment_id = :p0",
                   purchase["payment_id"]) == [("pending",)]
    with on(stripe_gw, user) as client:
        assert balance(client)["balance"] == "0.000000000"  # taken at reservation (review F1)
        assert post_event(client, _charge(purchase, 1000)).status_code == 200  # no refund list: newer API versions
        assert balance(client)["balance"] == "0.000000000"
        assert _entries(database_url, purchase["payment_id"]) == [("purchase", nanos("10")), ("refund", -nanos("10"))]
    assert run_sql(database_url, "SELECT status FROM payment_refunds WHERE payment_id = :p0",
                   purchase["payment_id"]) == [("succeeded",)]
