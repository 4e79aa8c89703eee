"""Review P6: `coupons.write` alone cannot mint credits (credit and bonus coupons, and large discounts,
need `credits.grant` too), and nobody uses a coupon they made."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.support.coupons import new_code
from tests.support.money import balance
from tests.support.servers import ThreadedGateway


def _admin_with(admin: httpx.Client, gateway: ThreadedGateway, *permissions: str) -> tuple[httpx.Client, int]:
    name = "coupon-desk-" + secrets.token_hex(3)
    assert admin.post("/admin/roles", json={"name": name, "permissions": list(permissions)}).status_code == 201
    made = admin.post("/admin/users", json={"email": f"desk-{secrets.token_hex(4)}@example.com", "roles": [name]})
    assert made.status_code == 201, made.text
    client = httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {made.json()['api_key']['key']}"})
    return client, int(made.json()["user"]["id"])


def test_coupons_write_alone_gives_no_credits_and_no_large_discounts(
    admin: httpx.Client, gateway: ThreadedGateway
) -> None:
    desk, me = _admin_with(admin, gateway, "coupons.write")

    def create(**body: Any) -> httpx.Response:
        return desk.post("/admin/coupons", json={"code": new_code("R"), **body})

    for body in ({"kind": "credit", "credits": "1000000", "allowed_user_ids": [me], "max_uses": 1},
                 {"kind": "bonus", "credits": "5"}, {"kind": "percent", "percent_off": "99.99"},
                 {"kind": "percent", "percent_off": "50.01"}, {"kind": "fixed", "amount_off": "5.01"},
                 {"kind": "fixed", "amount_off": "60", "min_purchase": "100"}):
        answer = create(**body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "coupon_needs_credits_grant"), body
    assert balance(desk)["balance"] == "0.000000000"
    for body in ({"kind": "percent", "percent_off": "50"}, {"kind": "fixed", "amount_off": "5"},
                 {"kind": "fixed", "amount_off": "50", "min_purchase": "100"}):
        assert create(**body).status_code == 201, body
    fixed = create(kind="fixed", amount_off="40", min_purchase="80").json()
    widened = desk.patch(f"/admin/coupons/{fixed['id']}", json={"min_purchase": None})
    assert (widened.status_code, widened.json()["error"]["code"]) == (403, "coupon_needs_credits_grant")
    assert admin.get(f"/admin/coupons/{fixed['id']}").json()["min_purchase"] == "80.000000000"
    granted = admin.post("/admin/coupons", json={"code": new_code("G"), "kind": "credit", "credits": "2"}).json()
    assert desk.patch(f"/admin/coupons/{granted['id']}", json={"max_uses": 1000}).status_code == 403
    assert desk.patch(f"/admin/coupons/{granted['id']}", json={"description": "spring"}).status_code == 200
    assert desk.delete(f"/admin/coupons/{granted['id']}").status_code == 200
    assert desk.patch(f"/admin/coupons/{granted['id']}", json={"disabled": False}).status_code == 403


def test_nobody_uses_a_coupon_they_made(admin: httpx.Client, gateway: ThreadedGateway) -> None:
    boss, me = _admin_with(admin, gateway, "coupons.write", "credits.grant")
    credit = boss.post("/admin/coupons", json={"code": new_code("O"), "kind": "credit", "credits": "1000",
                                               "allowed_user_ids": [me]})
    assert credit.status_code == 201, credit.text
    redeemed = boss.post("/coupons/redeem", json={"coupon_code": credit.json()["code"]})
    assert (redeemed.status_code, redeemed.json()["error"]["code"]) == (400, "coupon_own")
    percent = boss.post("/admin/coupons", json={"code": new_code("O"), "kind": "percent", "percent_off": "99.99"})
    assert percent.status_code == 201, percent.text
    checked = boss.post("/coupons/validate", json={"coupon_code": percent.json()["code"], "amount": "10000"})
    assert (checked.status_code, checked.json()["error"]["code"]) == (400, "coupon_own")
    assert balance(boss)["balance"] == "0.000000000"
