"""Coupons on purchases: the price they make, a use reserved with the payment, and the use made
final (or given back) by what happens to the payment.

A percent coupon takes its share of the list price, then a fixed one its amount (never below zero);
a bonus coupon adds credits. What Stripe charges is the discounted price (payments/routes.py sends
it as the line item's unit amount or the intent's amount): the discount is a real price change.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.billing import ledger
from gatewayz.payments import hooks
from gatewayz.payments.quote import Applied, Quote
from gatewayz.promotions import coupons
from gatewayz.promotions.tables import Coupon, CouponRedemption
from gatewayz.settings import Settings
from gatewayz.storage.types import utcnow

ORDER = {"percent": 0, "fixed": 1, "bonus": 2}


def price(quote: Quote, found: Sequence[Coupon]) -> Quote:
    remaining = quote.list_cents
    applied = []
    for coupon in sorted(found, key=lambda c: ORDER[c.kind]):
        discount, bonus = 0, 0
        if coupon.kind == "percent":
            share = Decimal(quote.list_cents) * (coupon.percent_off_bps or 0) / 10_000
            discount = min(remaining, int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP)))
        elif coupon.kind == "fixed":
            discount = min(remaining, coupon.amount_off_cents or 0)
        else:
            bonus = coupon.credit_nanos or 0
        remaining -= discount
        applied.append(Applied(coupon.id, coupon.code, discount, bonus))
    return quote.with_coupons(tuple(applied))


async def apply_coupons(session: AsyncSession, settings: Settings, user_id: int, quote: Quote,
                        codes: Sequence[str], *, lock: bool = True) -> Quote:
    """`quote` with `codes` applied; a 400 saying why when one of them does not apply."""
    found = await coupons.lock(session, codes) if lock else await coupons.find(session, codes)
    for coupon in found:
        await coupons.check(session, settings, coupon, user_id, kinds=coupons.CHECKOUT_KINDS,
                            list_cents=quote.list_cents)
    coupons.check_stacking(found)
    return price(quote, found)


_PG_FIRST_PURCHASE_LOCK = 0x6677_0000_0000  # + user id: one first-purchase reservation at a time per user


async def _first_purchase_free(session: AsyncSession, user_id: int, coupon: Coupon) -> None:
    """A first-purchase coupon is reserved by one unpaid payment at a time (review P3: several opened
    at once would all be paid at the first-purchase price), and not once a purchase is paid."""
    if ledger.dialect_name(session) == "postgresql":  # SQLite: the coupon lock already serialises writes
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                              {"key": _PG_FIRST_PURCHASE_LOCK + user_id})
    if await coupons.has_paid(session, user_id):
        raise coupons.refuse(f"Coupon {coupon.code} is for a first purchase only.", "coupon_first_purchase_only")
    pending = (await session.execute(select(CouponRedemption.id).join(Coupon, Coupon.id == CouponRedemption.coupon_id)
                                     .where(CouponRedemption.user_id == user_id, CouponRedemption.status == "reserved",
                                            Coupon.first_time_only.is_(True)).limit(1))).first()
    if pending is not None:
        raise coupons.refuse(f"Coupon {coupon.code} is for a first purchase, and another first purchase with a "
                             "coupon is waiting to be paid (it lapses if it is not).", "coupon_first_purchase_pending")


async def reserve(session: AsyncSession, user_id: int, quote: Quote, payment_id: int) -> None:
    """Take a use of every coupon of the quote for this payment (after `apply_coupons`, same transaction)."""
    checked_first = False
    for part in quote.applied:
        coupon = await session.get(Coupon, part.coupon_id)
        assert coupon is not None
        if coupon.first_time_only and not checked_first:
            await _first_purchase_free(session, user_id, coupon)
            checked_first = True
        await coupons.claim(session, coupon, user_id)
        session.add(CouponRedemption(coupon_id=part.coupon_id, user_id=user_id, payment_id=payment_id,
                                     status="reserved", discount_cents=part.discount_cents,
                                     bonus_credits=part.bonus_credits, credits=0, amount_cents=quote.amount_cents,
                                     created_at=utcnow()))
    await session.flush()


async def release(session: AsyncSession, payment_id: int) -> None:
    """The payment will not be paid (its creation failed, its Checkout session expired): uses back."""
    rows = (await session.execute(select(CouponRedemption).where(
        CouponRedemption.payment_id == payment_id, CouponRedemption.status == "reserved"))).scalars().all()
    for row in rows:
        await session.execute(update(CouponRedemption).where(CouponRedemption.id == row.id)
                              .values(status="released", completed_at=utcnow()))
        await coupons.give_back(session, row.coupon_id)


async def on_purchase(session: AsyncSession, purchase: hooks.PurchaseCompleted) -> None:
    """The payment is paid: its coupon uses are final (a use given back meanwhile is taken again:
    the customer paid the discounted price)."""
    if purchase.kind != "credits" or not isinstance(purchase.payment_id, int):
        return
    rows = (await session.execute(select(CouponRedemption).where(
        CouponRedemption.payment_id == purchase.payment_id,
        CouponRedemption.status.in_(("reserved", "released"))))).scalars().all()
    for row in rows:
        if row.status == "released":
            await session.execute(update(Coupon).where(Coupon.id == row.coupon_id).values(uses=Coupon.uses + 1))
        await session.execute(update(CouponRedemption).where(CouponRedemption.id == row.id)
                              .values(status="redeemed", completed_at=utcnow(), amount_cents=purchase.amount_cents))


hooks.subscribe(on_purchase)
