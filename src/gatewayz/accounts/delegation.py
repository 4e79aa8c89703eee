"""What an API key may do to keys: never more than it may do itself.

A key with the `keys` scope manages its owner's keys, but it can never widen anyone's rights,
its own included: a key it creates or edits ends up with at most its scopes, models, networks,
referers, expiry and environment (unset rules are inherited from it), and it may only touch keys
whose rights are already within its own. Per-key quotas (a budget, a request cap, rate limits)
cannot be inherited without multiplying them (ten children, ten budgets), so a key that carries a
quota cannot create keys at all. The operator's paths (CLI, bootstrap, admin user creation) act
without a calling key and are not limited by this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gatewayz.accounts.keys import DEFAULT_SCOPES, IPNetwork, model_allowed, parse_networks
from gatewayz.accounts.principal import Principal
from gatewayz.accounts.tables import ApiKey
from gatewayz.errors import PermissionDenied
from gatewayz.limits.config import RateLimits, merge, parse_limits


@dataclass(frozen=True, slots=True)
class Rights:
    environment: str
    scopes: frozenset[str]
    allowed_models: tuple[str, ...] | None
    ip_allowlist: tuple[IPNetwork, ...] | None
    allowed_referers: tuple[str, ...] | None
    expires_at: float | None
    max_budget: int | None
    budget_period: str | None
    max_requests: int | None
    rate_limits: RateLimits | None

    @property
    def has_quota(self) -> bool:
        return self.max_budget is not None or self.max_requests is not None or self.rate_limits is not None


def principal_rights(principal: Principal) -> Rights:
    """A key's own rights. A dashboard session is the user themselves: it may create the keys any
    user may hold (the default scopes, never `admin`; no expiry or rule inherited from the session)."""
    if principal.session_id is not None:
        return Rights(principal.environment, frozenset(DEFAULT_SCOPES), None, None, None, None, None, None, None, None)
    return Rights(
        environment=principal.environment,
        scopes=principal.scopes,
        allowed_models=principal.allowed_models,
        ip_allowlist=principal.ip_networks,
        allowed_referers=principal.referer_patterns,
        expires_at=principal.expires_at,
        max_budget=principal.max_budget,
        budget_period=principal.budget_period,
        max_requests=principal.max_requests,
        rate_limits=principal.key_rate_limits,
    )


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def key_rights(key: ApiKey) -> Rights:
    return Rights(
        environment=key.environment,
        scopes=frozenset(key.scopes or ()),
        allowed_models=tuple(key.allowed_models) if key.allowed_models else None,
        ip_allowlist=tuple(parse_networks(key.ip_allowlist)) if key.ip_allowlist else None,
        allowed_referers=tuple(key.allowed_referers) if key.allowed_referers else None,
        expires_at=_epoch(key.expires_at),
        max_budget=key.max_budget,
        budget_period=key.budget_period,
        max_requests=key.max_requests,
        rate_limits=parse_limits(key.rate_limits),
    )


def _model_covered(pattern: str, allowed: tuple[str, ...]) -> bool:
    if pattern in allowed:
        return True
    if not any(c in pattern for c in "*?["):
        return model_allowed(allowed, pattern)
    # a glob is within a trailing-star glob whose prefix it extends (`openai/gpt-4*` within `openai/*`)
    return any(a.endswith("*") and not any(c in a[:-1] for c in "*?[") and pattern.startswith(a[:-1])
               for a in allowed)


def _network_covered(net: IPNetwork, allowed: tuple[IPNetwork, ...]) -> bool:
    return any(net.version == a.version and net.subnet_of(a) for a in allowed)  # type: ignore[arg-type]


def _referer_covered(pattern: str, allowed: tuple[str, ...]) -> bool:
    if pattern in allowed:
        return True
    bare = pattern[2:] if pattern.startswith("*.") else pattern
    return any(a.startswith("*.") and bare.endswith(a[1:]) for a in allowed)


def wider_field(target: Rights, caller: Rights) -> str | None:
    """The first rule in which `target` allows more than `caller`, or None when it is within."""
    if caller.environment == "test" and target.environment != "test":
        return "environment"
    if not target.scopes <= caller.scopes:
        return "scopes"
    checks: list[tuple[str, Any, Any, Any]] = [
        ("allowed_models", caller.allowed_models, target.allowed_models,
         lambda t, c: all(_model_covered(p, c) for p in t)),
        ("ip_allowlist", caller.ip_allowlist, target.ip_allowlist,
         lambda t, c: all(_network_covered(n, c) for n in t)),
        ("allowed_referers", caller.allowed_referers, target.allowed_referers,
         lambda t, c: all(_referer_covered(p, c) for p in t)),
        ("expires_at", caller.expires_at, target.expires_at, lambda t, c: t <= c),
        ("max_budget", caller.max_budget, target.max_budget,
         lambda t, c: t <= c and target.budget_period == caller.budget_period),
        ("max_requests", caller.max_requests, target.max_requests, lambda t, c: t <= c),
        ("rate_limits", caller.rate_limits, target.rate_limits, lambda t, c: merge(c, t, override=False) == t),
    ]
    for name, mine, theirs, within in checks:
        if mine is not None and (theirs is None or not within(theirs, mine)):
            return name
    return None


def require_within(target: Rights, caller: Rights | None, action: str) -> None:
    if caller is None:
        return
    wider = wider_field(target, caller)
    if wider is not None:
        raise PermissionDenied(
            f"This API key cannot {action} a key with wider rights than its own ('{wider}').",
            param=wider if wider != "environment" else "environment",
            code="key_rights_exceeded",
        )


def require_may_create(caller: Rights | None) -> None:
    if caller is not None and caller.has_quota:
        raise PermissionDenied(
            "A key with a spending limit, request cap or rate limits cannot create keys (each new key would "
            "multiply its quota); use a key without them.",
            code="key_rights_exceeded",
        )


def inherited(caller: Rights | None, spec: dict[str, Any]) -> dict[str, Any]:
    """Rules left unset by the request are the calling key's own (narrowed keys stay narrow)."""
    if caller is None:
        return spec
    out = dict(spec)
    if out.get("scopes") is None:
        out["scopes_default"] = caller.scopes
    if not out.get("allowed_models") and caller.allowed_models is not None:
        out["allowed_models"] = list(caller.allowed_models)
    if not out.get("ip_allowlist") and caller.ip_allowlist is not None:
        out["ip_allowlist"] = [str(n) for n in caller.ip_allowlist]
    if not out.get("allowed_referers") and caller.allowed_referers is not None:
        out["allowed_referers"] = list(caller.allowed_referers)
    if out.get("expires_at") is None and out.get("expires_in_days") is None and caller.expires_at is not None:
        out["expires_at"] = datetime.fromtimestamp(caller.expires_at, UTC)
    if out.get("environment") is None and caller.environment == "test":
        out["environment"] = "test"
    return out

