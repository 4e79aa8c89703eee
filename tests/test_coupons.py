"""Coupons at checkout (the discount is the price Stripe charges, on localstripe), bonus credits,
the rules that refuse a coupon (each a 400 saying why), and POST /coupons/validate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.coupons import make_coupon
from tests.support.databases import run_sql
from tests.support.money import balance, nanos
from tests.support.payments import LocalStripe, buy, event, on, post_event
from tests.support.servers import ThreadedGateway


def _iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def _checkout(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/api/stripe/checkout", json=body)


def test_a_percent_coupon_is_the_price_stripe_charges_and_the_analytics_count_it(
    stripe_gw: ThreadedGateway, localstripe: LocalStripe, admin: httpx.Client, make_user: Any
) -> None:
    coupon = make_coupon(admin, "percent", percent_off="20")
    user = make_user()
    with on(stripe_gw, user) as client:
        created = _checkout(client, package="standard", coupon_code=coupon["code"].lower())
        assert created.status_code == 201, created.text
        body = created.json()
        assert (body["list_price"], body["amount"], body["discount"], body["credits"], body["coupon_code"]) == (
            "25.000000000", "20.000000000", "5.000000000", "25.000000000", coupon["code"])
        session = localstripe.get(f"/v1/checkout/sessions/{body['checkout_session_id']}").json()
        assert session["amount_total"] == 2000
        completed = event("checkout.session.completed", {**session, "payment_status": "paid",
                                                         "payment_intent": "pi_c" + coupon["code"]})
        assert post_event(client, completed).status_code == 200
        assert balance(client)["balance"] == "25.000000000"
    stats = admin.get(f"/admin/coupons/{coupon['id']}/analytics").json()
    assert (stats["redemptions"], stats["reserved"], stats["users"], stats["discount_given"], stats["revenue"]) == (
        1, 0, 1, "5.000000000", "20.000000000")
    assert admin.get(f"/admin/coupons/{coupon['id']}").json()["uses"] == 1


def test_stacked_coupons_percent_first_then_fixed_and_a_bonus(
    stripe_gw: ThreadedGateway, localstripe: LocalStripe, admin: httpx.Client, make_user: Any, database_url: str
) -> None:
    percent = make_coupon(admin, "percent", percent_off="10", stackable=True)
    fixed = make_coupon(admin, "fixed", amount_off="5", stackable=True, stacks_with=["percent", "bonus"])
    bonus = make_coupon(admin, "bonus", credits="2.5", stackable=True)
    loner = make_coupon(admin, "fixed", amount_off="1")
    picky = make_coupon(admin, "fixed", amount_off="1", stackable=True, stacks_with=["bonus"])
    user = make_user()
    with on(stripe_gw, user) as client:
        for codes in ([percent["code"], loner["code"]], [picky["code"], percent["code"]],
                      [percent["code"], percent["code"]]):
            refused = client.post("/api/stripe/payment-intent", json={"package": "pro", "coupon_codes": codes})
            assert refused.status_code == 400 and refused.json()["error"]["code"] in (
                "coupon_not_stackable", "coupon_repeated"), refused.text
        purchase = buy(client, localstripe, package="pro",
                       coupon_codes=[fixed["code"], bonus["code"], percent["code"]])
        assert (purchase["amount_cents"], purchase["bonus_credits"], purchase["credits"]) == (
            8500, "2.500000000", "105.000000000")
        assert localstripe.get(f"/v1/payment_intents/{purchase['payment_intent_id']}").json()["amount"] == 8500
        assert balance(client)["balance"] == "107.500000000"
    ledger = run_sql(database_url, "SELECT type, amount FROM credit_transactions WHERE reference = :p0 ORDER BY id",
                     f"payment:{purchase['payment_id']}")
    assert [(t, int(a)) for t, a in ledger] == [("purchase", nanos("105")), ("coupon", nanos("2.5"))]
    assert admin.get(f"/admin/coupons/{loner['id']}").json()["uses"] == 0  # refused checkouts took nothing


def test_each_rule_refuses_with_its_reason(stripe_gw: ThreadedGateway, localstripe: LocalStripe,
                                           admin: httpx.Client, make_user: Any) -> None:
    user, other = make_user(), make_user()
    with on(stripe_gw, other) as client:
        buy(client, localstripe, package="starter")  # `other` has paid before
    cases = [
        ("coupon_expired", user, {"valid_until": _iso(timedelta(seconds=-1)), "valid_from": _iso(timedelta(-1))}),
        ("coupon_not_started", user, {"valid_from": _iso(timedelta(days=1))}),
        ("coupon_min_purchase", user, {"min_purchase": "50"}),
        ("coupon_first_purchase_only", other, {"first_time_only": True}),
        ("coupon_not_eligible", user, {"allowed_emails": ["@somewhere-else.example"]}),
        ("coupon_not_eligible", user, {"allowed_user_ids": [other.id]}),
        ("coupon_not_eligible", user, {"allowed_plans": ["enterprise"]}),
        ("coupon_disabled", user, {"disabled": True}),
        ("coupon_used_up", user, {"max_uses": 1}),
        ("coupon_already_used", other, {"max_uses_per_user": 1}),
    ]
    for reason, who, rules in cases:
        coupon = make_coupon(admin, "percent", percent_off="10", **rules)
        if reason in ("coupon_used_up", "coupon_already_used"):
            with on(stripe_gw, other) as client:  # `other` takes the one use (per user, or in all)
                assert _checkout(client, package="standard", coupon_code=coupon["code"]).status_code == 201
        with on(stripe_gw, who) as client:
            answer = _checkout(client, package="standard", coupon_code=coupon["code"])
            assert answer.status_code == 400, (reason, answer.text)
            error = answer.json()["error"]
            assert (error["code"], error["param"]) == (reason, "coupon_code"), (rules, error)
            assert coupon["code"] in error["message"]
            check = client.post("/coupons/validate", json={"package": "standard", "coupon_code": coupon["code"]})
            assert check.json()["error"]["code"] == reason
    allowed = make_coupon(admin, "percent", percent_off="10", allowed_emails=["@EXAMPLE.com"], allowed_plans=["free"],
                          allowed_user_ids=[user.id], first_time_only=True, min_purchase="25")
    with on(stripe_gw, user) as client:
        assert _checkout(client, package="standard", coupon_code=allowed["code"]).status_code == 201
        unknown = _checkout(client, package="standard", coupon_code="NOSUCHCOUPON")
        assert unknown.json()["error"]["code"] == "coupon_not_found"
        credit = make_coupon(admin, "credit", credits="1")
        assert _checkout(client, package="starter", coupon_code=credit["code"]).json()["error"]["code"] == \
            "coupon_wrong_kind"
        free = make_coupon(admin, "percent", percent_off="100")
        assert _checkout(client, package="starter", coupon_code=free["code"]).json()["error"]["code"] == \
            "amount_below_minimum"


def test_validate_says_what_a_coupon_would_do(admin: httpx.Client, make_user: Any) -> None:
    user = make_user()
    fixed = make_coupon(admin, "fixed", amount_off="3")
    shown = user.client.post("/coupons/validate", json={"amount": "12.34", "coupon_code": fixed["code"]}).json()
    assert (shown["amount"], shown["amount_cents"], shown["discount"], shown["credits"]) == (
        "9.340000000", 934, "3.000000000", "12.340000000")
    credit = make_coupon(admin, "credit", credits="0.000000001")
    assert user.client.post("/coupons/validate", json={"coupon_code": credit["code"]}).json()["credits"] == \
        "0.000000001"
    needs = user.client.post("/coupons/validate", json={"coupon_code": fixed["code"]})
    assert needs.json()["error"]["code"] == "coupon_needs_purchase"
    assert admin.get(f"/admin/coupons/{fixed['id']}").json()["uses"] == 0  # validating takes nothing


def test_an_expired_checkout_gives_its_coupon_use_back(stripe_gw: ThreadedGateway, admin: httpx.Client,
                                                      make_user: Any) -> None:
    coupon = make_coupon(admin, "percent", percent_off="50", max_uses=1)
    first, second = make_user(), make_user()
    with on(stripe_gw, first) as client:
        body = _checkout(client, package="starter", coupon_code=coupon["code"]).json()
        assert admin.get(f"/admin/coupons/{coupon['id']}").json()["uses"] == 1
    with on(stripe_gw, second) as client:
        assert _checkout(client, package="starter", coupon_code=coupon["code"]).json()["error"]["code"] == \
            "coupon_used_up"
        expired = event("checkout.session.expired", {"id": body["checkout_session_id"], "object": "checkout.session",
                                                     "metadata": {"gatewayz_payment_id": str(body["payment_id"])}})
        assert post_event(client, expired).status_code == 200
        assert admin.get(f"/admin/coupons/{coupon['id']}").json()["uses"] == 0
        assert _checkout(client, package="starter", coupon_code=coupon["code"]).status_code == 201
    stats = admin.get(f"/admin/coupons/{coupon['id']}/analytics").json()
    assert (stats["redemptions"], stats["reserved"]) == (0, 1)


def test_a_canceled_payment_intent_gives_its_coupon_use_back(stripe_gw: ThreadedGateway, admin: httpx.Client,
                                                             make_user: Any) -> None:
    coupon = make_coupon(admin, "fixed", amount_off="1", max_uses=1)
    with on(stripe_gw, make_user()) as client:
        body = client.post("/api/stripe/payment-intent", json={"package": "starter", "coupon_code": coupon["code"]})
        assert body.status_code == 201 and body.json()["amount_cents"] == 900, body.text
        purchase = body.json()
        canceled = event("payment_intent.canceled", {"id": purchase["payment_intent_id"], "object": "payment_intent",
                                                     "metadata": {"gatewayz_payment_id": str(purchase["payment_id"])}})
        assert admin.get(f"/admin/coupons/{coupon['id']}").json()["uses"] == 1
        assert post_event(client, canceled).status_code == 200
        assert client.get("/user/payments", params={"status": "canceled"}).json()["data"][0]["id"] == \
            purchase["payment_id"]
    assert admin.get(f"/admin/coupons/{coupon['id']}").json()["uses"] == 0
