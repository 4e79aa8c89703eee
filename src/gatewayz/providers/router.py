"""From a requested model (and routing preferences) to an ordered list of provider routes.

Addressing: `provider/model` names one provider; a bare id (which may itself contain a slash,
like OpenRouter's `openai/gpt-4o`) goes to every provider whose model list has it. The request may
add a `provider` preference (a name, or an OpenRouter-style object with order / only / ignore /
allow_fallbacks / sort / max_price / require_parameters) and a `models` fallback list. Equivalent routes are shuffled
by weight (load balancing); `sort` orders them by price, latency (live time to first token) or
throughput (live output tokens/s); endpoints with a high recent error rate go after the others,
and providers whose circuit breaker is open go last.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from gatewayz.errors import InvalidRequest, NotFound
from gatewayz.providers.adapters import OpenAIAdapter, adapter_for
from gatewayz.providers.breaker import Breakers
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.health import LiveHealth
from gatewayz.providers.parameters import missing_parameters
from gatewayz.providers.registry import ProviderSpec

MAX_FALLBACK_MODELS = 8
SORTS = ("price", "latency", "throughput")
MAX_PRICE_BOUND = 1_000_000.0  # USD per 1M tokens: a bound, not a price anyone charges


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
    max_prompt: float | None = None  # USD per 1M tokens (OpenRouter's provider.max_price)
    max_completion: float | None = None
    require_parameters: bool = False  # only endpoints that list every parameter of the request



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
    if sort is not None and sort not in SORTS:
        raise InvalidRequest("provider.sort must be 'price', 'latency' or 'throughput'.", param="provider.sort")
    max_prompt, max_completion = _max_price(value.get("max_price"))
    allow, require = value.get("allow_fallbacks", True), value.get("require_parameters", False)
    for name, flag in (("allow_fallbacks", allow), ("require_parameters", require)):
        if not isinstance(flag, bool):
            raise InvalidRequest(f"provider.{name} must be a boolean.", param=f"provider.{name}")
    only = _names(value.get("only"), "only")
    return Preference(
        order=_names(value.get("order"), "order"),
        only=frozenset(only) if only else None,
        ignore=frozenset(_names(value.get("ignore"), "ignore")),
        allow_fallbacks=allow,
        sort=sort,
        max_prompt=max_prompt,
        max_completion=max_completion,
        require_parameters=require,
    )


def _max_price(value: Any) -> tuple[float | None, float | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict) or not set(value) <= {"prompt", "completion", "request", "image"}:
        raise InvalidRequest("provider.max_price must be an object with prompt and/or completion (USD per 1M "
                             "tokens).", param="provider.max_price")
    bounds: list[float | None] = []
    for name in ("prompt", "completion"):
        bound = value.get(name)
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float)
                                  or not 0 <= bound <= MAX_PRICE_BOUND or math.isnan(bound)):
            raise InvalidRequest(f"provider.max_price.{name} must be a number from 0 to {MAX_PRICE_BOUND:.0f}.",
                                 param=f"provider.max_price.{name}")
        bounds.append(None if bound is None else float(bound))
    return bounds[0], bounds[1]


def parse_fallback_models(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidRequest("models must be a list of model ids.", param="models")
    if len(value) > MAX_FALLBACK_MODELS:
        raise InvalidRequest(f"models may list at most {MAX_FALLBACK_MODELS} models.", param="models")
    return list(value)


def _prices(spec: ProviderSpec, model: str, catalog: Catalog) -> tuple[float, float] | None:
    """(prompt, completion) USD per 1M tokens, from config or the provider's published list."""
    configured = spec.pricing.get(model)
    if configured is not None:
        return configured.prompt, configured.completion
    pricing = catalog.models(spec.name).get(model, {}).get("pricing")
    if isinstance(pricing, dict):
        try:
            prompt, completion = float(pricing.get("prompt", 0)), float(pricing.get("completion", 0))
        except (TypeError, ValueError):
            return None
        if prompt >= 0 and completion >= 0:  # negative ("-1": priced per request) or NaN: unknown
            return prompt * 1_000_000, completion * 1_000_000
    return None


def _price(spec: ProviderSpec, model: str, catalog: Catalog) -> float:
    prices = _prices(spec, model, catalog)
    return float("inf") if prices is None else prices[0] + prices[1]


def _within(prices: tuple[float, float] | None, pref: Preference) -> bool:
    """Under the request's max_price (an unknown price is not)."""
    if pref.max_prompt is None and pref.max_completion is None:
        return True
    if prices is None:
        return False
    return (pref.max_prompt is None or prices[0] <= pref.max_prompt) and (
        pref.max_completion is None or prices[1] <= pref.max_completion)


class Router:
    def __init__(self, providers: dict[str, ProviderSpec], catalog: Catalog, breakers: Breakers,
                 health: LiveHealth | None = None) -> None:
        self.providers = providers
        self.catalog = catalog
        self.breakers = breakers
        self.health = health or LiveHealth()

    def _candidates(self, model: str) -> list[tuple[ProviderSpec, str]]:
        head, sep, rest = model.partition("/")
        candidates: list[tuple[ProviderSpec, str]] = []
        if sep and rest and head in self.providers:
            candidates.append((self.providers[head], rest))
        for name in self.catalog.providers_serving(model):
            if (name, model) not in ((s.name, m) for s, m in candidates):
                candidates.append((self.providers[name], model))
        return candidates

    def _supported(self, spec: ProviderSpec, model: str) -> Any:
        return self.catalog.models(spec.name).get(model, {}).get("supported_parameters")

    def _admissible(self, candidates: list[tuple[ProviderSpec, str]], pref: Preference, wanted: frozenset[str],
                    refusals: list[str]) -> list[tuple[ProviderSpec, str]]:
        """The candidates the preference allows; why each other one is not, in `refusals`."""
        pool = []
        for spec, model in candidates:
            if spec.name in pref.ignore or (pref.only is not None and spec.name not in pref.only):
                refusals.append(f"{spec.name} is excluded by provider.only/ignore")
            elif not _within(_prices(spec, model, self.catalog), pref):
                refusals.append(f"{spec.name}'s price for {model} is over provider.max_price (or unknown)")
            elif pref.require_parameters and (missing := missing_parameters(self._supported(spec, model), wanted)):
                refusals.append(f"{spec.name} does not list {', '.join(sorted(missing))} for {model}")
            else:
                pool.append((spec, model))
        return pool

    def _order(self, pool: list[tuple[ProviderSpec, str]], pref: Preference) -> list[tuple[ProviderSpec, str]]:
        # Weighted shuffle: each route's chance of going first is proportional to its weight.
        pool.sort(key=lambda c: random.random() ** (1.0 / c[0].weight), reverse=True)
        health = self.health
        if pref.sort == "price":
            pool.sort(key=lambda c: _price(c[0], c[1], self.catalog))
        elif pref.sort == "latency":
            pool.sort(key=lambda c: self._latency(c[0].name, c[1]))
        elif pref.sort == "throughput":
            pool.sort(key=lambda c: -(health.tokens_per_second(c[0].name, c[1]) or 0.0))
        if pref.order:
            rank = {name: i for i, name in enumerate(pref.order)}
            ordered = sorted((c for c in pool if c[0].name in rank), key=lambda c: rank[c[0].name])
            rest = [c for c in pool if c[0].name not in rank]
            pool = ordered + (rest if pref.allow_fallbacks else [])
        tripped = [c for c in pool if self.breakers.status(c[0].name) == "open"]
        working = [c for c in pool if self.breakers.status(c[0].name) != "open"]
        if pref.order:  # the caller's explicit order wins over live health (an open breaker still goes last)
            return working + tripped
        ailing = [c for c in working if health.unhealthy(c[0].name, c[1])]  # failing often: before it trips
        return [c for c in working if c not in ailing] + ailing + tripped

    def _latency(self, provider: str, model: str) -> float:
        """Live time to first token (seconds), else the provider's answer time, else unknown (last)."""
        ttft = self.health.ttft_ms(provider, model)
        if ttft is not None:
            return ttft / 1000
        return self.breakers.latency(provider) or float("inf")

    async def routes(self, model: str, *, preference: Any = None, fallbacks: Any = None,
                     parameters: frozenset[str] = frozenset()) -> list[Route]:
        """The routes to try in order; empty when no provider serves the model. When some do but the
        preference (only/ignore, max_price, require_parameters) leaves none, a 404 says why."""
        pref = parse_preference(preference)
        models = [model, *(m for m in parse_fallback_models(fallbacks) if m != model)]
        await self.catalog.ready()
        routes: list[Route] = []
        refusals: list[str] = []
        for requested in models:
            pool = self._admissible(self._candidates(requested), pref, parameters, refusals)
            for spec, upstream_model in self._order(pool, pref):
                routes.append(Route(spec, adapter_for(spec), upstream_model, requested))
        if not routes and refusals:
            raise NotFound(
                f"No provider of '{model}' meets the request's provider preferences: " + "; ".join(refusals[:8]) + ".",
                param="provider", code="no_matching_provider",
            )
        return routes
