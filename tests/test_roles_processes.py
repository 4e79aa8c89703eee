"""Role and permission changes reach every gateway process within a second, by the mechanism key
revocation uses (the auth change counter; Redis pub/sub on the postgres pass), while a permission
check itself reads nothing from the database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from tests.support.identity import ADMIN_KEY
from tests.support.roles import role_name
from tests.support.servers import GatewayProcess, gateway_processes

PROPAGATION_LIMIT = 1.0
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(scope="module")
def two_gateways(base_env: dict[str, str], gateway: Any, tmp_root: Path) -> Iterator[list[GatewayProcess]]:
    env = {**base_env, "GATEWAYZ_AUTH_POLL_INTERVAL_SECONDS": "0.25", "GATEWAYZ_KEY_CACHE_TTL_SECONDS": "300"}
    with gateway_processes(env, 2, log_dir=tmp_root) as processes:
        yield processes


def _admin(url: str, method: str, path: str, body: Any = None) -> httpx.Response:
    response = httpx.request(method, f"{url}{path}", json=body, headers=ADMIN)
    assert response.status_code in (200, 201), response.text
    return response


def _status(url: str, key: str) -> int:
    return httpx.get(f"{url}/admin/users", params={"limit": 1}, headers={"Authorization": f"Bearer {key}"}).status_code


def _wait_for(url: str, key: str, status: int) -> float:
    started = time.monotonic()
    while time.monotonic() - started < PROPAGATION_LIMIT + 2:
        if _status(url, key) == status:
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"{url} still did not answer {status} after {PROPAGATION_LIMIT + 2}s")


def _staff(url: str, roles: list[str]) -> tuple[int, str]:
    created = _admin(url, "POST", "/admin/users", {"email": f"mp-{time.monotonic_ns()}@example.com", "roles": roles})
    return created.json()["user"]["id"], created.json()["api_key"]["key"]


def test_a_role_definition_change_reaches_every_process(two_gateways: list[GatewayProcess]) -> None:
    a, b = two_gateways
    role = role_name("mp")
    _admin(a.url, "POST", "/admin/roles", {"name": role, "permissions": ["users.read"]})
    _, key = _staff(a.url, [role])
    assert _status(a.url, key) == 200
    assert _wait_for(b.url, key, 200) < PROPAGATION_LIMIT  # the new role reached b; both have the key cached
    _admin(a.url, "PATCH", f"/admin/roles/{role}", {"permissions": ["audit.read"]})
    assert _status(a.url, key) == 403
    assert _wait_for(b.url, key, 403) < PROPAGATION_LIMIT
    _admin(b.url, "PATCH", f"/admin/roles/{role}", {"permissions": ["users.read"]})
    assert _status(b.url, key) == 200
    assert _wait_for(a.url, key, 200) < PROPAGATION_LIMIT


def test_an_inherited_change_reaches_every_process(two_gateways: list[GatewayProcess]) -> None:
    a, b = two_gateways
    parent, child = role_name("mp"), role_name("mp")
    _admin(a.url, "POST", "/admin/roles", {"name": parent, "permissions": []})
    _admin(a.url, "POST", "/admin/roles", {"name": child, "inherits": [parent]})
    _, key = _staff(b.url, [child])
    assert _status(b.url, key) == 403
    time.sleep(PROPAGATION_LIMIT)  # the new roles reached a too
    assert _status(a.url, key) == 403
    _admin(b.url, "PATCH", f"/admin/roles/{parent}", {"permissions": ["users.read"]})
    assert _wait_for(a.url, key, 200) < PROPAGATION_LIMIT


def test_an_assignment_change_reaches_every_process(two_gateways: list[GatewayProcess]) -> None:
    a, b = two_gateways
    user_id, key = _staff(a.url, ["support"])
    assert _status(a.url, key) == 200 and _status(b.url, key) == 200
    _admin(b.url, "PUT", f"/admin/users/{user_id}/roles", {"roles": []})
    assert _wait_for(a.url, key, 403) < PROPAGATION_LIMIT
    _admin(a.url, "PUT", f"/admin/users/{user_id}/roles", {"roles": ["support"]})
    assert _wait_for(b.url, key, 200) < PROPAGATION_LIMIT


def test_a_deleted_role_stops_everywhere(two_gateways: list[GatewayProcess]) -> None:
    a, b = two_gateways
    role = role_name("mp")
    _admin(b.url, "POST", "/admin/roles", {"name": role, "permissions": ["users.read"]})
    _, key = _staff(b.url, [role])
    assert _status(b.url, key) == 200 and _wait_for(a.url, key, 200) < PROPAGATION_LIMIT
    _admin(b.url, "DELETE", f"/admin/roles/{role}")
    assert _wait_for(a.url, key, 403) < PROPAGATION_LIMIT


def test_a_permission_check_reads_no_roles_from_the_database(gateway: Any, admin: httpx.Client) -> None:
    """After the first request (the key's lookup), checks are in memory: no statement touches the
    role tables, however many admin requests come."""
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = gateway.services.db.engine.sync_engine
    assert admin.get("/admin/permissions").status_code == 200
    event.listen(engine, "before_cursor_execute", seen)
    try:
        for _ in range(50):
            assert admin.get("/admin/permissions").status_code == 200
        assert [s for s in statements if "roles" in s] == []
        gateway.services.key_cache.clear()  # the listener does see them: a key lookup reads the user's roles
        assert admin.get("/admin/permissions").status_code == 200
        assert [s for s in statements if "user_roles" in s]
    finally:
        event.remove(engine, "before_cursor_execute", seen)
