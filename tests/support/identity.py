"""Values shared by the fixtures and the tests (one module, so one copy of each)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx

ADMIN_KEY = "gw_live_" + secrets.token_urlsafe(32)
UPSTREAM_KEY_A = "sk-upstream-a-" + secrets.token_hex(8)
UPSTREAM_KEY_B = "sk-upstream-b-" + secrets.token_hex(8)


@dataclass
class GwUser:
    id: int
    email: str
    key: str
    key_id: int
    client: httpx.Client
