"""Plans for the tests: a new plan, and a user put on it."""

from __future__ import annotations

import secrets
from typing import Any

import httpx


def make_plan(admin: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"slug": f"plan-{secrets.token_hex(4)}", "name": "Test plan", "tier": "pro", **fields}
    response = admin.post("/admin/plans", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def assign(admin: httpx.Client, user_id: int, plan_id: int, **extra: Any) -> dict[str, Any]:
    response = admin.post("/plans/assign", json={"user_id": user_id, "plan_id": plan_id, **extra})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]
