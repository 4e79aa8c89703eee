"""Catalog sync against fake providers on loopback: stored on the database, shared by processes,
a provider that is down keeps its last good list, price changes are history, billing uses the prices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gatewayz.settings import Settings
from tests.catalog_fakes import (
    ROUTER_MODELS,
    ROUTER_PRICING,
    catalog_providers,
    down_fake,
    model_list_reads,
    plain_fake,
    router_fake,
    started,
)
from tests.conftest import settings_from_env
from tests.fakeprovider import FakeProvider
from tests.support.clients import openai_client
from tests.support.databases import run_sql
from tests.support.identity import GwUser
from tests.support.servers import ThreadedGateway

HELLO = [{"role": "user", "content": "hello there"}]  # 2 prompt tokens; "Echo: hello there" is 3


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeProvider, FakeProvider, FakeProvider]]:
    with router_fake() as router, plain_fake() as plain, down_fake() as down:
        yield router, plain, down


@pytest.fixture
def catalog_settings(
    base_env: dict[str, str], gateway: ThreadedGateway, fakes: tuple[FakeProvider, FakeProvider, FakeProvider]
) -> Settings:
    """A gateway of the catalog providers on the session database (the session gateway made the schema)."""
    for fake in fakes:
        fake.reset()
    return settings_from_env(base_env, providers=catalog_providers(*fakes, prefix="sync"))


def _wait(check: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def _ids(server: ThreadedGateway, **params: Any) -> list[str]:
    response = httpx.get(f"{server.url}/models", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return [entry["id"] for entry in response.json()["data"]]


def test_sync_stores_every_provider_and_the_failures(
    catalog_settings: Settings, database_url: str, fakes: tuple[FakeProvider, ...]
) -> None:
    with started(catalog_settings) as server:
        ids = _wait(lambda: [i for i in _ids(server) if i.startswith("syncrouter/")])
        assert sorted(ids) == sorted(f"syncrouter/{m}" for m in ROUTER_MODELS)
        stored = run_sql(
            database_url,
            "SELECT model, context_length, max_output_tokens, prompt_price, "
            "completion_price, cached_prompt_price, price_status FROM catalog_models "
            "WHERE provider = :p0 AND model = :p1",
            "syncrouter",
            "openai/gpt-4o",
        )
        # $2.50 / $10 / $1.25 per 1M tokens, as integer nano-dollars per 1M tokens
        assert [tuple(r) for r in stored] == [
            ("openai/gpt-4o", 128000, 16384, 2_500_000_000, 10_000_000_000, 1_250_000_000, "known")
        ]
        down = run_sql(
            database_url, "SELECT synced_at, error, model_count FROM catalog_syncs WHERE provider = :p0", "syncdown"
        )
        assert down and down[0][0] is None and "503" in str(down[0][1]) and down[0][2] == 0
        providers = {row["name"]: row for row in httpx.get(f"{server.url}/models/providers").json()["data"]}
    assert providers["syncrouter"]["model_count"] == len(ROUTER_MODELS) and providers["syncrouter"]["healthy"]
    assert providers["syncrouter"]["last_sync"] and providers["syncrouter"]["breaker"] == "closed"
    assert providers["syncdown"]["last_sync_failed"] and not providers["syncdown"]["healthy"]
    assert "last_error" not in providers["syncdown"]  # error texts are for admins
    assert providers["openrouter"]["configured"] is False and providers["openrouter"]["model_count"] == 0


def test_a_fresh_install_that_cannot_reach_a_provider_serves_the_snapshot(catalog_settings: Settings) -> None:
    with started(catalog_settings) as server:
        ids = _wait(lambda: _ids(server, provider="anthropic"))
        body = httpx.get(f"{server.url}/models/anthropic/claude-haiku-4-5").json()
        providers = {row["name"]: row for row in httpx.get(f"{server.url}/models/providers").json()["data"]}
    assert "anthropic/claude-haiku-4-5" in ids and "anthropic/claude-sonnet-4-5" in ids
    endpoint = body["endpoints"][0]
    assert endpoint["context_length"] == 200000 and endpoint["pricing_per_million"]["prompt"] == "1"
    assert providers["anthropic"]["source"] == "snapshot" and providers["anthropic"]["last_sync_failed"]


def test_a_second_process_reads_the_stored_catalog_instead_of_fetching(
    catalog_settings: Settings, fakes: tuple[FakeProvider, ...]
) -> None:
    router = fakes[0]
    with started(catalog_settings) as first:
        _wait(lambda: [i for i in _ids(first) if i.startswith("syncrouter/")])
    reads = model_list_reads(router)
    with started(catalog_settings) as second:
        ids = _ids(second, provider="syncrouter")
        assert len(ids) == len(ROUTER_MODELS)
        assert model_list_reads(router) == reads  # synced within the TTL by the first: read from the database


def test_a_provider_that_goes_down_keeps_its_last_good_list(
    catalog_settings: Settings, fakes: tuple[FakeProvider, ...]
) -> None:
    router = fakes[0]
    settings = catalog_settings.model_copy(
        update={"catalog_provider_refresh_seconds": {"syncrouter": 0.3}, "catalog_retry_seconds": 0.3}
    )
    with started(settings) as server:
        assert len(_wait(lambda: _ids(server, provider="syncrouter"))) == len(ROUTER_MODELS)
        router.set(status=503)
        reads = model_list_reads(router)
        assert _wait(lambda: model_list_reads(router) >= reads + 2)  # refreshed (and failed) twice since
        assert len(_ids(server, provider="syncrouter")) == len(ROUTER_MODELS)
        rows = {r["name"]: r for r in httpx.get(f"{server.url}/models/providers").json()["data"]}
        assert rows["syncrouter"]["last_sync_failed"] and rows["syncrouter"]["model_count"] == len(ROUTER_MODELS)
        router.set(status=None)
        assert _wait(
            lambda: (
                {r["name"]: r for r in httpx.get(f"{server.url}/models/providers").json()["data"]}["syncrouter"][
                    "last_sync_failed"
                ]
                is False
            )
        )


def _cli_env(catalog_settings: Settings, base_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAYZ_")}
    return {
        **env,
        **base_env,
        "GATEWAYZ_PROVIDERS": json.dumps(catalog_settings.providers),
        "GATEWAYZ_LOG_LEVEL": "error",
        "COLUMNS": "200",
    }


def _sync(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gatewayz", "catalog", "sync", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_sync_command_prints_changes_and_keeps_price_history(
    catalog_settings: Settings,
    fakes: tuple[FakeProvider, ...],
    base_env: dict[str, str],
    database_url: str,
) -> None:
    router = fakes[0]
    env = _cli_env(catalog_settings, base_env)
    first = _sync(env, "--provider", "syncrouter")
    assert first.returncode == 0, first.stderr + first.stdout
    assert "syncrouter" in first.stdout and "models" in first.stdout
    router.set(
        models=[*ROUTER_MODELS[1:], "openai/gpt-5"],
        pricing={**ROUTER_PRICING, "openai/gpt-4o-mini": {"prompt": "0.0000002", "completion": "0.0000008"}},
    )
    second = _sync(env, "-p", "syncrouter")
    assert second.returncode == 0, second.stderr + second.stdout
    out = second.stdout
    assert "1 added" in out and "1 removed" in out and "1 price changes" in out, out
    assert "+ openai/gpt-5" in out and "- openai/gpt-4o" in out
    assert "openai/gpt-4o-mini: $0.15/$0.6 per 1M -> $0.2/$0.8 per 1M" in out
    history = run_sql(
        database_url,
        "SELECT prompt_price FROM catalog_prices WHERE provider = :p0 AND model = :p1 ORDER BY effective_from, id",
        "syncrouter",
        "openai/gpt-4o-mini",
    )
    assert [r[0] for r in history][-2:] == [150_000_000, 200_000_000]
    failed = _sync(env, "--provider", "syncdown")
    assert failed.returncode == 1 and "syncdown: failed" in failed.stdout
    unknown = _sync(env, "--provider", "nope")
    assert unknown.returncode == 1 and "Not a configured provider: nope" in unknown.stdout
    with started(catalog_settings) as server:  # a process started now reads what the command stored
        ids = _ids(server, provider="syncrouter")
        body = httpx.get(f"{server.url}/models/syncrouter/openai/gpt-4o-mini").json()
    assert "syncrouter/openai/gpt-5" in ids and "syncrouter/openai/gpt-4o" not in ids
    prices = [(h["status"], h["pricing_per_million"]["prompt"]) for h in body["price_history"]]
    assert prices[-2:] == [("known", "0.15"), ("known", "0.2")]
    assert body["price_history"][-1]["effective_from"].endswith("Z")


def test_billing_uses_catalog_prices_and_config_overrides_win(catalog_settings: Settings, funded: GwUser) -> None:
    with started(catalog_settings) as server:
        _wait(lambda: [i for i in _ids(server) if i.startswith("syncrouter/")])
        with openai_client(server.url, funded.key) as sdk:
            listed = _wait(
                lambda: sdk.chat.completions.with_raw_response.create(
                    model="syncrouter/anthropic/claude-haiku-4.5", messages=HELLO
                )
            )
            overridden = sdk.chat.completions.with_raw_response.create(
                model="syncrouter/openai/gpt-4o-mini", messages=HELLO
            )
    assert listed.headers["x-gatewayz-cost"] == "0.000017000"  # 2 x $1e-6 + 3 x $5e-6 (the catalog's price)
    assert overridden.headers["x-gatewayz-cost"] == "0.000008000"  # 2 x $1e-6 + 3 x $2e-6 (the config's)
