"""Prices per model per provider, and what a request costs.

Sources, in order: the operator's config (`[providers.X.pricing."model"]`), the price the
provider publishes in its model list (OpenRouter does: USD per token as strings), then the default
table shipped in `default_prices.toml`. No known price means no price: the caller refuses the
model unless the operator allowed unpriced models.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any

from gatewayz.billing.money import round_nanos
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.router import Route

ONE = Decimal(1)
MILLION = Decimal(1_000_000)
NANOS = Decimal(1_000_000_000)
# Prices above these are not believed (a provider's list is input like any other): the model is
# then unpriced, i.e. refused unless the operator prices it.
MAX_USD_PER_MILLION = Decimal(10_000)
MAX_USD_PER_UNIT = Decimal(100)  # per request, per image


class BadPrice(ValueError):
    """A published price that is negative, not a number, or absurd: the price is unknown."""


def _usd(value: Any, per: Decimal, ceiling: Decimal) -> Decimal:
    """`value` USD per `per` units, as nanos per unit. Refuses negatives (OpenRouter's "-1" means
    "decided per request"), NaN/infinity, non-numbers and values above `ceiling` (USD per `per`)."""
    if isinstance(value, bool) or value is None:
        raise BadPrice(f"{value!r} is not a price")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise BadPrice(f"{value!r} is not a price") from exc
    if not amount.is_finite() or amount < 0 or amount > ceiling:
        raise BadPrice(f"{value!r} is not a usable price")
    return amount * NANOS / per


@dataclass(frozen=True, slots=True)
class Price:
    """Nano-dollars per token (Decimal: fractions of a nano are kept until the final rounding)."""

    prompt: Decimal
    completion: Decimal
    cached_prompt: Decimal
    request: Decimal  # nanos per request
    image: Decimal  # nanos per input image
    source: str

    @classmethod
    def per_million(
        cls, prompt: Any, completion: Any, *, cached: Any = None, request: Any = 0, image: Any = 0, source: str
    ) -> Price:
        """From USD per 1M tokens (and USD per request / per image)."""
        p = _usd(prompt, MILLION, MAX_USD_PER_MILLION)
        return cls(
            prompt=p,
            completion=_usd(completion, MILLION, MAX_USD_PER_MILLION),
            cached_prompt=p if cached is None else _usd(cached, MILLION, MAX_USD_PER_MILLION),
            request=_usd(request, ONE, MAX_USD_PER_UNIT),
            image=_usd(image, ONE, MAX_USD_PER_UNIT),
            source=source,
        )

    @classmethod
    def per_token(cls, entry: dict[str, Any], *, source: str) -> Price:
        """From OpenRouter-style published pricing: USD per token (and per request/image) as strings."""
        per_token_ceiling = MAX_USD_PER_MILLION / MILLION
        prompt = _usd(entry.get("prompt", "0"), ONE, per_token_ceiling)
        cached = entry.get("input_cache_read")
        return cls(
            prompt=prompt,
            completion=_usd(entry.get("completion", "0"), ONE, per_token_ceiling),
            cached_prompt=prompt if cached in (None, "") else _usd(cached, ONE, per_token_ceiling),
            request=_usd(entry.get("request") or "0", ONE, MAX_USD_PER_UNIT),
            image=_usd(entry.get("image") or "0", ONE, MAX_USD_PER_UNIT),
            source=source,
        )

    @property
    def is_free(self) -> bool:
        return not (self.prompt or self.completion or self.cached_prompt or self.request or self.image)

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0, images: int = 0) -> int:
        cached = min(max(cached_tokens, 0), max(prompt_tokens, 0))
        total = (
            self.prompt * (max(prompt_tokens, 0) - cached)
            + self.cached_prompt * cached
            + self.completion * max(completion_tokens, 0)
            + self.request
            + self.image * max(images, 0)
        )
        return round_nanos(total)


@cache
def default_prices() -> dict[str, Price]:
    text = resources.files("gatewayz.billing").joinpath("default_prices.toml").read_text()
    table = tomllib.loads(text)
    return {
        model: Price.per_million(row["prompt"], row["completion"], cached=row.get("cached_prompt"), source="default")
        for model, row in table.items()
    }


def _bare(model: str) -> str:
    return model.rsplit("/", 1)[-1]


# (provider, model) -> (the published entry it was built from, kept alive so identity is sound, price)
_published_cache: dict[tuple[str, str], tuple[Any, Price | None]] = {}


def price_for(route: Route, catalog: Catalog) -> Price | None:
    """The route's price: the operator's config, else the provider's published price (an unusable
    published price makes the model unpriced: it is not replaced by a default), else the default
    table. Built once per (provider, model) and published list, not per request."""
    configured = route.spec.pricing.get(route.upstream_model)
    if configured is not None:
        return _configured_price(configured)
    published = catalog.models(route.provider).get(route.upstream_model, {}).get("pricing")
    if published is not None:
        key = (route.provider, route.upstream_model)
        hit = _published_cache.get(key)
        if hit is not None and hit[0] is published:
            return hit[1]
        price: Price | None = None
        if isinstance(published, dict):
            try:
                price = Price.per_token(published, source="provider")
            except BadPrice:
                price = None
        if len(_published_cache) > 100_000:
            _published_cache.clear()
        _published_cache[key] = (published, price)
        return price
    defaults = default_prices()
    return defaults.get(route.upstream_model) or defaults.get(_bare(route.upstream_model))


_configured_cache: dict[int, tuple[Any, Price]] = {}


def _configured_price(configured: Any) -> Price:
    hit = _configured_cache.get(id(configured))
    if hit is not None and hit[0] is configured:
        return hit[1]
    price = Price.per_million(
        configured.prompt,
        configured.completion,
        cached=configured.cached_prompt,
        request=configured.request,
        image=configured.image,
        source="config",
    )
    _configured_cache[id(configured)] = (configured, price)
    return price


def max_completion_tokens(body: dict[str, Any], default_cap: int) -> int:
    """The most the answer may be: max_tokens (or the default cap) for each of the n choices."""
    n = body.get("n")
    choices = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value * choices
    return default_cap * choices
