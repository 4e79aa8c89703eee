"""Every plan, in memory: the hot path resolves a caller's plan with a dict lookup, never a
database read. The principal carries only its plan's id and end (accounts/principal.py); the
definitions are reloaded here when a plan changes anywhere (the role-change signal of
accounts/cache.py carries it between processes), and then the key cache is cleared, so the
limit planner's per-principal cache is rebuilt with the new definitions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.accounts.keys import model_allowed
from gatewayz.accounts.principal import Principal
from gatewayz.billing.ledger import dialect_name
from gatewayz.limits.config import RateLimits, merge, parse_limits
from gatewayz.plans.tables import Plan, PlanSubscription
from gatewayz.storage.db import Database
from gatewayz.storage.reloading import SignalledReload
from gatewayz.storage.types import utcnow

log = structlog.get_logger("gatewayz.plans")

FEATURES: dict[str, str] = {
    "history": "Chat history injection (session_id / conversation on a request)",
    "images": "Image generation and edits (/v1/images/...)",
}


@dataclass(frozen=True, slots=True)
class PlanDef:
    id: int
    slug: str
    name: str
    allowed_models: tuple[str, ...] | None
    features: frozenset[str] | None  # None: every feature
    max_keys: int | None
    limits: RateLimits | None  # the plan's rate limits with its max_concurrent_requests folded in
    stamp: str  # changes whenever the stored row changes

    def allows_model(self, model: str) -> bool:
        return self.allowed_models is None or model_allowed(self.allowed_models, model)

    def has_feature(self, feature: str) -> bool:
        return self.features is None or feature in self.features


UNRESTRICTED = PlanDef(0, "free", "Free", None, None, None, None, "builtin")


def plan_def(row: Plan) -> PlanDef:
    limits = parse_limits(row.rate_limits)
    if row.max_concurrent_requests is not None:
        limits = merge(limits, RateLimits(concurrent_requests=int(row.max_concurrent_requests)), override=True)
    return PlanDef(
        id=row.id, slug=row.slug, name=row.name,
        allowed_models=tuple(row.allowed_models) if row.allowed_models is not None else None,
        features=frozenset(row.features) if row.features is not None else None,
        max_keys=row.max_keys, limits=limits, stamp=f"{row.id}:{row.updated_at.isoformat()}",
    )


BUILTIN_PLANS = (
    {"slug": "free", "name": "Free", "tier": "free", "trial_eligible": False, "visibility": "public"},
    {"slug": "trial", "name": "Free trial", "tier": "free", "trial_eligible": True, "visibility": "custom"},
)


async def ensure_builtin_plans(session: AsyncSession) -> None:
    """The `free` and `trial` plans exist (unrestricted until an admin restricts them); several
    processes may start at once, so an insert that finds the slug taken does nothing."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if dialect_name(session) == "postgresql" else sqlite.insert
    now = utcnow()
    for values in BUILTIN_PLANS:
        await session.execute(insert(Plan.__table__).values(  # type: ignore[arg-type]
            **values, price_monthly=0, credits_per_period=0, credits_expire=False, active=True,
            created_at=now, updated_at=now,
        ).on_conflict_do_nothing())


async def current_assignment(session: AsyncSession, user_id: int) -> tuple[int | None, float | None]:
    """(plan id, end as epoch seconds) of the user's plan now; (None, None) for the default."""
    row = (await session.execute(
        select(PlanSubscription.plan_id, PlanSubscription.ends_at).where(PlanSubscription.user_id == user_id)
    )).first()
    if row is None:
        return None, None
    ends = row[1].timestamp() if row[1] is not None else None
    if ends is not None and ends <= time.time():
        return None, None  # over: the default plan until the job removes the row
    return int(row[0]), ends


class PlanBook(SignalledReload):
    reload_name = "plans"

    def __init__(self, db: Database, default_slug: str, trial_slug: str) -> None:
        self.db = db
        self.default_slug = default_slug
        self.trial_slug = trial_slug
        self.by_id: dict[int, PlanDef] = {}
        self.default: PlanDef = UNRESTRICTED
        self.after_change: Callable[[], None] | None = None  # set by Services: clears the key cache
        super().__init__()

    # -- the hot path ----------------------------------------------------------------------------

    def effective(self, principal: Principal) -> PlanDef:
        plan_id = principal.plan_id
        if plan_id is None:
            return self.default
        ends = principal.plan_ends_at
        if ends is not None and ends <= time.time():
            return self.default
        return self.by_id.get(plan_id, self.default)

    def limits(self, principal: Principal) -> RateLimits | None:
        return self.effective(principal).limits

    def by_slug(self, slug: str) -> PlanDef | None:
        return next((p for p in self.by_id.values() if p.slug == slug), None)

    # -- loading ---------------------------------------------------------------------------------

    def apply(self, rows: list[Plan]) -> bool:
        """Replace the definitions; True when anything changed."""
        by_id = {row.id: plan_def(row) for row in rows}
        default = next((p for p in by_id.values() if p.slug == self.default_slug), UNRESTRICTED)
        changed = {k: v.stamp for k, v in by_id.items()} != {k: v.stamp for k, v in self.by_id.items()}
        self.by_id, self.default = by_id, default
        return changed

    async def reload(self) -> None:
        async with self.db.session() as session:
            rows = list((await session.execute(select(Plan))).scalars().all())
        if self.apply(rows) and self.after_change is not None:
            self.after_change()
