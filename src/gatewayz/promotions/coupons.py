"""Coupon rules: whether a coupon applies to a user (and a purchase), and taking a use of it.

`check` says why a coupon does not apply (a 400 whose `code` names the rule); `claim` takes one
use with a conditional UPDATE (`uses < max_uses`), so of several requests racing for the last use
exactly one gets it, then re-counts the user's own uses with the coupon's row locked. Callers lock
the coupons first (`lock`): on SQLite the transaction then starts with a write, as the ledger's do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.accounts.tables import User
from gatewayz.billing.money import usd
from gatewayz.errors import InvalidRequest
from gatewayz.payments.config import cents_to_nanos
from gatewayz.payments.tables import Payment
from gatewayz.promotions.tables import Coupon, CouponRedemption
from gatewayz.settings import Settings
from gatewayz.storage.types import utcnow

CHECKOUT_KINDS = ("percent", "fixed", "bonus")
LIVE = ("reserved", "redeemed")  # redemption states that count as a use


def refuse(message: str, code: str) -> InvalidRequest:
    return InvalidRequest(message, param="coupon_code", code=code)


async def lock(session: AsyncSession, codes: Sequence[str]) -> list[Coupon]:
    """The coupons named by `codes` (in that order), their rows locked for this transaction; 400 when
    one does not exist (disabled ones are refused by `check`)."""
    await session.execute(update(Coupon).where(Coupon.code.in_(codes)).values(uses=Coupon.uses))
    found = await find(session, codes)
    for coupon in found:
        await session.refresh(coupon)  # as locked, not as an earlier read of this session saw it
    return found


async def find(session: AsyncSession, codes: Sequence[str]) -> list[Coupon]:
    """As `lock`, without locking (to say what coupons would do)."""
    found = {c.code: c for c in (await session.execute(select(Coupon).where(Coupon.code.in_(codes)))).scalars()}
    missing = [code for code in codes if code not in found]
    if missing:
        raise refuse(f"No coupon {missing[0]!r}.", "coupon_not_found")
    if len(set(codes)) != len(codes):
        raise refuse("The same coupon twice.", "coupon_repeated")
    return [found[code] for code in codes]


async def user_uses(session: AsyncSession, coupon_id: int, user_id: int) -> int:
    return int((await session.execute(select(func.count()).select_from(CouponRedemption).where(
        CouponRedemption.coupon_id == coupon_id, CouponRedemption.user_id == user_id,
        CouponRedemption.status.in_(LIVE)))).scalar_one())


async def has_paid(session: AsyncSession, user_id: int) -> bool:
    return (await session.execute(select(Payment.id).where(
        Payment.user_id == user_id, Payment.status.in_(("succeeded", "refunded"))).limit(1))).first() is not None


async def _plan_slug(session: AsyncSession, settings: Settings, user_id: int) -> str:
    from gatewayz.plans.book import current_assignment
    from gatewayz.plans.service import get_plan

    plan_id, _ = await current_assignment(session, user_id)
    return settings.default_plan if plan_id is None else (await get_plan(session, plan_id)).slug


def _email_allowed(patterns: list[str], email: str) -> bool:
    email = email.lower()
    return any(email == p.lower() or (p.startswith("@") and email.endswith(p.lower())) for p in patterns)


async def check(session: AsyncSession, settings: Settings, coupon: Coupon, user_id: int, *,
                kinds: Sequence[str], list_cents: int | None, now: datetime | None = None) -> None:
    """Raise a 400 saying why `coupon` cannot be used by `user_id` here (`kinds`: what this use takes)."""
    now = now or utcnow()
    code = coupon.code
    if coupon.disabled:
        raise refuse(f"Coupon {code} is disabled.", "coupon_disabled")
    if coupon.created_by is not None and coupon.created_by == user_id:
        raise refuse(f"Coupon {code} was made by this account: its maker does not use it.", "coupon_own")
    if coupon.kind not in kinds:
        where = "at checkout" if coupon.kind == "credit" else "with POST /coupons/redeem"
        raise refuse(f"Coupon {code} is a {coupon.kind} coupon: it is not used {where}.", "coupon_wrong_kind")
    if coupon.valid_from is not None and now < coupon.valid_from:
        raise refuse(f"Coupon {code} is valid from {coupon.valid_from.isoformat()}.", "coupon_not_started")
    if coupon.valid_until is not None and now >= coupon.valid_until:
        raise refuse(f"Coupon {code} expired at {coupon.valid_until.isoformat()}.", "coupon_expired")
    if coupon.max_uses is not None and coupon.uses >= coupon.max_uses:
        raise refuse(f"Coupon {code} has been used up.", "coupon_used_up")
    if coupon.max_uses_per_user is not None and await user_uses(session, coupon.id, user_id) >= \
            coupon.max_uses_per_user:
        raise refuse(f"You have already used coupon {code} as often as it allows.", "coupon_already_used")
    if coupon.allowed_user_ids is not None and user_id not in coupon.allowed_user_ids:
        raise refuse(f"Coupon {code} is not for this account.", "coupon_not_eligible")
    if coupon.allowed_emails is not None:
        email = (await session.execute(select(User.email).where(User.id == user_id))).scalar_one_or_none() or ""
        if not _email_allowed(coupon.allowed_emails, email):
            raise refuse(f"Coupon {code} is not for this account's email address.", "coupon_not_eligible")
    if coupon.allowed_plans is not None and await _plan_slug(session, settings, user_id) not in coupon.allowed_plans:
        raise refuse(f"Coupon {code} is for the plans {', '.join(coupon.allowed_plans)} only.", "coupon_not_eligible")
    if coupon.first_time_only and await has_paid(session, user_id):
        raise refuse(f"Coupon {code} is for a first purchase only.", "coupon_first_purchase_only")
    if coupon.min_purchase_cents is not None and list_cents is not None and list_cents < coupon.min_purchase_cents:
        raise refuse(f"Coupon {code} needs a purchase of at least {usd(cents_to_nanos(coupon.min_purchase_cents))} "
                     "USD.", "coupon_min_purchase")


def check_stacking(coupons: Sequence[Coupon]) -> None:
    if len(coupons) < 2:
        return
    for coupon in coupons:
        if not coupon.stackable:
            raise refuse(f"Coupon {coupon.code} cannot be combined with other coupons.", "coupon_not_stackable")
        others = {c.kind for c in coupons if c is not coupon}
        if coupon.stacks_with is not None and not others <= set(coupon.stacks_with):
            raise refuse(f"Coupon {coupon.code} combines only with {', '.join(coupon.stacks_with) or 'nothing'}.",
                         "coupon_not_stackable")


async def claim(session: AsyncSession, coupon: Coupon, user_id: int) -> None:
    """Take one use (call after `check`, with the coupon locked): exactly one request gets the last."""
    taken = await session.execute(
        update(Coupon).where(Coupon.id == coupon.id, Coupon.disabled.is_(False),
                             or_(Coupon.max_uses.is_(None), Coupon.uses < Coupon.max_uses))
        .values(uses=Coupon.uses + 1))
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise refuse(f"Coupon {coupon.code} has been used up.", "coupon_used_up")
    if coupon.max_uses_per_user is not None and await user_uses(session, coupon.id, user_id) >= \
            coupon.max_uses_per_user:
        raise refuse(f"You have already used coupon {coupon.code} as often as it allows.", "coupon_already_used")


async def give_back(session: AsyncSession, coupon_id: int) -> None:
    await session.execute(update(Coupon).where(Coupon.id == coupon_id, Coupon.uses > 0)
                          .values(uses=Coupon.uses - 1))
