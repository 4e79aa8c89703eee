"""Live provider health across processes: what one gateway process relays, every process sees
(`GET /health/providers`), and routing uses it (`provider.sort`, unhealthy endpoints last)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakeprovider import FakeProvider
from tests.support.identity import UPSTREAM_KEY_A, UPSTREAM_KEY_B
from tests.support.money import funded_user
from tests.support.servers import GatewayProcess, gateway_processes

MODEL, QUICK, SLUGGISH = "", "", ""  # set anew for each test by the fixture
HEADERS: dict[str, str] = {}  # a funded user's key (set by the fixture)


def _provider(name: str, upstream: FakeProvider, key: str) -> str:
    return (f'[providers.{name}]\nprotocol = "openai"\nbase_url = "{upstream.openai_base_url}"\n'
            f'api_key = "{key}"\nmodels = ["{MODEL}"]\nmax_retries = 0\n'
            f'[providers.{name}.pricing."{MODEL}"]\nprompt = 0\ncompletion = 1\n')


@pytest.fixture
def two(base_env: dict[str, str], upstream_a: FakeProvider, upstream_b: FakeProvider, fake_a: FakeProvider,
        fake_b: FakeProvider, tmp_root: Path) -> Iterator[list[GatewayProcess]]:
    global MODEL, QUICK, SLUGGISH
    tag = secrets.token_hex(3)  # each test its own names: the database (catalog, health rows) outlives the processes
    MODEL, QUICK, SLUGGISH = f"shared-model-{tag}", f"quick{tag}", f"sluggish{tag}"
    config = tmp_root / "health.toml"
    config.write_text(_provider(QUICK, upstream_a, UPSTREAM_KEY_A) + _provider(SLUGGISH, upstream_b, UPSTREAM_KEY_B))
    env = {**base_env, "GATEWAYZ_CONFIG": str(config), "GATEWAYZ_PROVIDER_HEALTH_SYNC_SECONDS": "0.2",
           "GATEWAYZ_BREAKER_THRESHOLD": "1000"}
    with gateway_processes(env, 2, log_dir=tmp_root) as processes:
        _, key = funded_user(processes[0].url, "10")
        HEADERS["Authorization"] = f"Bearer {key}"
        yield processes


def _chat(url: str, **extra: Any) -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, **extra}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=HEADERS, timeout=30)


def _endpoints(url: str) -> dict[str, dict[str, Any]]:
    response = httpx.get(f"{url}/health/providers", headers=HEADERS, timeout=10)
    assert response.status_code == 200, response.text
    return {e["provider"]: e for e in response.json()["data"] if e["model"] == MODEL}


def _wait(url: str, ready: Any, timeout: float = 10.0) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        endpoints = _endpoints(url)
        if ready(endpoints) or time.monotonic() > deadline:
            return endpoints
        time.sleep(0.1)


def test_what_one_process_relays_every_process_sees_and_routes_by(
    two: list[GatewayProcess], fake_a: FakeProvider, fake_b: FakeProvider
) -> None:
    fake_b.set(latency_ms=150)
    first, second = (p.url for p in two)
    for provider in (QUICK, SLUGGISH):
        for _ in range(6):
            assert _chat(first, provider={"only": [provider]}).status_code == 200

    def both_counted(endpoints: dict[str, dict[str, Any]]) -> bool:
        return all(endpoints.get(p, {}).get("windows", {}).get("5m", {}).get("attempts") == 6
                   for p in (QUICK, SLUGGISH))

    seen = _wait(second, both_counted)  # the other process: through the database
    assert both_counted(seen), seen
    quick, sluggish = seen[QUICK]["windows"]["5m"], seen[SLUGGISH]["windows"]["5m"]
    assert quick["uptime"] == 1 and quick["error_rate"] == 0
    assert sluggish["ttft_p50_ms"] >= 150 > quick["ttft_p50_ms"]
    assert quick["throughput_p50"] is not None and seen[QUICK]["unhealthy"] is False
    answered = {_chat(second, provider={"sort": "latency"}).headers["x-gatewayz-provider"] for _ in range(5)}
    assert answered == {QUICK}


def test_an_endpoint_failing_often_goes_last_before_its_breaker_opens(
    two: list[GatewayProcess], fake_a: FakeProvider, fake_b: FakeProvider
) -> None:
    first, second = (p.url for p in two)
    fake_a.set(status=500)
    for _ in range(6):  # each fails over from quick to sluggish
        response = _chat(first, provider={"order": [QUICK, SLUGGISH]})
        assert response.status_code == 200 and response.headers["x-gatewayz-provider"] == SLUGGISH
    seen = _wait(second, lambda e: e.get(QUICK, {}).get("unhealthy") is True)
    assert seen[QUICK]["unhealthy"] is True and seen[QUICK]["breaker"] == "closed"
    assert seen[QUICK]["windows"]["5m"]["error_rate"] == 1
    fake_a.reset()
    calls_before = len(fake_a.requests)
    answered = {_chat(second, provider={"sort": "latency"}).headers["x-gatewayz-provider"] for _ in range(3)}
    assert answered == {SLUGGISH} and len(fake_a.requests) == calls_before  # quick is tried last now


def test_health_needs_a_key_and_a_bad_sort_is_refused(two: list[GatewayProcess]) -> None:
    assert httpx.get(f"{two[0].url}/health/providers").status_code == 401
    refused = _chat(two[0].url, provider={"sort": "fastest"})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "provider.sort"
    too_dear = _chat(two[0].url, provider={"max_price": {"completion": -1}})
    assert too_dear.status_code == 400 and too_dear.json()["error"]["param"] == "provider.max_price.completion"
    assert _chat(two[0].url, provider={"max_price": {"completion": 0.5}}).status_code in (400, 404, 503)
    assert _chat(two[0].url, provider={"max_price": {"completion": 1}}).status_code == 200
