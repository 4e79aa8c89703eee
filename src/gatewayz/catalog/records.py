"""One normalised record per (provider, model), built from whatever a provider's model list says.

OpenRouter's list is the richest (name, description, context length, max output, modalities,
supported parameters, USD-per-token prices as strings); OpenAI-style lists have little beyond ids.
Prices are integer nano-dollars: per 1M tokens for token prices, per unit for request and image
prices, so `0.00000015` USD per token is exactly 150_000_000 nanos per 1M tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from gatewayz.catalog.canonical import canonical_id

JSON = dict[str, Any]
NANOS = Decimal(1_000_000_000)
MILLION = Decimal(1_000_000)
MAX_LENGTH = 100_000_000  # a context window or output cap above this is not believed
# Prices above these are not believed (the same ceilings as billing/pricing.py): the price is invalid.
MAX_NANOS_PER_MILLION = 10_000 * 1_000_000_000
MAX_NANOS_PER_UNIT = 100 * 1_000_000_000
PRICE_FIELDS = ("prompt", "completion", "cached_prompt", "request", "image")
# Price status: "known" (all fields usable), "none" (the provider publishes no price), "invalid"
# (it publishes one that is negative, not a number or absurd: the model is unpriced, never free).
KNOWN, NONE, INVALID = "known", "none", "invalid"
SUPPORT_FLAGS = ("tools", "vision", "json_schema", "streaming", "reasoning")


@dataclass(frozen=True, slots=True)
class Pricing:
    """Nano-dollars per 1M tokens (prompt, completion, cached prompt) and per request / per image."""

    status: str = NONE
    prompt: int | None = None
    completion: int | None = None
    cached_prompt: int | None = None
    request: int | None = None
    image: int | None = None

    def key(self) -> tuple[Any, ...]:
        return (self.status, self.prompt, self.completion, self.cached_prompt, self.request, self.image)

    @property
    def is_free(self) -> bool:
        return self.status == KNOWN and not any(getattr(self, name) for name in PRICE_FIELDS)


@dataclass(frozen=True, slots=True)
class ModelRecord:
    provider: str
    model: str
    canonical_id: str
    name: str
    description: str = ""
    context_length: int | None = None
    max_output_tokens: int | None = None
    input_modalities: tuple[str, ...] = ("text",)
    output_modalities: tuple[str, ...] = ("text",)
    pricing: Pricing = field(default_factory=Pricing)
    supported_parameters: tuple[str, ...] = ()
    supports: tuple[str, ...] = ()
    created: int | None = None
    deprecated: bool = False

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.model}"

    def with_provider(self, provider: str) -> ModelRecord:
        return replace(self, provider=provider)


def _length(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = int(value)
    return number if 0 < number <= MAX_LENGTH and number == value else None


def _first_length(*values: Any) -> int | None:
    for value in values:
        length = _length(value)
        if length is not None:
            return length
    return None


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _strings(value: Any, limit: int = 64) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(sorted({item[:64] for item in value if isinstance(item, str) and item}))[:limit]


def _nanos(value: Any, per: Decimal, ceiling: int) -> int:
    """USD (per token when `per` is 1M, per unit when 1) as integer nanos; ValueError when unusable."""
    if isinstance(value, bool) or value is None:
        raise ValueError("not a price")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError("not a price") from exc
    if not amount.is_finite() or amount < 0:
        raise ValueError("not a usable price")
    nanos = int((amount * NANOS * per).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    if nanos > ceiling:
        raise ValueError("not a believable price")
    return nanos


def pricing_from_published(published: Any) -> Pricing:
    """OpenRouter's `pricing`: USD per token (and per request / image) as strings."""
    if not isinstance(published, dict) or not published:
        return Pricing()
    try:
        prompt = _nanos(published.get("prompt", "0"), MILLION, MAX_NANOS_PER_MILLION)
        cached_raw = published.get("input_cache_read")
        return Pricing(
            status=KNOWN,
            prompt=prompt,
            completion=_nanos(published.get("completion", "0"), MILLION, MAX_NANOS_PER_MILLION),
            cached_prompt=prompt if cached_raw in (None, "") else _nanos(cached_raw, MILLION, MAX_NANOS_PER_MILLION),
            request=_nanos(published.get("request") or "0", Decimal(1), MAX_NANOS_PER_UNIT),
            image=_nanos(published.get("image") or "0", Decimal(1), MAX_NANOS_PER_UNIT),
        )
    except ValueError:
        return Pricing(status=INVALID)


def pricing_per_million(row: JSON) -> Pricing:
    """The snapshot's (and config's) form: USD per 1M tokens, USD per request / image."""
    million = Decimal(1)
    prompt = _nanos(row.get("prompt", 0), million, MAX_NANOS_PER_MILLION)
    cached = row.get("cached_prompt")
    return Pricing(
        status=KNOWN,
        prompt=prompt,
        completion=_nanos(row.get("completion", 0), million, MAX_NANOS_PER_MILLION),
        cached_prompt=prompt if cached is None else _nanos(cached, million, MAX_NANOS_PER_MILLION),
        request=_nanos(row.get("request", 0), million, MAX_NANOS_PER_UNIT),
        image=_nanos(row.get("image", 0), million, MAX_NANOS_PER_UNIT),
    )


def _supports(entry: JSON, parameters: tuple[str, ...], inputs: tuple[str, ...], model: str) -> tuple[str, ...]:
    flags: set[str] = set()
    if "tools" in parameters or entry.get("supports_tools") is True:
        flags.add("tools")
    if "image" in inputs or entry.get("supports_vision") is True:
        flags.add("vision")
    if "structured_outputs" in parameters or "response_format" in parameters:
        flags.add("json_schema")
    if "reasoning" in parameters or "include_reasoning" in parameters or entry.get("supports_reasoning") is True:
        flags.add("reasoning")
    if "embedding" not in model and "embeddings" not in inputs:
        flags.add("streaming")
    return tuple(flag for flag in SUPPORT_FLAGS if flag in flags)


def normalise(provider: str, entry: JSON) -> ModelRecord | None:
    """A provider's model-list entry as a record; None when it has no usable id."""
    model = entry.get("id")
    if not isinstance(model, str) or not model or len(model) > 256:
        return None
    top = entry.get("top_provider") if isinstance(entry.get("top_provider"), dict) else {}
    architecture = entry.get("architecture") if isinstance(entry.get("architecture"), dict) else {}
    inputs = _strings(architecture.get("input_modalities")) or _strings(entry.get("input_modalities")) or ("text",)
    outputs = _strings(architecture.get("output_modalities")) or _strings(entry.get("output_modalities"))
    if not outputs:
        outputs = ("embeddings",) if "embedding" in model else ("text",)
    parameters = _strings(entry.get("supported_parameters"), limit=128)
    if "pricing" in entry:
        pricing = pricing_from_published(entry.get("pricing"))
    elif isinstance(entry.get("pricing_per_million"), dict):
        try:
            pricing = pricing_per_million(entry["pricing_per_million"])
        except ValueError:
            pricing = Pricing(status=INVALID)
    else:
        pricing = Pricing()
    created = entry.get("created")
    return ModelRecord(
        provider=provider,
        model=model,
        canonical_id=canonical_id(provider, model),
        name=_text(entry.get("name") or entry.get("display_name") or entry.get("displayName"), 256) or model,
        description=_text(entry.get("description"), 4000),
        context_length=_first_length(
            entry.get("context_length"),
            top.get("context_length"),
            entry.get("context_window"),
            entry.get("max_model_len"),
            entry.get("inputTokenLimit"),
            entry.get("max_input_tokens"),
        ),
        max_output_tokens=_first_length(
            top.get("max_completion_tokens"),
            entry.get("max_output_tokens"),
            entry.get("outputTokenLimit"),
            entry.get("max_completion_tokens"),
        ),
        input_modalities=inputs,
        output_modalities=outputs,
        pricing=pricing,
        supported_parameters=parameters,
        supports=_supports(entry, parameters, inputs, model),
        created=created if isinstance(created, int) and not isinstance(created, bool) and created >= 0 else None,
        deprecated=entry.get("deprecated") is True,
    )
