"""Plans and assignments: the operations behind the plans API (and, later, Stripe's events).

A change to a plan's definition bumps the auth change counter with the `roles` signal (every
process reloads its plan book, then its key cache); a change of a user's plan evicts that user's
cached keys. Both return an `Invalidation` for the caller to publish after the commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.accounts.cache import bump_auth_counter
from gatewayz.accounts.service import Invalidation
from gatewayz.accounts.tables import User
from gatewayz.billing import ledger
from gatewayz.billing.ledger import _insert_ignore
from gatewayz.billing.money import to_nanos, usd
from gatewayz.errors import Conflict, InvalidRequest, NotFound
from gatewayz.limits.config import stored
from gatewayz.plans.schemas import AdminPlanOut, PlanCreate, PlanFields, PlanOut, SubscriptionOut
from gatewayz.plans.tables import Plan, PlanCreditGrant, PlanSubscription
from gatewayz.storage.types import utcnow

NOT_NULL = ("name", "tier", "price_monthly", "credits_per_period", "credits_expire", "trial_eligible", "visibility",
            "active")
MONEY = ("price_monthly", "price_yearly", "credits_per_period")
PERIODS = {"month": timedelta(days=30), "year": timedelta(days=365)}


def plan_out(row: Plan) -> PlanOut:
    return PlanOut(
        id=row.id, slug=row.slug, name=row.name, tier=row.tier, description=row.description,
        price_monthly=usd(row.price_monthly),
        price_yearly=usd(row.price_yearly) if row.price_yearly is not None else None,
        credits_per_period=usd(row.credits_per_period), credits_expire=row.credits_expire,
        rate_limits=row.rate_limits, allowed_models=row.allowed_models, max_keys=row.max_keys,
        max_concurrent_requests=row.max_concurrent_requests, features=row.features,
        trial_eligible=row.trial_eligible, visibility=row.visibility, active=row.active,
        created_at=row.created_at, updated_at=row.updated_at,
    )


def admin_plan_out(row: Plan, subscribers: int) -> AdminPlanOut:
    return AdminPlanOut(**plan_out(row).model_dump(), stripe_price_monthly=row.stripe_price_monthly,
                        stripe_price_yearly=row.stripe_price_yearly, subscribers=subscribers)


def audit_fields(row: Plan) -> dict[str, Any]:
    return admin_plan_out(row, 0).model_dump(mode="json", exclude={"subscribers", "created_at", "updated_at"})


def subscription_out(row: PlanSubscription) -> SubscriptionOut:
    return SubscriptionOut.model_validate(row, from_attributes=True)


async def get_plan(session: AsyncSession, plan_id: int) -> Plan:
    plan = await session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"No plan with id {plan_id}.", param="plan_id")
    return plan


async def subscriber_counts(session: AsyncSession) -> dict[int, int]:
    rows = await session.execute(
        select(PlanSubscription.plan_id, func.count()).group_by(PlanSubscription.plan_id))
    return {int(plan_id): int(count) for plan_id, count in rows.all()}


def _values(body: PlanFields) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for name in NOT_NULL:
        if name in changes and changes[name] is None:
            raise InvalidRequest(f"{name} cannot be null.", param=name)
    for name in MONEY:
        if changes.get(name) is not None:
            changes[name] = to_nanos(changes[name])
    if "rate_limits" in changes:
        changes["rate_limits"] = stored(body.rate_limits)
    if "allowed_models" in changes and changes["allowed_models"] is not None:
        changes["allowed_models"] = list(dict.fromkeys(changes["allowed_models"]))
    return changes


async def _definitions_changed(session: AsyncSession) -> Invalidation:
    return Invalidation(await bump_auth_counter(session), roles=True)


async def create_plan(session: AsyncSession, body: PlanCreate) -> tuple[Plan, Invalidation]:
    values = _values(body)
    now = utcnow()
    row = Plan(**{"tier": "custom", "price_monthly": 0, "credits_per_period": 0, "credits_expire": False,
                  "trial_eligible": False, "visibility": "public", "active": True, **values},
               created_at=now, updated_at=now)
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A plan with slug {body.slug!r} already exists.", param="slug") from exc
    return row, await _definitions_changed(session)


async def update_plan(session: AsyncSession, row: Plan, body: PlanFields) -> Invalidation:
    for name, value in _values(body).items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    await session.flush()
    return await _definitions_changed(session)


async def delete_plan(session: AsyncSession, row: Plan, protected: set[str]) -> Invalidation:
    """Only a plan nobody is on, and not the default or trial plan (archive it instead: active=false)."""
    if row.slug in protected:
        raise Conflict(f"The {row.slug!r} plan is the default or trial plan of this gateway; it cannot be deleted.",
                       param="plan_id", code="plan_in_use")
    users = (await session.execute(
        select(func.count()).select_from(PlanSubscription).where(PlanSubscription.plan_id == row.id))).scalar_one()
    if users:
        raise Conflict(f"{users} user(s) are on this plan; move them or set active=false instead.",
                       param="plan_id", code="plan_in_use")
    await session.delete(row)
    await session.flush()
    return await _definitions_changed(session)


# -- assignment ------------------------------------------------------------------------------------


async def lock_user(session: AsyncSession, user_id: int) -> None:
    """Serialise changes of one user's plan row: a no-op UPDATE of the user takes its row lock
    (PostgreSQL) or the write lock (SQLite) before the plan row is read, so two writers (an admin
    and a webhook, two webhooks at once) cannot both find no row and both insert one."""
    await session.execute(update(User).where(User.id == user_id).values(updated_at=User.updated_at))


async def grant_period_credits(session: AsyncSession, *, user_id: int, plan: Plan, reference: str,
                               period_end: datetime | None, actor: str, paid_cents: int | None = None,
                               invoice_id: str | None = None) -> tuple[bool, int | None]:
    """The period's credits, exactly once per `reference` (an invoice, a period start): the unique
    row is claimed first, in the same transaction as the ledger entry; a second call for it (a
    replay, the other of Stripe's two "paid" events, a racing process) finds it taken. Returns
    (whether this call claimed the period, the ledger entry id or None when there are no credits)."""
    taken = (await session.execute(select(PlanCreditGrant.id).where(PlanCreditGrant.reference == reference))).first()
    if taken is not None:
        return False, None
    await _insert_ignore(session, PlanCreditGrant.__table__, {  # type: ignore[arg-type]
        "reference": reference, "user_id": user_id, "plan_id": plan.id, "amount": plan.credits_per_period,
        "paid_cents": paid_cents, "stripe_invoice_id": invoice_id, "created_at": utcnow(),
    })
    row = (await session.execute(select(PlanCreditGrant).where(PlanCreditGrant.reference == reference))).scalar_one()
    if row.transaction_id is not None or row.user_id != user_id or row.plan_id != plan.id:
        return False, None  # another transaction claimed it between our read and our insert
    if plan.credits_per_period <= 0:
        return True, None
    expires = period_end if plan.credits_expire and period_end is not None and period_end > utcnow() else None
    entry = await ledger.adjust(session, user_id=user_id, amount=plan.credits_per_period, type_="plan_credits",
                                reason=f"plan {plan.slug}: credits of the period", actor=actor,
                                reference=f"plan:{reference}"[:128], expires_at=expires)
    row.transaction_id = entry
    await session.flush()
    return True, entry


async def assign_plan(
    session: AsyncSession, *, user_id: int, plan: Plan, interval: str, source: str, status: str = "active",
    ends_at: datetime | None = None, grant_credits: bool = True, actor: str, default_slug: str,
) -> tuple[PlanSubscription | None, int | None, Invalidation]:
    """Put the user on `plan` from now; the default plan removes the user's row. Returns the row,
    the ledger entry of the first period's credits (if granted) and the invalidation."""
    now = utcnow()
    await lock_user(session, user_id)
    current = await session.get(PlanSubscription, user_id, populate_existing=True)
    if plan.slug == default_slug:
        if current is not None:
            await session.execute(delete(PlanSubscription).where(PlanSubscription.user_id == user_id))
        return None, None, Invalidation(await bump_auth_counter(session), user_id=user_id)
    # The same plan again during its running period keeps that period (and its credits, granted once).
    same = current is not None and current.plan_id == plan.id and current.source in ("admin", "user") \
        and current.current_period_end is not None and current.current_period_end > now
    if same and current is not None and current.current_period_end is not None:
        period_start, period_end, interval = current.current_period_start, current.current_period_end, current.interval
    else:
        period_start, period_end = now, now + PERIODS[interval]
    values = {"plan_id": plan.id, "source": source, "status": status, "interval": interval,
              "current_period_start": period_start, "current_period_end": period_end, "ends_at": ends_at,
              "cancel_at_period_end": False, "past_due_since": None, "updated_at": now}
    if current is None:
        current = PlanSubscription(user_id=user_id, created_at=now, **values)
        session.add(current)
    else:
        for name, value in values.items():
            setattr(current, name, value)
    await session.flush()
    entry = None
    if grant_credits:
        reference = f"period:{user_id}:{plan.id}:{period_start.isoformat()}"
        _, entry = await grant_period_credits(session, user_id=user_id, plan=plan, reference=reference,
                                              period_end=period_end, actor=actor)
    return current, entry, Invalidation(await bump_auth_counter(session), user_id=user_id)
