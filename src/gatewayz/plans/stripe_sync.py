"""A Stripe subscription, read into the user's plan row.

Stripe objects are read defensively (they come from outside): ids are strings, times integers.
Both the current API (periods on subscription items, an invoice's subscription under `parent`)
and the older one (periods on the subscription, `invoice.subscription`) are understood. Which
plan: the price id (plans.stripe_price_monthly / _yearly), else the metadata set at checkout.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.accounts.cache import bump_auth_counter
from gatewayz.accounts.service import Invalidation
from gatewayz.plans.service import lock_user
from gatewayz.plans.tables import Plan, PlanSubscription
from gatewayz.plans.trials import record_conversion
from gatewayz.storage.types import utcnow

log = structlog.get_logger("gatewayz.plans.stripe")
USER_KEY, PLAN_KEY, INTERVAL_KEY, TAG_KEY = "gatewayz_user_id", "gatewayz_plan_id", "gatewayz_interval", "gatewayz_tag"
APPLIES = {"active": "active", "trialing": "trialing", "past_due": "past_due", "unpaid": "past_due"}
ENDED = frozenset({"canceled", "incomplete_expired"})


def ref(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= 255:
        return value
    if isinstance(value, dict):
        return ref(value.get("id"))
    return None


def when(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**40:
        return datetime.fromtimestamp(value, UTC)
    return None


def owner_tag(secret: bytes, user_id: int) -> str:
    """Proof, in a subscription's metadata, that this gateway made it for this user: another gateway
    on the same Stripe account (staging and production, say) has another secret and a user of the
    same id, and must not take it for its own."""
    return hmac.new(secret, f"subscription-owner:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


def tagged_user(metadata: Any, secret: bytes) -> int | None:
    """The user id in our metadata, only when its tag is ours."""
    user_id = meta_int(metadata, USER_KEY)
    tag = metadata.get(TAG_KEY) if isinstance(metadata, dict) else None
    if user_id is None or not isinstance(tag, str) or not hmac.compare_digest(tag, owner_tag(secret, user_id)):
        return None
    return user_id


def meta_int(metadata: Any, key: str) -> int | None:
    value = metadata.get(key) if isinstance(metadata, dict) else None
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) <= 18 else None


def first_item(sub: dict[str, Any]) -> dict[str, Any]:
    items = sub.get("items")
    data = items.get("data") if isinstance(items, dict) else None
    return data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}


def price_of(item: dict[str, Any]) -> tuple[str | None, str | None]:
    """(price id, interval) of a subscription item or invoice line (`price`, or the legacy `plan`)."""
    for name in ("price", "plan"):
        price = item.get(name)
        if isinstance(price, dict):
            recurring = price.get("recurring") if isinstance(price.get("recurring"), dict) else price
            interval = recurring.get("interval") if isinstance(recurring, dict) else None
            return ref(price), interval if interval in ("month", "year") else None
        if isinstance(price, str):
            return ref(price), None
    pricing = item.get("pricing")  # newest invoice lines: pricing.price_details.price
    if isinstance(pricing, dict) and isinstance(pricing.get("price_details"), dict):
        return ref(pricing["price_details"].get("price")), None
    return None, None


def period_of(sub: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    item = first_item(sub)
    start = when(sub.get("current_period_start")) or when(item.get("current_period_start"))
    end = when(sub.get("current_period_end")) or when(item.get("current_period_end"))
    return start, end


async def plan_for(session: AsyncSession, price_id: str | None, metadata: Any) -> tuple[Plan | None, str | None]:
    """(plan, interval) by the price id, else by the metadata of our checkout."""
    if price_id is not None:
        plan = (await session.execute(select(Plan).where(or_(
            Plan.stripe_price_monthly == price_id, Plan.stripe_price_yearly == price_id)))).scalars().first()
        if plan is not None:
            return plan, "year" if plan.stripe_price_yearly == price_id else "month"
    plan_id = meta_int(metadata, PLAN_KEY)
    plan = await session.get(Plan, plan_id) if plan_id is not None else None
    interval = metadata.get(INTERVAL_KEY) if isinstance(metadata, dict) else None
    return plan, interval if interval in ("month", "year") else None


async def owner_of(session: AsyncSession, subscription_id: str, metadata: Any, secret: bytes) -> int | None:
    """The user of a Stripe subscription: our row for it, else the (tagged) metadata of our checkout."""
    row = (await session.execute(select(PlanSubscription.user_id).where(
        PlanSubscription.stripe_subscription_id == subscription_id))).first()
    if row is not None:
        return int(row[0])
    return tagged_user(metadata, secret)


async def apply_subscription(session: AsyncSession, sub: dict[str, Any], event_at: datetime | None,
                             secret: bytes) -> Invalidation | None:
    """Make the user's plan row say what the Stripe subscription says; None when nothing changed
    (not ours, an older event than the one applied, a subscription not paid for yet)."""
    sub_id = ref(sub.get("id"))
    if sub_id is None:
        return None
    metadata = sub.get("metadata")
    user_id = await owner_of(session, sub_id, metadata, secret)
    if user_id is None:
        log.info("stripe_subscription_not_ours", subscription=sub_id)
        return None
    await lock_user(session, user_id)
    row = await session.get(PlanSubscription, user_id, populate_existing=True)
    mine = row is not None and row.stripe_subscription_id == sub_id
    if mine and row is not None and event_at is not None and row.stripe_event_at is not None \
            and event_at < row.stripe_event_at:
        log.info("stripe_event_older_than_applied", subscription=sub_id)
        return None
    status = sub.get("status")
    if status in ENDED:
        if not mine:
            return None
        await session.execute(delete(PlanSubscription).where(PlanSubscription.user_id == user_id,
                                                             PlanSubscription.stripe_subscription_id == sub_id))
        return Invalidation(await bump_auth_counter(session), user_id=user_id)
    if status not in APPLIES:
        return None  # incomplete: the first payment has not gone through
    price_id, interval = price_of(first_item(sub))
    plan, meta_interval = await plan_for(session, price_id, metadata)
    if plan is None:
        log.warning("stripe_subscription_unknown_plan", subscription=sub_id, price=price_id)
        return None
    now = utcnow()
    start, end = period_of(sub)
    cancel = sub.get("cancel_at_period_end") is True
    values: dict[str, Any] = {
        "plan_id": plan.id, "source": "stripe", "status": APPLIES[status],
        "interval": interval or meta_interval or "month", "current_period_start": start or now,
        "current_period_end": end, "cancel_at_period_end": cancel,
        "ends_at": end if cancel else when(sub.get("cancel_at")),
        "stripe_customer_id": ref(sub.get("customer")), "stripe_subscription_id": sub_id,
        "stripe_event_at": event_at, "updated_at": now,
    }
    if APPLIES[status] == "past_due":
        values["past_due_since"] = (row.past_due_since if mine and row is not None else None) or now
    else:
        values["past_due_since"] = None
    if row is None:
        session.add(PlanSubscription(user_id=user_id, created_at=now, **values))
    else:
        for name, value in values.items():
            setattr(row, name, value)
    await session.flush()
    if APPLIES[status] == "active":
        await record_conversion(session, user_id, "subscription")
    return Invalidation(await bump_auth_counter(session), user_id=user_id)
