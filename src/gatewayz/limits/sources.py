"""Who is limited by what: sources of limits, folded per scope into the checks of one request.

A source gives limits for one scope (`global`: the whole gateway, `user`, or `key`) and either
overrides what earlier sources said (settings defaults < plan < the admin's per-user limits) or
can only tighten it (a key's own limits, set by its owner). A plan is just one more source
(plans/entitlements.py `PlanSource`), between the settings defaults and the user's own limits.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal, Protocol

from gatewayz.accounts.principal import Principal
from gatewayz.limits.config import WINDOW_FIELDS, WINDOWS, RateLimits, Windows, merge
from gatewayz.limits.windows import Check

Scope = Literal["global", "user", "key"]
SCOPES: tuple[Scope, ...] = ("global", "user", "key")
ENDPOINTS: tuple[str, ...] = ("chat", "embeddings", "images")
CACHE_SIZE = 10_000


class LimitSource(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def scope(self) -> Scope: ...

    @property
    def override(self) -> bool:
        """True: replaces what earlier sources said; False: can only make it tighter."""
        ...

    def limits(self, principal: Principal) -> RateLimits | None: ...


@dataclass(frozen=True, slots=True)
class StaticSource:
    """Limits from settings: the same for every principal."""

    name: str
    scope: Scope
    value: RateLimits | None
    override: bool = True

    def limits(self, principal: Principal) -> RateLimits | None:
        return self.value


@dataclass(frozen=True, slots=True)
class UserSource:
    """What an admin set for this user (PUT /admin/users/{id}/rate-limits)."""

    name: str = "user"
    scope: Scope = "user"
    override: bool = True

    def limits(self, principal: Principal) -> RateLimits | None:
        return principal.user_rate_limits


@dataclass(frozen=True, slots=True)
class KeySource:
    """What the key's owner set on the key: can only narrow the key's defaults."""

    name: str = "key"
    scope: Scope = "key"
    override: bool = False

    def limits(self, principal: Principal) -> RateLimits | None:
        return principal.key_rate_limits


def default_sources(
    global_limits: RateLimits | None, user_defaults: RateLimits | None, key_defaults: RateLimits | None,
    plan: LimitSource | None = None,
) -> list[LimitSource]:
    """The one place that says which sources exist and in which order."""
    return [
        StaticSource("settings", "global", global_limits),
        StaticSource("settings", "user", user_defaults),
        *([plan] if plan is not None else []),  # the user's plan (plans/entitlements.py PlanSource)
        UserSource(),
        StaticSource("settings", "key", key_defaults),
        KeySource(),
    ]


def _remember(cache: OrderedDict, key: object, value: object) -> None:  # type: ignore[type-arg]
    cache[key] = value
    if len(cache) > CACHE_SIZE:
        cache.popitem(last=False)


def _subject(scope: Scope, principal: Principal) -> str:
    if scope == "user":
        return str(principal.user_id)
    if scope == "key":
        return str(principal.key_id)
    return "all"


class LimitPlanner:
    """Turns (principal, endpoint, model identities) into the checks to run; cached, it is on the
    hot path. `models` are all the names a request's model may go by (see `model_identities` in
    stage.py): every model rule matching any of them applies, each counter once per request."""

    def __init__(self, sources: list[LimitSource], key_prefix: str, lease_ms: int) -> None:
        self.sources = sources
        self.key_prefix = key_prefix
        self.lease_ms = lease_ms
        # (key_id, endpoint, models) -> (the principal it was computed for, checks)
        self._cache: OrderedDict[tuple[int, str, tuple[str, ...]], tuple[Principal, list[Check]]] = OrderedDict()
        # key_id -> (principal, whether any scope has model rules): tells the stage whether the
        # model identities of a request are needed at all
        self._has_models: OrderedDict[int, tuple[Principal, bool]] = OrderedDict()

    def resolve(self, principal: Principal) -> dict[Scope, RateLimits]:
        """The effective limits per scope after folding every source in order."""
        resolved: dict[Scope, RateLimits] = {}
        for scope in SCOPES:
            limits: RateLimits | None = None
            for source in self.sources:
                if source.scope == scope:
                    limits = merge(limits, source.limits(principal), override=source.override)
            if limits is not None and not limits.is_empty():
                resolved[scope] = limits
        return resolved

    def has_model_rules(self, principal: Principal) -> bool:
        hit = self._has_models.get(principal.key_id)
        if hit is not None and hit[0] is principal:  # a changed key/user is a new Principal object
            return hit[1]
        found = any(limits.models for limits in self.resolve(principal).values())
        _remember(self._has_models, principal.key_id, (principal, found))
        return found

    def checks(self, principal: Principal, endpoint: str, models: tuple[str, ...] = ()) -> list[Check]:
        cache_key = (principal.key_id, endpoint, models)
        hit = self._cache.get(cache_key)
        if hit is not None and hit[0] is principal:
            return hit[1]
        checks = self._build(principal, endpoint, models)
        _remember(self._cache, cache_key, (principal, checks))
        return checks

    def overview(self, principal: Principal, models: tuple[str, ...] = ()) -> list[Check]:
        """Every window of the principal (both endpoints; model windows only for `models`)."""
        seen: dict[str, Check] = {}
        for endpoint in ENDPOINTS:
            for check in self._build(principal, endpoint, models):
                seen.setdefault(check.key, check)
        return list(seen.values())

    def _build(self, principal: Principal, endpoint: str, models: tuple[str, ...]) -> list[Check]:
        checks: list[Check] = []
        for scope, limits in self.resolve(principal).items():
            subject = _subject(scope, principal)
            who = scope if scope == "global" else f"{scope} {subject}"
            parts: list[tuple[str, str, Windows | None]] = [
                ("", who, limits),
                (f"endpoint:{endpoint}", f"{who}, endpoint {endpoint}", (limits.endpoints or {}).get(endpoint)),  # type: ignore[call-overload]
            ]
            if limits.models:  # one counter per matching name (names are distinct: no double count)
                parts.extend((f"model:{m}", f"{who}, model {m}", limits.for_model(m)) for m in models)
            for dimension, label, windows in parts:
                if windows is not None:
                    base = f"{self.key_prefix}:{scope}:{subject}" + (f":{dimension}" if dimension else "")
                    checks.extend(self._windows_checks(base, scope, dimension, label, windows))
        return checks

    def _windows_checks(self, base: str, scope: str, dimension: str, label: str, windows: Windows) -> list[Check]:
        out: list[Check] = []
        for name, (kind, window) in WINDOW_FIELDS.items():
            limit = getattr(windows, name)
            if limit is not None:
                length, bucket = WINDOWS[window]
                out.append(Check(f"{base}:{kind}:{window}", kind, limit, length, bucket, window,
                                 f"{kind} per {window} ({label})", scope, dimension))
        if windows.concurrent_requests is not None:
            out.append(Check(f"{base}:concurrent", "concurrent", windows.concurrent_requests, self.lease_ms, 0,
                             "concurrent", f"concurrent requests ({label})", scope, dimension))
        return out
