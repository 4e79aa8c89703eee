"""What a limit looks like, and how limits from several sources combine.

One shape everywhere (settings, plans, users, keys):

    {"requests_per_minute": 60, "tokens_per_day": 1000000, "concurrent_requests": 4,
     "models": {"openai/*": {"requests_per_minute": 10}},
     "endpoints": {"embeddings": {"requests_per_second": 20}}}

Top-level windows count everything of the subject (the user, the key, or the whole gateway);
`endpoints` windows count one endpoint; `models` windows count one requested model id each (a glob
selects which limits apply to a model; every matching model still gets its own counter).
This module has no I/O and imports only gatewayz.storage.text, so settings and the principal can use it.
"""

from __future__ import annotations

import fnmatch
from typing import Annotated, Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, ValidationError, model_validator

from gatewayz.storage.text import check_storable

log = structlog.get_logger("gatewayz.limits.config")

Kind = Literal["requests", "tokens", "concurrent"]
Endpoint = Literal["chat", "embeddings", "images"]
MAX_MODEL_RULES = 256
# The largest limit: bounded so a stored limit fits 64-bit integers everywhere (JSON columns, Redis
# counters) with room for the arithmetic on it; a trillion per window is effectively no limit.
MAX_LIMIT = 10**12

# window name -> (length, bucket width) in ms. The bucket width is the error bound: a request is
# remembered for between one window and one window + one bucket (see windows.py).
WINDOWS: dict[str, tuple[int, int]] = {
    "second": (1_000, 100),
    "minute": (60_000, 1_000),
    "hour": (3_600_000, 30_000),
    "day": (86_400_000, 600_000),
}

# field name -> (kind, window name); "concurrent_requests" has no window.
WINDOW_FIELDS: dict[str, tuple[Kind, str]] = {
    f"{kind}_per_{window}": (kind, window)
    for kind in ("requests", "tokens")
    for window in WINDOWS
}
LIMIT_FIELDS: tuple[str, ...] = (*WINDOW_FIELDS, "concurrent_requests")


class Windows(BaseModel):
    """Limits for one subject. None means "no limit from this source" (a later source may set one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_second: StrictInt | None = Field(None, ge=1, le=MAX_LIMIT)
    requests_per_minute: StrictInt | None = Field(None, ge=1, le=MAX_LIMIT)
    requests_per_hour: StrictInt | None = Field(None, ge=1, le=MAX_LIMIT)
    requests_per_day: StrictInt | None = Field(None, ge=1, le=MAX_LIMIT)
    tokens_per_second: StrictInt | None = Field(None, ge=1, le=MAX_LIMIT)
    tokens_per_minute: StrictInt | None = Field(None, ge=1, le=MAX_LIMIT)
    tokens_per_hour: StrictInt | None = Field(None, ge=1, le=MAX_LIMIT)
    tokens_per_day: StrictInt | None = Field(None, ge=1, le=MAX_LIMIT)
    concurrent_requests: StrictInt | None = Field(None, ge=1, le=MAX_LIMIT)

    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in LIMIT_FIELDS)


ModelPattern = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class RateLimits(Windows):
    models: dict[ModelPattern, Windows] | None = Field(None, max_length=MAX_MODEL_RULES)
    endpoints: dict[Endpoint, Windows] | None = None

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        check_storable(data)  # stored as JSON: no NUL or lone surrogates in model patterns
        return data

    def is_empty(self) -> bool:
        return super().is_empty() and not self.models and not self.endpoints

    def for_model(self, model: str) -> Windows | None:
        """The exact id's rule, else the most specific (longest) matching glob."""
        if not self.models:
            return None
        exact = self.models.get(model)
        if exact is not None:
            return exact
        matches = [p for p in self.models if fnmatch.fnmatchcase(model, p)]
        return self.models[max(matches, key=len)] if matches else None


def _pick(a: int | None, b: int | None, override: bool) -> int | None:
    if b is None:
        return a
    if a is None or override:
        return b
    return min(a, b)


def _merge_windows(a: Windows | None, b: Windows | None, override: bool) -> Windows | None:
    if b is None:
        return a
    if a is None:
        return b
    return Windows(**{name: _pick(getattr(a, name), getattr(b, name), override) for name in LIMIT_FIELDS})


WindowsMap = dict[str, Windows]


def _merge_maps(a: WindowsMap | None, b: WindowsMap | None, override: bool) -> WindowsMap | None:
    if not b:
        return a
    if not a:
        return b
    merged = dict(a)
    for name, windows in b.items():
        merged[name] = _merge_windows(a.get(name), windows, override) or windows
    return merged


def merge(base: RateLimits | None, layer: RateLimits | None, *, override: bool) -> RateLimits | None:
    """Combine two sources: `override` replaces field by field (an admin raising a user's limit),
    otherwise the tighter value wins (a key owner can only narrow what the key may do)."""
    if layer is None:
        return base
    if base is None:
        return layer
    windows = _merge_windows(base, layer, override)
    assert windows is not None
    return RateLimits(
        **windows.model_dump(),
        models=_merge_maps(base.models, layer.models, override),
        endpoints=_merge_maps(base.endpoints, layer.endpoints, override),  # type: ignore[arg-type]
    )


def parse_limits(value: Any) -> RateLimits | None:
    """From a stored JSON column. Stored values were validated on the way in; a bad one (edited by
    hand) is logged and ignored rather than locking its owner out."""
    if not value:
        return None
    if isinstance(value, RateLimits):
        return value
    try:
        limits = RateLimits.model_validate(value)
    except ValidationError as exc:
        log.error("invalid_stored_rate_limits", error=str(exc)[:300])
        return None
    return None if limits.is_empty() else limits


def stored(limits: RateLimits | None) -> dict[str, Any] | None:
    """The JSON column value: only what is set, None for "no limits"."""
    if limits is None or limits.is_empty():
        return None
    return limits.model_dump(exclude_none=True)
