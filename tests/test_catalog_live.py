"""The catalog with what the gateway measured: live figures on `/models` entries, on each endpoint of
`/models/{id}` and on `/models/providers`; the live sorts (latency, throughput, popularity); cursor
paging; and routing's `provider.require_parameters` / `max_price` refusals naming what is missing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.catalog_fakes import catalog_providers, down_fake, plain_fake, router_fake
from tests.conftest import settings_from_env
from tests.support.money import funded_user
from tests.support.servers import ThreadedGateway

MINI, HAIKU = "openai/gpt-4o-mini", "anthropic/claude-haiku-4.5"
HELLO = [{"role": "user", "content": "hello there"}]
HEADERS: dict[str, str] = {}


@pytest.fixture(scope="module")
def server(base_env: dict[str, str], gateway: ThreadedGateway) -> Iterator[ThreadedGateway]:
    with router_fake() as router, plain_fake() as plain, down_fake() as down:
        providers = catalog_providers(router, plain, down, prefix="live")
        providers["liverouter"]["pricing"] = {m: {"prompt": 1.0, "completion": 2.0} for m in (MINI, HAIKU)}
        started = ThreadedGateway(settings_from_env(base_env, providers=providers)).start()
        _, key = funded_user(started.url, "5")
        HEADERS["Authorization"] = f"Bearer {key}"
        for _ in range(3):  # relayed before any /models read: popularity is read once a minute
            assert _chat(started, HAIKU).status_code == 200
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the first sync of the router's list is in
            listed = httpx.get(f"{started.url}/v1/models", headers=HEADERS).json()["data"]
            if any(e["id"] == f"liverouter/{MINI}" for e in listed):
                break
            time.sleep(0.05)
        yield started
        started.stop()


def _chat(server: ThreadedGateway, model: str, **extra: Any) -> httpx.Response:
    body = {"model": f"liverouter/{model}", "messages": HELLO, "max_tokens": 5, **extra}
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=HEADERS, timeout=30)


def _page(server: ThreadedGateway, **params: Any) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/models", params={"provider": "liverouter", **params})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_require_parameters_routes_only_to_endpoints_listing_them(server: ThreadedGateway) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
    strict = {"require_parameters": True}
    assert _chat(server, MINI, tools=tools, provider=strict).status_code == 200
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    assert _chat(server, MINI, response_format=schema, provider=strict).status_code == 200
    refused = _chat(server, MINI, reasoning_effort="low", temperature=0.2, provider=strict)
    assert refused.status_code == 404, refused.text
    error = refused.json()["error"]
    assert error["code"] == "no_matching_provider" and error["param"] == "provider"
    assert "reasoning, temperature" in error["message"] and "liverouter" in error["message"]
    # the same request without the requirement is relayed (the provider ignores what it lacks)
    assert _chat(server, MINI, reasoning_effort="low", temperature=0.2).status_code == 200
    bad = _chat(server, MINI, provider={"require_parameters": "yes"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "provider.require_parameters"


def test_max_price_refusal_says_why(server: ThreadedGateway) -> None:
    refused = _chat(server, MINI, provider={"max_price": {"completion": 1.5}})
    assert refused.status_code == 404, refused.text
    assert refused.json()["error"]["code"] == "no_matching_provider"
    assert "max_price" in refused.json()["error"]["message"]
    assert _chat(server, MINI, provider={"max_price": {"completion": 2}}).status_code == 200


def test_live_figures_and_sorts(server: ThreadedGateway) -> None:
    by_latency = _page(server, sort="latency")["data"]
    measured = [e["id"] for e in by_latency if e["live"]["ttft_p50_ms"] is not None]
    assert f"liverouter/{HAIKU}" in measured and by_latency[0]["id"] in measured  # measured first, unknown last
    assert all(e["live"]["ttft_p50_ms"] is None for e in by_latency[len(measured):])
    haiku = next(e for e in by_latency if e["id"] == f"liverouter/{HAIKU}")
    assert haiku["live"]["uptime_24h"] == 1.0 and haiku["live"]["throughput_p50"] > 0
    assert _page(server, sort="throughput")["data"][0]["live"]["throughput_p50"] is not None
    popular = _page(server, sort="popularity")["data"]
    assert popular[0]["live"]["tokens_week"] > 0 and popular[0]["id"] in measured
    assert popular[-1]["live"]["tokens_week"] == 0

    def haiku_endpoint() -> dict[str, Any]:
        one = httpx.get(f"{server.url}/models/liverouter/{HAIKU}").json()
        return next(e for e in one["endpoints"] if e["id"] == f"liverouter/{HAIKU}")  # type: ignore[no-any-return]

    deadline = time.monotonic() + 5  # figures are kept a couple of seconds
    while (endpoint := haiku_endpoint())["live"]["windows"]["5m"]["attempts"] < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert endpoint["live"]["windows"]["5m"]["attempts"] == 3 and endpoint["live"]["unhealthy"] is False
    assert endpoint["live"]["windows"]["24h"]["uptime"] == 1.0

    rows = {r["name"]: r for r in httpx.get(f"{server.url}/models/providers").json()["data"]}
    assert rows["liverouter"]["live"]["windows"]["1h"]["attempts"] >= 3
    assert rows["liverouter"]["live"]["tokens_week"] > 0
    assert rows["livedown"]["live"]["windows"]["5m"]["attempts"] == 0


def test_cursor_paging_walks_every_entry_once(server: ThreadedGateway) -> None:
    everything = [e["id"] for e in _page(server, limit=500)["data"]]
    seen: list[str] = []
    page = _page(server, limit=2)
    while True:
        seen += [e["id"] for e in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        page = _page(server, limit=2, cursor=page["next_cursor"])
    assert seen == everything and len(seen) > 2
    for bad in ({"cursor": "not-a-cursor"}, {"cursor": "eyJvIjotMX0"}, {"cursor": page_cursor(), "offset": 1}):
        refused = httpx.get(f"{server.url}/models", params=bad)
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "cursor", refused.text
    refused = httpx.get(f"{server.url}/models", params={"sort": "fastest"})
    assert refused.status_code == 400


def page_cursor() -> str:
    from gatewayz.catalog.queries import encode_cursor

    return encode_cursor(1)
