"""`/admin/roles`: built-in and custom roles, inheritance without cycles, and every change audited
in the same transaction as the change itself."""

from __future__ import annotations

from typing import Any

import httpx

from gatewayz.accounts.permissions import ALL
from tests.support.databases import run_sql
from tests.support.roles import make_role, role_name, staff


def _error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    if code is not None:
        assert error["code"] == code, error
    return error


def _audits(database_url: str, target_type: str, target_id: str | int) -> list[tuple[Any, ...]]:
    return run_sql(
        database_url,
        "SELECT action, actor_user_id, actor_key_id, before, after, request_id FROM audit_records"
        " WHERE target_type = :p0 AND target_id = :p1 ORDER BY id",
        target_type, str(target_id),
    )


def test_the_built_in_roles(admin: httpx.Client) -> None:
    listed = admin.get("/admin/roles")
    assert listed.status_code == 200
    roles = {r["name"]: r for r in listed.json()["data"]}
    assert [r["name"] for r in listed.json()["data"][:3]] == ["admin", "support", "user"]
    assert roles["admin"]["builtin"] and set(roles["admin"]["effective_permissions"]) == ALL
    assert roles["user"]["effective_permissions"] == []
    support = set(roles["support"]["effective_permissions"])
    assert "credits.grant_small" in support and "users.read" in support and "audit.read" in support
    assert not support & {"users.write", "credits.grant", "roles.write", "roles.assign", "limits.write"}
    catalog = admin.get("/admin/permissions").json()["data"]
    assert {p["name"] for p in catalog} == ALL and all(p["description"] for p in catalog)


def test_a_custom_role_and_its_inherited_permissions(admin: httpx.Client) -> None:
    base = make_role(admin, ["users.read"])
    child = make_role(admin, ["audit.read"], inherits=[base])
    grandchild = make_role(admin, [], inherits=[child, "support"])
    got = admin.get(f"/admin/roles/{grandchild}").json()
    assert got["permissions"] == [] and got["inherits"] == [child, "support"] and not got["builtin"]
    assert {"users.read", "audit.read", "credits.grant_small"} <= set(got["effective_permissions"])
    changed = admin.patch(f"/admin/roles/{base}", json={"permissions": ["users.read", "limits.write"]})
    assert changed.status_code == 200
    assert "limits.write" in admin.get(f"/admin/roles/{grandchild}").json()["effective_permissions"]
    _error(admin.get(f"/admin/roles/{role_name()}"), 404, "not_found")


def test_cycles_are_refused(admin: httpx.Client, database_url: str) -> None:
    a = make_role(admin, ["users.read"])
    b = make_role(admin, [], inherits=[a])
    c = make_role(admin, [], inherits=[b])
    error = _error(admin.patch(f"/admin/roles/{a}", json={"inherits": [c]}), 400, "role_cycle")
    assert error["param"] == "inherits" and a in error["message"] and c in error["message"]
    assert admin.get(f"/admin/roles/{a}").json()["inherits"] == []  # nothing changed
    assert [row[0] for row in _audits(database_url, "role", a)] == ["role.create"]  # and nothing audited
    selfish = role_name()
    _error(admin.post("/admin/roles", json={"name": selfish, "inherits": [selfish]}), 400, "role_cycle")
    _error(admin.patch(f"/admin/roles/{a}", json={"inherits": [a]}), 400, "role_cycle")


def test_bad_definitions_are_refused(admin: httpx.Client) -> None:
    _error(admin.post("/admin/roles", json={"name": role_name(), "permissions": ["users.read", "root"]}), 400,
           "unknown_permission")
    _error(admin.post("/admin/roles", json={"name": role_name(), "inherits": [role_name()]}), 400, "unknown_role")
    for name in ("Admin", "a", "has space", "x" * 65, "-dash", "é-role"):
        _error(admin.post("/admin/roles", json={"name": name}), 400)
    _error(admin.post("/admin/roles", json={"name": role_name(), "permissions": ["users.read"] * 100}), 400)
    _error(admin.post("/admin/roles", json={"name": role_name(), "extra": 1}), 400)
    taken = make_role(admin, [])
    _error(admin.post("/admin/roles", json={"name": taken}), 409, "conflict")
    for builtin in ("admin", "support", "user"):
        _error(admin.post("/admin/roles", json={"name": builtin}), 409, "conflict")
    _error(admin.patch(f"/admin/roles/{role_name()}", json={"description": "x"}), 404)
    _error(admin.delete(f"/admin/roles/{'x' * 65}"), 400)


def test_built_in_roles_cannot_be_deleted_or_emptied(admin: httpx.Client) -> None:
    for builtin in ("admin", "support", "user"):
        _error(admin.delete(f"/admin/roles/{builtin}"), 400, "builtin_role")
    _error(admin.patch("/admin/roles/admin", json={"permissions": ["users.read"]}), 400, "builtin_role")
    _error(admin.patch("/admin/roles/user", json={"permissions": ["users.read"]}), 400, "builtin_role")
    _error(admin.patch("/admin/roles/support", json={"permissions": []}), 400, "builtin_role")
    empty = make_role(admin, [])
    _error(admin.patch("/admin/roles/support", json={"permissions": [], "inherits": [empty]}), 400, "builtin_role")
    before = admin.get("/admin/roles/support").json()
    try:
        changed = admin.patch("/admin/roles/support", json={"permissions": ["users.read"], "description": "narrow"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["effective_permissions"] == ["users.read"] and changed.json()["builtin"]
        assert admin.get("/admin/roles/support").json()["description"] == "narrow"
    finally:
        restored = admin.patch("/admin/roles/support", json={"permissions": before["permissions"],
                                                             "description": before["description"]})
        assert restored.status_code == 200
    assert admin.get("/admin/roles/support").json() == before
    admin_role = admin.patch("/admin/roles/admin", json={"description": "the operators"})
    assert admin_role.status_code == 200 and set(admin_role.json()["effective_permissions"]) == ALL
    assert admin.get("/admin/roles/admin").json()["description"] == "the operators"


def test_deleting_a_role(admin: httpx.Client, gateway: Any, database_url: str) -> None:
    parent = make_role(admin, ["users.read"])
    child = make_role(admin, [], inherits=[parent])
    holder = staff(admin, gateway.url, [parent])
    try:
        assert holder.client.get("/admin/users").status_code == 200
        error = _error(admin.delete(f"/admin/roles/{parent}"), 409, "conflict")
        assert child in error["message"]
        assert admin.delete(f"/admin/roles/{child}").json() == {"name": child, "deleted": True}
        assert admin.delete(f"/admin/roles/{parent}").status_code == 200
        _error(admin.get(f"/admin/roles/{parent}"), 404)
        assert admin.get(f"/admin/users/{holder.id}/roles").json()["roles"] == ["user"]
        _error(holder.client.get("/admin/users"), 403, "missing_permission")
        # a new role of the same name grants nothing to the former holder
        make_role(admin, ["users.read"], name=parent)
        _error(holder.client.get("/admin/users"), 403, "missing_permission")
    finally:
        holder.client.close()
    actions = [row[0] for row in _audits(database_url, "role", parent)]
    assert actions == ["role.create", "role.delete", "role.create"]
    deleted = _audits(database_url, "role", parent)[1]
    assert deleted[4] is None and '"holders": 1' in str(deleted[3]).replace("'", '"')


def test_every_change_is_audited_with_actor_and_before_after(admin: httpx.Client, gateway: Any,
                                                             database_url: str) -> None:
    me = admin.get("/admin/users", params={"email": "admin@example.com"}).json()["data"][0]["id"]
    name = make_role(admin, ["users.read"])
    admin.patch(f"/admin/roles/{name}", json={"permissions": ["audit.read"]})
    person = staff(admin, gateway.url, [name])
    person.client.close()
    admin.put(f"/admin/users/{person.id}/roles", json={"roles": []})
    rows = _audits(database_url, "role", name)
    assert [r[0] for r in rows] == ["role.create", "role.update"]
    assert all(r[1] == me and r[2] is not None and r[5] for r in rows)  # actor user and key, request id
    created, updated = (_json(r[4]) for r in rows)
    assert created["permissions"] == ["users.read"] and _json(rows[1][3])["permissions"] == ["users.read"]
    assert updated["permissions"] == ["audit.read"]
    user_rows = [r for r in _audits(database_url, "user", person.id) if r[0] != "user.create"]
    assert [(r[0], _json(r[3]), _json(r[4])) for r in user_rows] == [
        ("user.roles.set", {"roles": []}, {"roles": [name]}),
        ("user.roles.set", {"roles": [name]}, {"roles": []}),
    ]
    # a refused change leaves no record
    _error(admin.post("/admin/roles", json={"name": name}), 409)
    _error(admin.put(f"/admin/users/{person.id}/roles", json={"roles": [role_name()]}), 400, "unknown_role")
    assert len(_audits(database_url, "role", name)) == 2 and len(_audits(database_url, "user", person.id)) == 3


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value
