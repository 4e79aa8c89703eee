"""What an image costs: a price table per model, by size and quality, or per token.

Sources, in order, as for chat: the operator's config (`[providers.X.image_pricing."model"]`),
then the default table shipped in `default_prices.toml` (keys are upstream model ids). A model
with neither has no image price: the request is refused (`400 model_not_priced`) unless the
operator allowed unpriced models.

A table names its offers as "SIZE/QUALITY" (a bare "SIZE" is quality "standard"): USD per image
(`per_image`) and/or the output tokens one image of that size and quality takes (`output_tokens`,
billed at `output` USD per 1M tokens, plus `input` / `input_image` per 1M input tokens). The hold
covers `n` images at the requested size and quality; the charge counts the images returned and,
for a token-priced model, the tokens the provider reports.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from gatewayz.billing.money import round_nanos
from gatewayz.billing.pricing import MAX_USD_PER_MILLION, MAX_USD_PER_UNIT, MILLION, ONE, _usd
from gatewayz.providers.registry import ImagePriceConfig
from gatewayz.providers.router import Route

STANDARD = "standard"
AUTO = "auto"


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """What one request asks for, resolved against the model's table."""

    size: str
    quality: str
    n: int

    @property
    def key(self) -> str:
        return f"{self.size}/{self.quality}"


@dataclass(frozen=True, slots=True)
class ImageUsage:
    """Token counts an image provider reported (gpt-image style), or None when it sent none."""

    text_tokens: int
    image_tokens: int  # input images (edits)
    output_tokens: int


def _key(raw: str) -> str:
    size, _, quality = raw.strip().lower().partition("/")
    return f"{size}/{quality or STANDARD}"


@dataclass(frozen=True, slots=True)
class ImagePrice:
    per_image: Mapping[str, Decimal]  # "SIZE/QUALITY" -> nanos per image
    output_tokens: Mapping[str, int]  # "SIZE/QUALITY" -> output tokens per image
    input: Decimal  # nanos per input text token
    input_image: Decimal  # nanos per input image token
    output: Decimal  # nanos per output image token
    default_size: str | None
    default_quality: str | None
    parameters: frozenset[str] | None
    max_n: int
    source: str

    @classmethod
    def from_config(cls, row: ImagePriceConfig, *, source: str) -> ImagePrice:
        return cls(
            per_image={_key(k): _usd(v, ONE, MAX_USD_PER_UNIT) for k, v in row.per_image.items()},
            output_tokens={_key(k): int(v) for k, v in row.output_tokens.items()},
            input=_usd(row.input, MILLION, MAX_USD_PER_MILLION),
            input_image=_usd(row.input_image, MILLION, MAX_USD_PER_MILLION),
            output=_usd(row.output, MILLION, MAX_USD_PER_MILLION),
            default_size=row.default_size,
            default_quality=row.default_quality,
            parameters=frozenset(row.parameters) if row.parameters is not None else None,
            max_n=row.max_n,
            source=source,
        )

    @property
    def offers(self) -> set[str]:
        return set(self.per_image) | set(self.output_tokens)

    @property
    def sizes(self) -> list[str]:
        return sorted({k.partition("/")[0] for k in self.offers})

    def qualities(self, size: str) -> list[str]:
        return sorted({k.partition("/")[2] for k in self.offers if k.partition("/")[0] == size})

    def offered(self, size: str, quality: str) -> bool:
        return f"{size}/{quality}" in self.offers

    def default_size_for(self) -> str:
        sizes = self.sizes
        if self.default_size in sizes:
            return self.default_size  # type: ignore[return-value]
        return "1024x1024" if "1024x1024" in sizes else sizes[0]

    def default_quality_for(self, size: str) -> str:
        qualities = self.qualities(size)
        if self.default_quality in qualities:
            return self.default_quality  # type: ignore[return-value]
        for usual in (STANDARD, AUTO):
            if usual in qualities:
                return usual
        return max(qualities, key=lambda q: self.one_image(ImageSpec(size, q, 1)))

    def one_image(self, spec: ImageSpec) -> Decimal:
        """Nanos of one image's own part (its per-image price and its output tokens)."""
        key = spec.key
        return self.per_image.get(key, Decimal(0)) + self.output * self.output_tokens.get(key, 0)

    def hold(self, spec: ImageSpec, prompt_tokens: int, image_tokens: int = 0) -> int:
        """The most the request can cost: n images plus its input."""
        return round_nanos(self.one_image(spec) * spec.n + self.input * prompt_tokens
                           + self.input_image * image_tokens)

    def charge(self, spec: ImageSpec, returned: int, usage: ImageUsage | None, prompt_estimate: int,
               image_estimate: int = 0) -> int:
        """The images actually returned, at the table's price; a token-priced model's reported
        tokens (its estimate when the provider reported none)."""
        returned = max(0, min(returned, spec.n))
        if not returned:
            return 0
        per_image = self.per_image.get(spec.key, Decimal(0)) * returned
        if usage is None:
            tokens = self.input * prompt_estimate + self.input_image * image_estimate + self.output * (
                self.output_tokens.get(spec.key, 0) * returned)
        else:
            tokens = (self.input * usage.text_tokens + self.input_image * usage.image_tokens
                      + self.output * usage.output_tokens)
        return round_nanos(per_image + tokens)

    @property
    def is_free(self) -> bool:
        return not (any(self.per_image.values()) or self.input or self.input_image or self.output)


@cache
def default_image_prices() -> dict[str, ImagePrice]:
    text = resources.files("gatewayz.images").joinpath("default_prices.toml").read_text()
    return {
        model: ImagePrice.from_config(ImagePriceConfig.model_validate(row), source="default")
        for model, row in tomllib.loads(text).items()
    }


_configured: dict[int, tuple[Any, ImagePrice]] = {}


def image_price_for(route: Route) -> ImagePrice | None:
    """The route's image price table: the operator's, else the default table's, else None."""
    configured = route.spec.image_pricing.get(route.upstream_model)
    if configured is not None:
        hit = _configured.get(id(configured))
        if hit is not None and hit[0] is configured:
            return hit[1]
        price = ImagePrice.from_config(configured, source="config")
        _configured[id(configured)] = (configured, price)
        return price
    defaults = default_image_prices()
    return defaults.get(route.upstream_model) or defaults.get(route.upstream_model.rsplit("/", 1)[-1])


SANDBOX_PRICE = ImagePrice.from_config(
    ImagePriceConfig(
        per_image={f"{size}/{quality}": 0 for size in ("256x256", "512x512", "1024x1024", "1024x1536", "1536x1024",
                                                        "1024x1792", "1792x1024")
                   for quality in (STANDARD, "hd", "low", "medium", "high", AUTO)},
        parameters=["style", "output_format", "background", "output_compression", "moderation"],
    ),
    source="sandbox",
)
