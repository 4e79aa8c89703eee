"""Coupon administration (/admin/coupons: create, read, change, disable; audited), POST /coupons/redeem
for credit coupons, and the last use of a coupon under concurrency (redeem and checkout)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.support.coupons import make_coupon, new_code
from tests.support.databases import run_sql
from tests.support.money import balance
from tests.support.payments import LocalStripe, on
from tests.support.servers import ThreadedGateway


def test_coupons_are_created_read_changed_and_disabled_with_audit_records(admin: httpx.Client) -> None:
    code = new_code("adm")
    created = admin.post("/admin/coupons", json={"code": code, "kind": "percent", "percent_off": "12.5",
                                                 "max_uses": 10, "allowed_emails": ["@Example.COM"]})
    assert created.status_code == 201, created.text
    coupon = created.json()
    assert (coupon["code"], coupon["percent_off"], coupon["max_uses_per_user"], coupon["uses"]) == (
        code.upper(), "12.50", 1, 0)
    assert coupon["allowed_emails"] == ["@example.com"]
    assert admin.post("/admin/coupons", json={"code": code.lower(), "kind": "fixed", "amount_off": "1"}
                      ).status_code == 409
    changed = admin.patch(f"/admin/coupons/{coupon['id']}", json={"max_uses": 3, "description": "spring"})
    assert changed.status_code == 200 and changed.json()["max_uses"] == 3
    assert admin.patch(f"/admin/coupons/{coupon['id']}", json={"percent_off": "50"}).status_code == 400
    listed = admin.get("/admin/coupons", params={"limit": 500}).json()["data"]
    assert any(c["id"] == coupon["id"] for c in listed)
    disabled = admin.delete(f"/admin/coupons/{coupon['id']}")
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    active = admin.get("/admin/coupons", params={"include_disabled": "false", "limit": 500}).json()["data"]
    assert all(c["id"] != coupon["id"] for c in active)
    assert admin.patch(f"/admin/coupons/{coupon['id']}", json={"disabled": False}).json()["disabled"] is False
    actions = [r["action"] for r in admin.get("/admin/audit-logs", params={"target_type": "coupon", "limit": 500}
                                              ).json()["data"] if r["target_id"] == str(coupon["id"])]
    assert sorted(actions) == ["coupons.create", "coupons.disable", "coupons.update", "coupons.update"]
    assert admin.get("/admin/coupons/999999999").status_code == 404


def test_bad_coupons_are_400s(admin: httpx.Client) -> None:
    for body in ({"kind": "percent"}, {"kind": "percent", "percent_off": "101"},
                 {"kind": "percent", "percent_off": "10", "amount_off": "1"}, {"kind": "fixed", "amount_off": "0.001"},
                 {"kind": "credit", "credits": "-1"}, {"kind": "bonus", "credits": "1e9"}, {"kind": "magic"},
                 {"kind": "fixed", "amount_off": "1", "valid_from": "2030-01-02T00:00:00Z",
                  "valid_until": "2030-01-01T00:00:00Z"},
                 {"kind": "fixed", "amount_off": "1", "max_uses": 0}, {"kind": "fixed", "amount_off": "1", "x": 1},
                 {"kind": "fixed", "amount_off": "1", "stacks_with": ["everything"]},
                 {"kind": "fixed", "amount_off": "1", "allowed_emails": ["not an email"]}):
        answer = admin.post("/admin/coupons", json={"code": new_code(), **body})
        assert answer.status_code == 400, (body, answer.text)
    for code in ("a", "has space", "x" * 21, "ünï"):
        assert admin.post("/admin/coupons", json={"code": code, "kind": "fixed", "amount_off": "1"}
                          ).status_code == 400, code


def test_a_credit_coupon_is_redeemed_once_through_the_ledger(admin: httpx.Client, make_user: Any) -> None:
    coupon = make_coupon(admin, "credit", credits="3.333333333")
    user = make_user()
    redeemed = user.client.post("/coupons/redeem", json={"coupon_code": coupon["code"].lower()})
    assert redeemed.status_code == 201, redeemed.text
    assert (redeemed.json()["credits"], redeemed.json()["balance"]) == ("3.333333333", "3.333333333")
    again = user.client.post("/coupons/redeem", json={"coupon_code": coupon["code"]})
    assert (again.status_code, again.json()["error"]["code"]) == (400, "coupon_already_used")
    rows = user.client.get("/user/credit-transactions", params={"type": "coupon"}).json()["data"]
    assert [r["amount"] for r in rows] == ["3.333333333"]
    percent = make_coupon(admin, "percent", percent_off="5")
    assert user.client.post("/coupons/redeem", json={"coupon_code": percent["code"]}).json()["error"]["code"] == \
        "coupon_wrong_kind"
    stats = admin.get(f"/admin/coupons/{coupon['id']}/analytics").json()
    assert (stats["redemptions"], stats["free_credits_given"]) == (1, "3.333333333")


def test_the_last_uses_of_a_credit_coupon_go_to_exactly_that_many_callers(
    admin: httpx.Client, make_user: Any, database_url: str
) -> None:
    coupon = make_coupon(admin, "credit", credits="1", max_uses=3)
    users = [make_user() for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda u: u.client.post("/coupons/redeem", json={"coupon_code": coupon["code"]}),
                                users))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] * 3 + [400] * 5, [a.text for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 400} == {"coupon_used_up"}
    assert admin.get(f"/admin/coupons/{coupon['id']}").json()["uses"] == 3
    granted = run_sql(database_url, "SELECT COUNT(*) FROM credit_transactions WHERE reference = :p0",
                      f"coupon:{coupon['id']}")
    assert granted[0][0] == 3
    one = make_coupon(admin, "credit", credits="1")  # one use per user, many tries at once
    person = users[0]
    with ThreadPoolExecutor(6) as pool:
        tries = list(pool.map(lambda _: person.client.post("/coupons/redeem", json={"coupon_code": one["code"]}),
                              range(6)))
    assert sorted(t.status_code for t in tries) == [201] + [400] * 5, [t.text for t in tries]


def test_the_last_use_of_a_checkout_coupon_goes_to_one_checkout(
    stripe_gw: ThreadedGateway, localstripe: LocalStripe, admin: httpx.Client, make_user: Any
) -> None:
    coupon = make_coupon(admin, "fixed", amount_off="2", max_uses=2)
    clients = [on(stripe_gw, make_user()) for _ in range(6)]
    try:
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda c: c.post("/api/stripe/checkout", json={
                "package": "starter", "coupon_code": coupon["code"]}), clients))
    finally:
        for client in clients:
            client.close()
    made = [a.json() for a in answers if a.status_code == 201]
    assert len(made) == 2, [a.text for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code != 201} == {"coupon_used_up"}
    for body in made:
        assert localstripe.get(f"/v1/checkout/sessions/{body['checkout_session_id']}").json()["amount_total"] == 800
    assert admin.get(f"/admin/coupons/{coupon['id']}").json()["uses"] == 2


def test_sandbox_keys_cannot_redeem(admin: httpx.Client, make_user: Any, gateway: ThreadedGateway) -> None:
    coupon = make_coupon(admin, "credit", credits="1")
    user = make_user()
    key = user.client.post("/user/api-keys", json={"name": "sb", "environment": "test"}).json()["key"]
    answer = httpx.post(f"{gateway.url}/coupons/redeem", json={"coupon_code": coupon["code"]},
                        headers={"Authorization": f"Bearer {key}"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "sandbox_key")
    assert balance(user.client)["balance"] == "0.000000000"
