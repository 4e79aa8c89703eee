"""Plans: the public list, admin CRUD with its validation and audit, assignment with the first
period's credits through the ledger, and the user's view of their plan."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.databases import run_sql
from tests.support.identity import GwUser
from tests.support.money import balance, nanos
from tests.support.plans import assign, make_plan
from tests.support.roles import make_role, staff


def test_the_public_list_shows_public_active_plans_only(admin: httpx.Client, anon: httpx.Client) -> None:
    public = make_plan(admin, price_monthly="20", credits_per_period="5")
    custom = make_plan(admin, visibility="custom")
    archived = make_plan(admin)
    assert admin.patch(f"/admin/plans/{archived['id']}", json={"active": False}).status_code == 200
    listed = anon.get("/plans")
    assert listed.status_code == 200
    ids = {p["id"] for p in listed.json()["data"]}
    assert public["id"] in ids and custom["id"] not in ids and archived["id"] not in ids
    assert any(p["slug"] == "free" for p in listed.json()["data"])  # the built-in default plan
    shown = anon.get(f"/plans/{public['id']}").json()
    assert shown["price_monthly"] == "20.000000000" and shown["credits_per_period"] == "5.000000000"
    assert "stripe_price_monthly" not in shown and "subscribers" not in shown
    assert anon.get(f"/plans/{custom['id']}").status_code == 404  # a custom plan is not for everyone
    assert anon.get(f"/plans/{archived['id']}").status_code == 404
    assert admin.get(f"/plans/{custom['id']}").status_code == 200  # plans.read sees it


def test_a_custom_plan_is_visible_to_its_users(admin: httpx.Client, user: GwUser, make_user: Any) -> None:
    custom = make_plan(admin, visibility="custom")
    other: GwUser = make_user()
    assert user.client.get(f"/plans/{custom['id']}").status_code == 404
    assign(admin, user.id, custom["id"])
    assert user.client.get(f"/plans/{custom['id']}").status_code == 200
    assert other.client.get(f"/plans/{custom['id']}").status_code == 404


def test_plan_fields_are_validated(admin: httpx.Client) -> None:
    bad = [
        {"slug": "Bad Slug", "name": "x"},
        {"slug": "ok-1", "name": ""},
        {"slug": "ok-2", "name": "x", "price_monthly": "9.999"},  # prices are whole cents
        {"slug": "ok-3", "name": "x", "price_monthly": "-1"},
        {"slug": "ok-4", "name": "x", "credits_per_period": "1.0000000001"},
        {"slug": "ok-5", "name": "x", "features": ["teleport"]},
        {"slug": "ok-6", "name": "x", "max_keys": 0},
        {"slug": "ok-7", "name": "x", "rate_limits": {"requests_per_minute": 0}},
        {"slug": "ok-8", "name": "x", "tier": "platinum"},
        {"slug": "ok-9", "name": "x", "visibility": "secret"},
        {"slug": "ok-10", "name": "x", "unknown": 1},
        {"slug": "ok-11", "name": "x", "allowed_models": ["a"] * 501},
        {"slug": "ok-12", "name": "x\u0000"},
    ]
    for body in bad:
        response = admin.post("/admin/plans", json=body)
        assert response.status_code == 400, (body, response.text)
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    plan = make_plan(admin)
    assert admin.post("/admin/plans", json={"slug": plan["slug"], "name": "again"}).status_code == 409
    assert admin.patch(f"/admin/plans/{plan['id']}", json={"name": None}).status_code == 400
    assert admin.patch(f"/admin/plans/{plan['id']}", json={"price_yearly": "0.5"}).json()["price_yearly"] == \
        "0.500000000"
    assert admin.get("/admin/plans/99999999").status_code == 404
    assert admin.get("/admin/plans/abc").status_code in (400, 404, 422)


def test_admin_crud_is_audited_and_counts_subscribers(admin: httpx.Client, user: GwUser) -> None:
    plan = make_plan(admin, max_keys=3, features=["history"], rate_limits={"requests_per_minute": 100})
    assert plan["features"] == ["history"] and plan["rate_limits"] == {"requests_per_minute": 100}
    patched = admin.patch(f"/admin/plans/{plan['id']}", json={"max_keys": None, "description": "roomy"})
    assert patched.status_code == 200 and patched.json()["max_keys"] is None
    assign(admin, user.id, plan["id"], grant_credits=False)
    assert admin.get(f"/admin/plans/{plan['id']}").json()["subscribers"] == 1
    refused = admin.delete(f"/admin/plans/{plan['id']}")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "plan_in_use"
    free = next(p for p in admin.get("/admin/plans").json()["data"] if p["slug"] == "free")
    assert admin.delete(f"/admin/plans/{free['id']}").status_code == 409  # the default plan stays
    assign(admin, user.id, free["id"])  # back to the default: no plan of its own
    assert admin.delete(f"/admin/plans/{plan['id']}").status_code == 200
    assert admin.get(f"/admin/plans/{plan['id']}").status_code == 404
    actions = admin.get("/admin/audit-logs", params={"target_type": "plan", "target_id": str(plan["id"])}).json()
    seen = [r["action"] for r in actions["data"]]
    assert {"plan.create", "plan.update", "plan.delete"} <= set(seen), seen
    update = next(r for r in actions["data"] if r["action"] == "plan.update")
    assert update["before"] == {"max_keys": 3, "description": None}
    assert update["after"] == {"max_keys": None, "description": "roomy"}


def test_assignment_grants_the_first_period_once_and_shows_in_user_plan(
    admin: httpx.Client, user: GwUser, database_url: str
) -> None:
    assert user.client.get("/user/plan").json()["default"] is True
    plan = make_plan(admin, credits_per_period="2.5", credits_expire=True, price_monthly="9.99")
    before = nanos(balance(user.client)["balance"])
    assigned = assign(admin, user.id, plan["id"])
    assert assigned["default"] is False and assigned["subscription"]["source"] == "admin"
    assert nanos(balance(user.client)["balance"]) - before == nanos("2.5")
    mine = user.client.get("/user/plan").json()
    assert mine["plan"]["id"] == plan["id"] and mine["default"] is False
    assert mine["subscription"]["status"] == "active" and mine["subscription"]["current_period_end"]
    rows = run_sql(database_url, "SELECT type, amount FROM credit_transactions WHERE user_id = :p0 AND "
                   "type = 'plan_credits'", user.id)
    assert [(r[0], int(r[1])) for r in rows] == [("plan_credits", nanos("2.5"))]
    expiring = run_sql(database_url, "SELECT COUNT(*) FROM credit_grants WHERE user_id = :p0", user.id)
    assert expiring[0][0] == 1  # the period's credits expire at its end
    again = assign(admin, user.id, plan["id"])  # the same plan in its running period: no second grant
    assert again["plan"]["id"] == plan["id"]
    assert again["subscription"]["current_period_start"] == assigned["subscription"]["current_period_start"]
    assert nanos(balance(user.client)["balance"]) - before == nanos("2.5")
    audit = admin.get("/admin/audit-logs", params={"target_type": "user", "target_id": str(user.id)}).json()
    assert any(r["action"] == "plan.assign" and (r["after"] or {}).get("plan_id") == plan["id"] for r in audit["data"])


def test_assignment_refuses_what_it_cannot_do(admin: httpx.Client, user: GwUser) -> None:
    plan = make_plan(admin)
    assert admin.post("/plans/assign", json={"user_id": 99999999, "plan_id": plan["id"]}).status_code == 404
    assert admin.post("/plans/assign", json={"user_id": user.id, "plan_id": 99999999}).status_code == 404
    assert admin.post("/plans/assign", json={"user_id": user.id, "plan_id": plan["id"],
                                             "interval": "week"}).status_code == 400
    admin.patch(f"/admin/plans/{plan['id']}", json={"active": False})
    archived = admin.post("/plans/assign", json={"user_id": user.id, "plan_id": plan["id"]})
    assert archived.status_code == 409 and archived.json()["error"]["code"] == "plan_archived"
    mine = user.client.post("/plans/assign", json={"user_id": user.id, "plan_id": plan["id"]})
    assert mine.status_code in (401, 403)  # a user cannot put themselves on a plan
    assert user.client.get("/admin/plans").status_code == 403
    assert user.client.post("/admin/plans", json={"slug": "mine", "name": "mine"}).status_code == 403


def test_an_assignment_that_ends_falls_back_to_the_default(admin: httpx.Client, user: GwUser) -> None:
    import time
    from datetime import UTC, datetime, timedelta

    plan = make_plan(admin)
    ends = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
    assign(admin, user.id, plan["id"], ends_at=ends)
    assert user.client.get("/user/plan").json()["plan"]["id"] == plan["id"]
    time.sleep(1.7)
    after = user.client.get("/user/plan").json()
    assert after["default"] is True and after["plan"]["slug"] == "free"


def test_plans_write_alone_cannot_mint_credits(admin: httpx.Client, gateway: Any, user: GwUser) -> None:
    person = staff(admin, gateway.url, [make_role(admin, ["plans.write", "plans.read"])])
    try:
        refused = person.client.post("/admin/plans", json={"slug": "mint", "name": "m", "credits_per_period": "1000"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "plan_credits_need_credits_grant"
        bare = person.client.post("/admin/plans", json={"slug": f"bare-{user.id}", "name": "bare"})
        assert bare.status_code == 201, bare.text
        raised = person.client.patch(f"/admin/plans/{bare.json()['id']}", json={"credits_per_period": "5"})
        assert raised.status_code == 403
        selfish = person.client.post("/plans/assign", json={"user_id": person.id, "plan_id": bare.json()["id"]})
        assert selfish.status_code == 403 and selfish.json()["error"]["code"] == "self_assign"
        rich = make_plan(admin, credits_per_period="1000")  # made by an admin holding credits.grant
        handout = person.client.post("/plans/assign", json={"user_id": user.id, "plan_id": rich["id"]})
        assert handout.status_code == 403 and handout.json()["error"]["code"] == "plan_credits_need_credits_grant"
        fine = person.client.post("/plans/assign", json={"user_id": user.id, "plan_id": bare.json()["id"]})
        assert fine.status_code == 200, fine.text
        assert balance(user.client)["balance"] == "0.000000000"
        assert balance(person.client)["balance"] == "0.000000000"
    finally:
        person.client.close()
