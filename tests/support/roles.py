"""Roles for the tests: custom roles, and users holding them with a key that has the admin scope."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.support.identity import GwUser


def role_name(prefix: str = "role") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def make_role(admin: httpx.Client, permissions: list[str], *, inherits: list[str] | None = None,
              name: str | None = None) -> str:
    name = name or role_name()
    response = admin.post("/admin/roles", json={"name": name, "permissions": permissions, "inherits": inherits or []})
    assert response.status_code == 201, response.text
    return name


def staff(admin: httpx.Client, base_url: str, roles: list[str]) -> GwUser:
    """A new user holding `roles`, with a first key that has every scope (admin included)."""
    email = f"staff-{secrets.token_hex(5)}@example.com"
    response = admin.post("/admin/users", json={"email": email, "roles": roles})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert "admin" in body["api_key"]["scopes"]
    client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {body['api_key']['key']}"})
    return GwUser(body["user"]["id"], email, body["api_key"]["key"], body["api_key"]["id"], client)


def refused(response: httpx.Response, code: str = "missing_permission") -> bool:
    """A 403 in the API's error shape, with `code`."""
    if response.status_code != 403:
        return False
    error = response.json().get("error", {})
    return set(error) == {"message", "type", "param", "code"} and error["type"] == "permission_error" \
        and error["code"] == code
