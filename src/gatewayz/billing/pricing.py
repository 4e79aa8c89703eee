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

MILLION = Decimal(1_000_000)
NANOS = Decimal(1_000_000_000)
CHARS_PER_TOKEN = 3  # deliberately low: the hold must not be smaller than the real prompt


@dataclass(frozen=True, slots=True)
class Price:
    """Nano-dollars per token (Decimal: fractions of a nano are kept until the final rounding)."""

    prompt: Decimal
    completion: Decimal
    cached_prompt: Decimal
    request: Decimal  # nanos per request
    image: Decimal  # nanos per image
    source: str

    @classmethod
    def per_million(
        cls, prompt: Any, completion: Any, *, cached: Any = None, request: Any = 0, image: Any = 0, source: str
    ) -> Price:
        """From USD per 1M tokens (and USD per request / per image)."""
        p = Decimal(str(prompt)) * NANOS / MILLION
        return cls(
            prompt=p,
            completion=Decimal(str(completion)) * NANOS / MILLION,
            cached_prompt=p if cached is None else Decimal(str(cached)) * NANOS / MILLION,
            request=Decimal(str(request)) * NANOS,
            image=Decimal(str(image)) * NANOS,
            source=source,
        )

    @classmethod
    def per_token(cls, entry: dict[str, Any], *, source: str) -> Price:
        """From OpenRouter-style published pricing: USD per token as strings."""
        prompt = Decimal(str(entry.get("prompt", "0"))) * NANOS
        cached = entry.get("input_cache_read")
        return cls(
            prompt=prompt,
            completion=Decimal(str(entry.get("completion", "0"))) * NANOS,
            cached_prompt=prompt if cached in (None, "") else Decimal(str(cached)) * NANOS,
            request=Decimal(str(entry.get("request", "0") or "0")) * NANOS,
            image=Decimal(str(entry.get("image", "0") or "0")) * NANOS,
            source=source,
        )

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0, images: int = 0) -> int:
        cached = min(max(cached_tokens, 0), max(prompt_tokens, 0))
        total = (
            self.prompt * (max(prompt_tokens, 0) - cached)
            + self.cached_prompt * cached
            + self.completion * max(completion_tokens, 0)
            + self.request
            + self.image * images
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


def price_for(route: Route, catalog: Catalog) -> Price | None:
    configured = route.spec.pricing.get(route.upstream_model)
    if configured is not None:
        return Price.per_million(
            configured.prompt,
            configured.completion,
            cached=configured.cached_prompt,
            request=configured.request,
            image=configured.image,
            source="config",
        )
    published = catalog.models(route.provider).get(route.upstream_model, {}).get("pricing")
    if isinstance(published, dict):
        try:
            return Price.per_token(published, source="provider")
        except (InvalidOperation, TypeError, ValueError):
            pass
    defaults = default_prices()
    return defaults.get(route.upstream_model) or defaults.get(_bare(route.upstream_model))


def usage_tokens(usage: dict[str, Any] | None) -> tuple[int, int, int]:
    """(prompt, completion, cached prompt) tokens from an OpenAI usage object."""
    if not isinstance(usage, dict):
        return 0, 0, 0
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    details = usage.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") or 0 if isinstance(details, dict) else 0
    return int(prompt), int(completion), int(cached)


def estimate_prompt_tokens(body: dict[str, Any], size_of: Any) -> int:
    """A generous estimate of the prompt from the request's own text (messages, tools, input)."""
    total = 0
    for name in ("messages", "tools", "input", "prompt"):
        value = body.get(name)
        if value is not None:
            total += size_of(value)
    return total // CHARS_PER_TOKEN + 16


def max_completion_tokens(body: dict[str, Any], default_cap: int) -> int:
    """The most the answer may be: max_tokens (or the default cap) for each of the n choices."""
    n = body.get("n")
    choices = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value * choices
    return default_cap * choices
