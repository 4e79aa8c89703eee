"""Coupons for the tests: each with a fresh code, made through the admin API."""

from __future__ import annotations

import secrets
from typing import Any

import httpx


def new_code(prefix: str = "T") -> str:
    return f"{prefix}{secrets.token_hex(6).upper()}"


def make_coupon(admin: httpx.Client, kind: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": new_code(), "kind": kind, **fields}
    created = admin.post("/admin/coupons", json=body)
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]
