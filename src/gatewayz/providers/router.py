"""From a requested model (and routing preferences) to an ordered list of provider routes.

Addressing: `provider/model` names one provider; a bare id (which may itself contain a slash,
like OpenRouter's `openai/gpt-4o`) goes to every provider whose model list has it. The request may
add a `provider` preference (a name, or an OpenRouter-style object with order / only / ignore /
allow_fallbacks / sort) and a `models` fallback list. Equivalent routes are shuffled by weight
(load balancing); providers whose circuit breaker is open go last.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.providers.adapters import OpenAIAdapter, adapter_for
from gatewayz.providers.breaker import Breakers
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.registry import ProviderSpec

MAX_FALLBACK_MODELS = 8


@dataclass(frozen=True, slots=True)
class Route:
    spec: ProviderSpec
    adapter: OpenAIAdapter
    upstream_model: str
    requested_model: str

    @property
    def provider(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True)
class Preference:
    order: tuple[str, ...] = ()
    only: frozenset[str] | None = None
    ignore: frozenset[str] = frozenset()
    allow_fallbacks: bool = True
    sort: str | None = None


def _names(value: Any, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"provider.{field} must be a list of provider names.", param=f"provider.{field}")
    return tuple(value)


def parse_preference(value: Any) -> Preference:
    if value is None:
        return Preference()
    if isinstance(value, str):
        return Preference(order=(value,), only=frozenset({value}), allow_fallbacks=False)
    if not isinstance(value, dict):
        raise InvalidRequest("provider must be a provider name or an object.", param="provider")
    sort = value.get("sort")
    if sort is not None and sort not in ("price", "latency"):
        raise InvalidRequest("provider.sort must be 'price' or 'latency'.", param="provider.sort")
    allow = value.get("allow_fallbacks", True)
    if not isinstance(allow, bool):
        raise InvalidRequest("provider.allow_fallbacks must be a boolean.", param="provider.allow_fallbacks")
    only = _names(value.get("only"), "only")
    return Preference(
        order=_names(value.get("order"), "order"),
        only=frozenset(only) if only else None,
        ignore=frozenset(_names(value.get("ignore"), "ignore")),
        allow_fallbacks=allow,
        sort=sort,
    )


def parse_fallback_models(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidRequest("models must be a list of model ids.", param="models")
    if len(value) > MAX_FALLBACK_MODELS:
        raise InvalidRequest(f"models may list at most {MAX_FALLBACK_MODELS} models.", param="models")
    return list(value)


def _price(spec: ProviderSpec, model: str, catalog: Catalog) -> float:
    """Prompt + completion USD per 1M tokens, from config or the provider's published list."""
    configured = spec.pricing.get(model)
    if configured is not None:
        return configured.prompt + configured.completion
    pricing = catalog.models(spec.name).get(model, {}).get("pricing")
    if isinstance(pricing, dict):
        try:
            prompt, completion = float(pricing.get("prompt", 0)), float(pricing.get("completion", 0))
        except (TypeError, ValueError):
            return float("inf")
        if prompt >= 0 and completion >= 0:  # negative ("-1": priced per request) or NaN: unknown, last
            return (prompt + completion) * 1_000_000
    return float("inf")


class Router:
    def __init__(self, providers: dict[str, ProviderSpec], catalog: Catalog, breakers: Breakers) -> None:
        self.providers = providers
        self.catalog = catalog
        self.breakers = breakers

    def _candidates(self, model: str) -> list[tuple[ProviderSpec, str]]:
        head, sep, rest = model.partition("/")
        candidates: list[tuple[ProviderSpec, str]] = []
        if sep and rest and head in self.providers:
            candidates.append((self.providers[head], rest))
        for name in self.catalog.providers_serving(model):
            if (name, model) not in ((s.name, m) for s, m in candidates):
                candidates.append((self.providers[name], model))
        return candidates

    def _order(self, candidates: list[tuple[ProviderSpec, str]], pref: Preference) -> list[tuple[ProviderSpec, str]]:
        pool = [c for c in candidates if c[0].name not in pref.ignore]
        if pref.only is not None:
            pool = [c for c in pool if c[0].name in pref.only]
        # Weighted shuffle: each route's chance of going first is proportional to its weight.
        pool.sort(key=lambda c: random.random() ** (1.0 / c[0].weight), reverse=True)
        if pref.sort == "price":
            pool.sort(key=lambda c: _price(c[0], c[1], self.catalog))
        elif pref.sort == "latency":
            pool.sort(key=lambda c: self.breakers.latency(c[0].name) or float("inf"))
        if pref.order:
            rank = {name: i for i, name in enumerate(pref.order)}
            ordered = sorted((c for c in pool if c[0].name in rank), key=lambda c: rank[c[0].name])
            rest = [c for c in pool if c[0].name not in rank]
            pool = ordered + (rest if pref.allow_fallbacks else [])
        healthy = [c for c in pool if self.breakers.status(c[0].name) != "open"]
        tripped = [c for c in pool if self.breakers.status(c[0].name) == "open"]
        return healthy + tripped

    async def routes(self, model: str, *, preference: Any = None, fallbacks: Any = None) -> list[Route]:
        pref = parse_preference(preference)
        models = [model, *(m for m in parse_fallback_models(fallbacks) if m != model)]
        await self.catalog.ready()
        routes: list[Route] = []
        for requested in models:
            for spec, upstream_model in self._order(self._candidates(requested), pref):
                routes.append(Route(spec, adapter_for(spec), upstream_model, requested))
        return routes
