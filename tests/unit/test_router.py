"""Routing order: preferences, price/latency sorting, weights, circuit breakers."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from gatewayz.errors import InvalidRequest
from gatewayz.providers.breaker import Breakers
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.registry import load_providers
from gatewayz.providers.router import Router
from gatewayz.providers.upstream import UpstreamClients
from gatewayz.settings import Settings


def _router(tmp_path: Path, **weights: float) -> Router:
    rows = {
        name: {
            "protocol": "openai",
            "base_url": f"http://127.0.0.1:1/{name}",
            "api_key": "k",
            "models": ["m", "x"],
            "weight": weights.get(name, 1.0),
            "pricing": {"m": {"prompt": price, "completion": price}},
        }
        for name, price in (("cheap", 1.0), ("mid", 2.0), ("dear", 3.0))
    }
    providers = load_providers(Settings(data_dir=tmp_path, environment="dev", providers=rows), environ={})

    async def build() -> Router:
        catalog = Catalog(providers, UpstreamClients())
        await catalog.load_all()
        return Router(providers, catalog, Breakers(threshold=2, cooldown=60))

    return asyncio.run(build())


def _order(router: Router, model: str = "m", **kwargs: object) -> list[str]:
    return [r.provider for r in asyncio.run(router.routes(model, **kwargs))]  # type: ignore[arg-type]


def test_provider_prefix_and_bare_ids(tmp_path: Path) -> None:
    router = _router(tmp_path)
    assert _order(router, "mid/m") == ["mid"]
    assert sorted(_order(router)) == ["cheap", "dear", "mid"]
    assert _order(router, "unknown") == []


def test_preferences(tmp_path: Path) -> None:
    router = _router(tmp_path)
    assert _order(router, preference="dear") == ["dear"]
    assert _order(router, preference={"order": ["dear", "cheap"]})[:2] == ["dear", "cheap"]
    assert _order(router, preference={"order": ["dear"], "allow_fallbacks": False}) == ["dear"]
    assert sorted(_order(router, preference={"ignore": ["mid"]})) == ["cheap", "dear"]
    assert sorted(_order(router, preference={"only": ["mid", "cheap"]})) == ["cheap", "mid"]
    assert _order(router, preference={"sort": "price"}) == ["cheap", "mid", "dear"]
    with pytest.raises(InvalidRequest):
        _order(router, preference={"sort": "vibes"})
    with pytest.raises(InvalidRequest):
        _order(router, preference={"order": "dear"})


def test_fallback_models_come_after_the_first_models_routes(tmp_path: Path) -> None:
    routes = asyncio.run(_router(tmp_path).routes("cheap/m", fallbacks=["dear/x"]))
    assert [(r.provider, r.upstream_model) for r in routes] == [("cheap", "m"), ("dear", "x")]


def test_latency_sort_uses_measured_latency(tmp_path: Path) -> None:
    router = _router(tmp_path)
    for name, seconds in (("cheap", 0.3), ("mid", 0.1), ("dear", 0.2)):
        router.breakers.success(name, seconds)
    assert _order(router, preference={"sort": "latency"}) == ["mid", "dear", "cheap"]


def test_weights_shape_the_first_choice(tmp_path: Path) -> None:
    router = _router(tmp_path, cheap=8.0, mid=1.0, dear=1.0)
    firsts = Counter(_order(router)[0] for _ in range(600))
    assert firsts["cheap"] > 3 * firsts["mid"]
    assert firsts["mid"] > 0 and firsts["dear"] > 0


def test_open_breaker_moves_a_provider_last_until_it_recovers(tmp_path: Path) -> None:
    router = _router(tmp_path)
    router.breakers.failure("cheap")
    assert router.breakers.status("cheap") == "closed"
    router.breakers.failure("cheap")
    assert router.breakers.status("cheap") == "open"
    for _ in range(20):
        assert _order(router)[-1] == "cheap"
    router.breakers.cooldown = 0
    assert router.breakers.status("cheap") == "half-open"
    assert router.breakers.available("cheap") is True  # the probe
    assert router.breakers.available("cheap") is False  # only one probe at a time
    router.breakers.success("cheap")
    assert router.breakers.status("cheap") == "closed"


def test_an_ailing_endpoint_goes_last_unless_the_caller_ordered_it(tmp_path: Path) -> None:
    router = _router(tmp_path)
    for _ in range(6):
        router.health.attempt("cheap", "m", ok=False)
    assert [_order(router, preference={"sort": "price"}) for _ in range(5)] == [["mid", "dear", "cheap"]] * 5
    assert _order(router, preference={"order": ["cheap", "mid"]})[:2] == ["cheap", "mid"]


def test_preferences_that_leave_no_provider_say_why(tmp_path: Path) -> None:
    from gatewayz.errors import NotFound

    router = _router(tmp_path)
    with pytest.raises(NotFound) as refused:
        _order(router, preference={"max_price": {"prompt": 0.5}})
    assert refused.value.code == "no_matching_provider" and "max_price" in str(refused.value)
    with pytest.raises(NotFound) as refused:  # config-only models publish no parameter list: nothing is proven
        _order(router, preference={"require_parameters": True}, parameters=frozenset({"tools"}))
    assert "does not list tools" in str(refused.value)
    assert len(_order(router, preference={"require_parameters": True})) == 3  # nothing asked, nothing missing
    assert _order(router, "unknown", preference={"max_price": {"prompt": 0.5}}) == []  # no provider: not a refusal
