"""Records as JSON: OpenRouter's field names wherever OpenRouter has one.

`pricing` is OpenRouter's USD per token (and per request / image) as decimal strings, exactly what
billing/pricing.py reads from a provider's list; `-1` marks a price that is published but unusable
(OpenRouter's "decided per request"), so the model is unpriced, never free. `pricing_per_million`
is the same in USD per 1M tokens, the unit people quote.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gatewayz.catalog.records import INVALID, KNOWN, ModelRecord, Pricing

JSON = dict[str, Any]
_TOKEN_SCALE = -15  # nanos per 1M tokens -> USD per token
_MILLION_SCALE = -9  # nanos per 1M tokens -> USD per 1M tokens
_UNPRICED: JSON = {"prompt": "-1", "completion": "-1"}


def _decimal(nanos: int, scale: int) -> str:
    text = format(Decimal(nanos).scaleb(scale).normalize(), "f")
    return text if text != "-0" else "0"


def published_pricing(pricing: Pricing) -> JSON | None:
    """USD per token strings (None when the provider publishes no price)."""
    if pricing.status == INVALID:
        return dict(_UNPRICED)
    if pricing.status != KNOWN:
        return None
    out = {
        "prompt": _decimal(pricing.prompt or 0, _TOKEN_SCALE),
        "completion": _decimal(pricing.completion or 0, _TOKEN_SCALE),
        "request": _decimal(pricing.request or 0, _MILLION_SCALE),
        "image": _decimal(pricing.image or 0, _MILLION_SCALE),
    }
    if pricing.cached_prompt is not None and pricing.cached_prompt != pricing.prompt:
        out["input_cache_read"] = _decimal(pricing.cached_prompt, _TOKEN_SCALE)
    return out


def per_million(pricing: Pricing) -> JSON | None:
    if pricing.status != KNOWN:
        return None
    return {
        "prompt": _decimal(pricing.prompt or 0, _MILLION_SCALE),
        "completion": _decimal(pricing.completion or 0, _MILLION_SCALE),
        "cached_prompt": _decimal(pricing.cached_prompt or 0, _MILLION_SCALE),
        "request": _decimal(pricing.request or 0, _MILLION_SCALE),
        "image": _decimal(pricing.image or 0, _MILLION_SCALE),
    }


def provider_entry(record: ModelRecord) -> JSON:
    """The entry the per-process Catalog keeps under the provider's own model id (read by billing,
    routing and history as they read a provider's list)."""
    entry: JSON = {
        "id": record.model,
        "object": "model",
        "created": record.created or 0,
        "owned_by": record.provider,
        "name": record.name,
        "canonical_slug": record.canonical_id,
        "description": record.description,
        "context_length": record.context_length,
        "architecture": {
            "input_modalities": list(record.input_modalities),
            "output_modalities": list(record.output_modalities),
        },
        "top_provider": {"context_length": record.context_length, "max_completion_tokens": record.max_output_tokens},
        "supported_parameters": list(record.supported_parameters),
        "supports": list(record.supports),
        "deprecated": record.deprecated,
    }
    if record.context_length is None:
        del entry["context_length"]
    published = published_pricing(record.pricing)
    if published is not None:
        entry["pricing"] = published
        if record.pricing.status == KNOWN:
            entry["pricing_per_million"] = per_million(record.pricing)
    return entry


def public_entry(record: ModelRecord) -> JSON:
    """One entry of `GET /v1/models` and `GET /models`: the provider entry under the gateway's id."""
    entry = provider_entry(record)
    entry["id"] = record.id
    entry["provider"] = record.provider
    entry["upstream_id"] = record.model
    entry["context_length"] = record.context_length
    entry.setdefault("pricing", None)
    return entry
