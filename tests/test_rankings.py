"""`GET /ranking/models` and `/ranking/providers`: this gateway's usage ranked by tokens, requests
or spend over a period, with the change against the period before."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.databases import backend, run_sql
from tests.support.identity import GwUser

COLUMNS = ("request_id", "user_id", "key_id", "endpoint", "provider", "model", "prompt_tokens",
           "completion_tokens", "cached_tokens", "cost", "uncollected", "estimated", "stream", "status",
           "created_at")


def _record(database_url: str, user: GwUser, provider: str, model: str, tokens: int, cost: int, age: timedelta) -> None:
    moment = datetime.now(UTC) - age
    stamp: Any = moment.replace(tzinfo=None) if backend() == "sqlite" else moment  # as each backend stores it
    values = (f"req_rank_{secrets.token_hex(6)}", user.id, user.key_id, "chat", provider, model, tokens // 2,
              tokens - tokens // 2, 0, cost, 0, False, False, 200, stamp)
    run_sql(database_url, f"INSERT INTO usage_records ({', '.join(COLUMNS)}) VALUES "
                          f"({', '.join(f':p{i}' for i in range(len(COLUMNS)))})", *values)


def test_models_and_providers_ranked_with_the_change_against_the_period_before(
    gateway: Any, user: GwUser, database_url: str
) -> None:
    tag = secrets.token_hex(3)
    big, small, provider = f"rank-big-{tag}", f"rank-small-{tag}", f"rankprov-{tag}"
    for _ in range(3):
        _record(database_url, user, provider, big, 10**9, 5_000_000_000, timedelta(hours=1))
    _record(database_url, user, provider, small, 10**9 // 2, 20_000_000_000, timedelta(hours=2))
    _record(database_url, user, provider, big, 10**9, 1_000_000_000, timedelta(hours=30))  # yesterday
    _record(database_url, user, provider, big, 10**9, 1, timedelta(days=3))  # outside both day periods
    headers = {"Authorization": f"Bearer {user.key}"}

    by_tokens = httpx.get(f"{gateway.url}/ranking/models", params={"period": "day", "limit": 100}, headers=headers)
    assert by_tokens.status_code == 200, by_tokens.text
    rows = {r["model"]: r for r in by_tokens.json()["data"]}
    assert rows[big]["rank"] < rows[small]["rank"]
    assert (rows[big]["requests"], rows[big]["tokens"], rows[big]["spend"]) == (3, 3 * 10**9, "15.000000000")
    assert rows[big]["previous"] == {"requests": 1, "tokens": 10**9, "spend": "1.000000000"}
    assert rows[big]["change"]["tokens"] == 2.0 and rows[small]["change"]["tokens"] is None

    by_spend = httpx.get(f"{gateway.url}/ranking/models", params={"sort": "spend", "limit": 100},
                         headers=headers).json()["data"]
    spend_rank = {r["model"]: r["rank"] for r in by_spend}
    assert spend_rank[small] < spend_rank[big]  # $20 in one request against $15 in three
    weekly = httpx.get(f"{gateway.url}/ranking/models", params={"period": "week", "limit": 100},
                       headers=headers).json()["data"]
    assert {r["model"]: r["requests"] for r in weekly}[big] == 5

    providers = httpx.get(f"{gateway.url}/ranking/providers", params={"period": "day", "limit": 100},
                          headers=headers).json()["data"]
    mine = next(r for r in providers if r["provider"] == provider)
    assert mine["requests"] == 4 and mine["tokens"] == 3 * 10**9 + 10**9 // 2


def test_bad_parameters_are_refused_in_the_api_shape(gateway: Any, user: GwUser) -> None:
    headers = {"Authorization": f"Bearer {user.key}"}
    for params in ({"period": "year"}, {"sort": "latency"}, {"limit": 0}, {"limit": 101}, {"limit": "x"}):
        response = httpx.get(f"{gateway.url}/ranking/models", params=params, headers=headers)
        assert response.status_code == 400, (params, response.text)
        assert "error" in response.json()
    assert httpx.get(f"{gateway.url}/ranking/models").status_code == 401
