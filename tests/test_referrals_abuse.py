"""Review P1: no referral between two accounts of one mailbox (`+tags`, Gmail's dots), and both rewards
are taken back, once, when the qualifying purchase is refunded."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.support.databases import run_sql
from tests.support.money import balance, nanos
from tests.support.payments import LocalStripe, buy, event, on, post_event
from tests.support.servers import ThreadedGateway


def _person(admin: httpx.Client, gateway: ThreadedGateway, email: str) -> httpx.Client:
    made = admin.post("/admin/users", json={"email": email, "role": "user"})
    assert made.status_code == 201, made.text
    return httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {made.json()['api_key']['key']}"})


def _code(client: httpx.Client) -> str:
    return client.get("/referral/code").json()["code"]  # type: ignore[no-any-return]


def test_no_referral_between_aliases_of_one_mailbox(admin: httpx.Client, gateway: ThreadedGateway) -> None:
    tag = secrets.token_hex(4)
    owner = _person(admin, gateway, f"ali.ce{tag}@gmail.com")
    code = _code(owner)
    for alias in (f"alice{tag}+2@gmail.com", f"A.L.I.C.E{tag}@googlemail.com", f"ali.ce{tag}+ref@GMAIL.com"):
        with _person(admin, gateway, alias) as twin:
            answer = twin.post("/referral/apply", json={"code": code})
            assert (answer.status_code, answer.json()["error"]["code"]) == (400, "self_referral"), alias
    plain = _person(admin, gateway, f"bob{tag}@example.com")
    with _person(admin, gateway, f"bob{tag}+2@example.com") as twin:
        assert twin.post("/referral/apply", json={"code": _code(plain)}).json()["error"]["code"] == "self_referral"
    with _person(admin, gateway, f"carol{tag}@example.com") as stranger:
        assert stranger.post("/referral/apply", json={"code": code}).status_code == 201
    owner.close()
    plain.close()


def test_a_refunded_qualifying_purchase_takes_both_rewards_back_once(
    stripe_gw: ThreadedGateway, localstripe: LocalStripe, stripe_admin: httpx.Client, make_user: Any,
    database_url: str,
) -> None:
    referrer, referred = make_user(), make_user()
    assert referred.client.post("/referral/apply", json={"code": _code(referrer.client)}).status_code == 201
    with on(stripe_gw, referred) as client:
        purchase = buy(client, localstripe, amount="10")
        assert (balance(referrer.client)["balance"], balance(client)["balance"]) == ("5.000000000", "15.000000000")
        refunded = stripe_admin.post("/api/stripe/refund", json={"payment_id": purchase["payment_id"],
                                                                 "reason": "x"})
        assert refunded.status_code == 201, refunded.text
        assert (balance(referrer.client)["balance"], balance(client)["balance"]) == ("0.000000000", "0.000000000")
        charge = event("charge.refunded", {
            "id": "ch_" + purchase["payment_intent_id"][3:], "object": "charge", "amount": 1000,
            "amount_refunded": 1000, "currency": "usd", "paid": True, "refunded": True,
            "payment_intent": purchase["payment_intent_id"], "metadata": {}})
        assert post_event(client, charge).status_code == 200  # Stripe's own event for it, later
    rows = run_sql(database_url, "SELECT user_id, amount FROM credit_transactions WHERE type = 'referral' "
                                 "AND user_id IN (:p0, :p1) ORDER BY id", referrer.id, referred.id)
    assert sorted((int(u), int(a)) for u, a in rows) == sorted([
        (referrer.id, nanos("5")), (referred.id, nanos("5")), (referrer.id, -nanos("5")), (referred.id, -nanos("5"))])
    history = referrer.client.get("/referral/history").json()["data"]
    assert [h["status"] for h in history] == ["reversed"]
