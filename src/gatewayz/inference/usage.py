"""Provider usage is input like any other: checked before billing and rate limits rely on it.

A provider (or a translation of its answer) may send token counts that are strings, negative,
fractional, booleans or absurdly large. Such a usage object is not believed: the request is
billed and counted from the gateway's own estimate instead, never for free.
"""

from __future__ import annotations

from typing import Any

MAX_USAGE_TOKENS = 100_000_000  # per field: far above any context window, far below int64 money overflow

JSON = dict[str, Any]


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_USAGE_TOKENS else None


def clean_usage(usage: Any) -> JSON | None:
    """A normalised copy `{prompt_tokens, completion_tokens, total_tokens, prompt_tokens_details:
    {cached_tokens}}` of an OpenAI-shaped usage object, or None when it cannot be believed."""
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens", 0)
    completion = usage.get("completion_tokens", 0)
    if "prompt_tokens" not in usage and "completion_tokens" not in usage:
        return None
    prompt_n, completion_n = _count(prompt if prompt is not None else 0), _count(
        completion if completion is not None else 0
    )
    if prompt_n is None or completion_n is None:
        return None
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    cached_n = _count(cached) if cached is not None else 0
    if cached_n is None:
        return None
    return {
        "prompt_tokens": prompt_n,
        "completion_tokens": completion_n,
        "total_tokens": prompt_n + completion_n,
        "prompt_tokens_details": {"cached_tokens": min(cached_n, prompt_n)},
    }
