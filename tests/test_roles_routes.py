"""Every admin route checks a specific permission.

The routes come from the running app's routing table: everything under /admin, and any route
tagged Admin elsewhere. Each must declare its permission (`require_permission`); a route that does
not fails `test_every_admin_route_declares_a_permission`, so a new admin route cannot land without
one. Then, over real HTTP, a caller whose key has the `admin` scope and whose roles hold every
permission EXCEPT the route's is refused (403, the API's error shape), and one holding just the
route's permission gets past the check.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from gatewayz.accounts.dependencies import require_permission, require_scope
from gatewayz.accounts.permissions import ALL
from tests.support.identity import GwUser
from tests.support.roles import make_role, refused, staff


def admin_routes(app: FastAPI) -> list[APIRoute]:
    """Every route as the app serves it (included routers' prefixes, tags and dependencies applied)."""
    routes = [context.route for context in iter_route_contexts(app.routes)]
    return [r for r in routes if isinstance(r, APIRoute)
            and (r.path.startswith("/admin") or "Admin" in (r.tags or []))]


def declared_permissions(route: APIRoute) -> tuple[str, ...] | None:
    """The permissions the route's dependencies require (any one of them), or None."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        found = getattr(dependant.call, "gw_permissions", None)
        if found:
            return tuple(found)
        pending.extend(dependant.dependencies)
    return None


def test_the_detector_finds_a_route_without_a_permission() -> None:
    """The check below cannot pass vacuously: an admin route guarded by the scope alone is caught."""
    app = FastAPI()
    router = APIRouter(prefix="/admin")

    @router.get("/undeclared")
    async def undeclared(_: Any = Depends(require_scope("admin"))) -> None: ...

    @router.get("/declared")
    async def declared(_: Any = Depends(require_permission("users.read"))) -> None: ...

    app.include_router(router)
    found = {r.path: declared_permissions(r) for r in admin_routes(app)}
    assert found == {"/admin/undeclared": None, "/admin/declared": ("users.read",)}
    with pytest.raises(ValueError):
        require_permission("no.such.permission")


def test_every_admin_route_declares_a_permission(gateway: Any) -> None:
    routes = admin_routes(gateway.app)
    assert len(routes) >= 15, [r.path for r in routes]  # the routing table was read, not an empty list
    undeclared = sorted(f"{sorted(r.methods)} {r.path}" for r in routes if declared_permissions(r) is None)
    assert undeclared == [], f"admin routes without a permission: {undeclared}"
    for route in routes:
        assert set(declared_permissions(route) or ()) <= ALL


@pytest.fixture(scope="module")
def probe(admin: httpx.Client, gateway: Any) -> Iterator[tuple[str, GwUser, int]]:
    """One role, re-defined per route, held by one user whose key can administer; and a plain
    user (the target of the routes that take a user id)."""
    role = make_role(admin, sorted(ALL - {"roles.write"}))
    person = staff(admin, gateway.url, [role])
    target = admin.post("/admin/users", json={"email": f"target-{role}@example.com"}).json()["user"]["id"]
    yield role, person, target
    person.client.close()


def _call(client: httpx.Client, route: APIRoute, target: int) -> httpx.Response:
    path = re.sub(r"\{user_id\}", str(target), route.path)
    path = re.sub(r"\{[a-z_]+(:path)?\}", "no-such-thing", path)
    method = sorted(route.methods)[0]
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return client.request(method, path, json=body)


def _define(admin: httpx.Client, role: str, permissions: set[str]) -> None:
    response = admin.patch(f"/admin/roles/{role}", json={"permissions": sorted(permissions)})
    assert response.status_code == 200, response.text


def test_every_admin_route_refuses_a_caller_without_its_permission(
    gateway: Any, admin: httpx.Client, probe: tuple[str, GwUser, int]
) -> None:
    role, person, target = probe
    by_permissions: dict[tuple[str, ...], list[APIRoute]] = {}
    for route in admin_routes(gateway.app):
        by_permissions.setdefault(declared_permissions(route) or (), []).append(route)
    checked = 0
    for needed, routes in sorted(by_permissions.items()):
        _define(admin, role, set(ALL) - set(needed))
        for route in routes:
            response = _call(person.client, route, target)
            assert refused(response), (route.path, route.methods, needed, response.status_code, response.text)
            checked += 1
        _define(admin, role, {needed[0]})
        for route in routes:
            response = _call(person.client, route, target)
            assert not refused(response), (route.path, route.methods, needed, response.text)
    assert checked == len(admin_routes(gateway.app))


def test_a_refusal_is_a_security_event(gateway: Any, admin: httpx.Client, probe: tuple[str, GwUser, int]) -> None:
    role, person, _ = probe
    _define(admin, role, {"users.read"})
    assert refused(person.client.get("/admin/security-events"))
    _define(admin, role, {"audit.read"})
    events = person.client.get("/admin/security-events", params={"reason": "missing_permission"})
    assert events.status_code == 200
    assert any(e["user_id"] == person.id and e["path"] == "/admin/security-events" for e in events.json()["data"])


def test_the_admin_scope_is_still_required(admin: httpx.Client, probe: tuple[str, GwUser, int],
                                           gateway: Any) -> None:
    """Roles do not replace key scopes: a key without `admin` is refused, whatever its owner holds."""
    role, person, _ = probe
    _define(admin, role, set(ALL) - {"roles.write"})
    created = person.client.post("/user/api-keys", json={"name": "no admin", "scopes": ["inference", "keys"]})
    assert created.status_code == 201, created.text
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {created.json()['key']}"}) as weak:
        assert refused(weak.get("/admin/users"), "insufficient_scope")
    assert person.client.get("/admin/users").status_code == 200


def test_details_in_public_answers_need_health_read(admin: httpx.Client, probe: tuple[str, GwUser, int]) -> None:
    role, person, _ = probe
    _define(admin, role, {"health.read"})
    detailed = person.client.get("/health/ready").json()["checks"]
    _define(admin, role, set(ALL) - {"health.read", "roles.write"})
    public = person.client.get("/health/ready").json()["checks"]
    assert detailed != public and admin.get("/health/ready").json()["checks"].keys() == detailed.keys()
