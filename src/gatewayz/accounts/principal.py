"""The authenticated caller: an API key and its owner, as the request pipeline sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gatewayz.accounts.keys import IPNetwork, model_allowed, parse_networks
from gatewayz.accounts.tables import ApiKey, User
from gatewayz.limits.config import RateLimits, parse_limits


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: int
    user_id: int
    role: str
    environment: str
    scopes: frozenset[str]
    prefix: str
    key_hash: str
    ip_networks: tuple[IPNetwork, ...] | None
    referer_patterns: tuple[str, ...] | None
    allowed_models: tuple[str, ...] | None
    expires_at: float | None  # epoch seconds: compared on every request, so kept cheap
    max_requests: int | None
    revoked: bool
    active: bool
    max_budget: int | None = None  # nano-dollars per budget period (billing enforces it)
    budget_period: str | None = None
    key_rate_limits: RateLimits | None = None  # set by the key's owner (can only tighten)
    user_rate_limits: RateLimits | None = None  # set by an admin (overrides the defaults)
    roles: frozenset[str] = frozenset()  # the owner's roles; their permissions: accounts/role_book.py
    session_id: int | None = None  # a dashboard session (signin/sessions.py), not an API key
    plan_id: int | None = None  # the owner's plan (plans/book.py resolves it); None: the default plan
    plan_ends_at: float | None = None  # epoch seconds: the plan stops applying then (a trial's end)
    # a team key (teams/): the pool's account is `user_id`; the member whose key it is, and their cap
    team_id: int | None = None
    member_user_id: int | None = None
    cap_id: int | None = None  # the membership id: billing holds under it (billing/holds.py SpendCap)
    cap_limit: int | None = None  # nano-dollars per cap_period
    cap_period: str | None = None

    @property
    def is_sandbox(self) -> bool:
        return self.environment == "test"

    def allows_model(self, model: str) -> bool:
        return self.allowed_models is None or model_allowed(self.allowed_models, model)


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def principal_from_rows(key: ApiKey, user: User, matched_hash: str, roles: frozenset[str] = frozenset()) -> Principal:
    """Build the cached view of a key. A match on the pre-rotation hash expires with its grace."""
    expires_at = _epoch(key.expires_at)
    if matched_hash != key.key_hash:
        grace_end = _epoch(key.previous_key_expires_at) or 0.0
        expires_at = grace_end if expires_at is None else min(expires_at, grace_end)
    return Principal(
        key_id=key.id,
        user_id=user.id,
        role=user.role,
        environment=key.environment,
        scopes=frozenset(key.scopes or ()),
        prefix=key.prefix,
        key_hash=matched_hash,
        ip_networks=tuple(parse_networks(key.ip_allowlist)) if key.ip_allowlist else None,
        referer_patterns=tuple(key.allowed_referers) if key.allowed_referers else None,
        allowed_models=tuple(key.allowed_models) if key.allowed_models else None,
        expires_at=expires_at,
        max_requests=key.max_requests,
        revoked=key.revoked_at is not None,
        active=user.is_active,
        max_budget=key.max_budget,
        budget_period=key.budget_period,
        key_rate_limits=parse_limits(key.rate_limits),
        user_rate_limits=parse_limits(user.rate_limits),
        roles=roles,
    )
