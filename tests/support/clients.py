"""Official SDK clients pointed at the gateway under test."""

from __future__ import annotations

from typing import Any

import httpx
import openai


def inference_key(admin: httpx.Client, **rules: Any) -> str:
    """A fresh key of the admin user, with the given rules (scopes default to all)."""
    response = admin.post("/user/api-keys", json={"name": "inference", **rules})
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def openai_client(base_url: str, key: str, **options: Any) -> openai.OpenAI:
    options.setdefault("max_retries", 0)
    options.setdefault("_strict_response_validation", True)
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, **options)
