"""What a plan allows, checked on the hot path from memory (plans/book.py): models, features,
rate limits (a LimitSource between the settings defaults and the admin's per-user limits), and
the number of keys (at key creation, the only place it costs a query)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.accounts.principal import Principal
from gatewayz.accounts.tables import ApiKey, User
from gatewayz.errors import GatewayError, PermissionDenied
from gatewayz.limits.config import RateLimits
from gatewayz.limits.sources import Scope
from gatewayz.plans.book import PlanBook, current_assignment
from gatewayz.storage.db import Database
from gatewayz.storage.types import utcnow


class PlanGate:
    """The Authenticator's PlanHook."""

    def __init__(self, db: Database, book: PlanBook) -> None:
        self.db = db
        self.book = book

    async def assignment(self, user_id: int) -> tuple[int | None, float | None]:
        async with self.db.session() as session:
            return await current_assignment(session, user_id)

    def model_refusal(self, principal: Principal, model: str) -> GatewayError | None:
        if principal.is_sandbox:  # sandbox models are canned answers, not the plan's models
            return None
        plan = self.book.effective(principal)
        if plan.allows_model(model):
            return None
        return PermissionDenied(f"Your plan ({plan.name}) does not include the model '{model}'.", param="model",
                                code="model_not_in_plan")

    def model_filter(self, principal: Principal) -> Callable[[str], bool] | None:
        if principal.is_sandbox:
            return None
        plan = self.book.effective(principal)
        return plan.allows_model if plan.allowed_models is not None else None

    def feature_refusal(self, principal: Principal, feature: str) -> GatewayError | None:
        plan = self.book.effective(principal)
        if plan.has_feature(feature):
            return None
        return PermissionDenied(f"Your plan ({plan.name}) does not include the '{feature}' feature.",
                                code="feature_not_in_plan")


@dataclass(frozen=True, slots=True)
class PlanSource:
    """The plan's rate limits (with its max_concurrent_requests) for the user scope: they
    replace the settings defaults, and an admin's per-user limits replace them in turn."""

    book: PlanBook
    name: str = "plan"
    scope: Scope = "user"
    override: bool = True

    def limits(self, principal: Principal) -> RateLimits | None:
        return self.book.limits(principal)


async def check_key_allowance(session: AsyncSession, user_id: int, max_keys: int | None) -> None:
    """Refuse a new key past the plan's `max_keys` (live keys: not revoked, not expired). The user
    row is locked first, so two keys created at once cannot both take the last place."""
    if max_keys is None:
        return
    await session.execute(update(User).where(User.id == user_id).values(updated_at=utcnow()))
    now = utcnow()
    count = (await session.execute(
        select(func.count()).select_from(ApiKey).where(
            ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None),
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
        )
    )).scalar_one()
    if int(count) >= max_keys:
        raise PermissionDenied(
            f"Your plan allows {max_keys} API key(s); revoke one before creating another.",
            code="plan_key_limit",
        )
