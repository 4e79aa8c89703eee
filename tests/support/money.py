"""Money checks shared by the billing tests: every ledger sums to its balance, nothing negative."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.support.databases import run_sql


def assert_ledgers_balance(database_url: str) -> None:
    balances = {
        int(u): (int(b), int(h))
        for u, b, h in run_sql(database_url, "SELECT user_id, balance, held FROM credit_accounts")
    }
    sums = {
        int(u): int(s)
        for u, s in run_sql(database_url, "SELECT user_id, SUM(amount) FROM credit_transactions GROUP BY user_id")
    }
    for user_id, (balance, held) in balances.items():
        assert balance == sums.get(user_id, 0), f"user {user_id}: ledger {sums.get(user_id, 0)} != balance {balance}"
        assert balance >= 0 and held >= 0, f"user {user_id}: balance {balance}, held {held}"
    for user_id in sums:
        assert user_id in balances, f"user {user_id} has ledger rows but no account"
    chained = run_sql(
        database_url, "SELECT COUNT(*) FROM credit_transactions WHERE balance_after != balance_before + amount"
    )
    assert chained[0][0] == 0


def nanos(amount: str) -> int:
    whole, _, frac = amount.lstrip("-").partition(".")
    value = int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])
    return -value if amount.startswith("-") else value


def grant(admin: httpx.Client, user_id: int, amount: str, **extra: Any) -> dict[str, Any]:
    response = admin.post("/admin/credits", json={"user_id": user_id, "amount": amount, "reason": "test", **extra})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def balance(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/user/balance")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def priced_config(path: Path, openai_base_url: str, api_key: str) -> Path:
    """A config file with provider `fakepriced`: model `priced-model` at $0 per prompt token and
    $1,000 per 1M completion tokens ($0.001 a token), on the given fake upstream."""
    path.write_text(
        '[providers.fakepriced]\nprotocol = "openai"\n'
        f'base_url = "{openai_base_url}"\napi_key = "{api_key}"\n'
        'models = ["priced-model"]\n[providers.fakepriced.pricing."priced-model"]\nprompt = 0\ncompletion = 1000\n'
    )
    return path


def funded_user(url: str, usd: str) -> tuple[int, str]:
    """A new user with `usd` of credit on the gateway at `url`: (user id, API key)."""
    import secrets

    from tests.support.identity import ADMIN_KEY

    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    email = f"funded-{secrets.token_hex(5)}@example.com"
    created = httpx.post(f"{url}/admin/users", json={"email": email}, headers=headers)
    assert created.status_code == 201, created.text
    user = created.json()
    with httpx.Client(base_url=url, headers=headers) as admin:
        grant(admin, user["user"]["id"], usd)
    return user["user"]["id"], user["api_key"]["key"]
