"""Reading and writing payment rows (the API's views of them included)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.billing.money import usd
from gatewayz.payments.config import cents_to_nanos
from gatewayz.payments.quote import Quote
from gatewayz.payments.schemas import PaymentOut, PurchaseOut
from gatewayz.payments.tables import Payment
from gatewayz.storage.types import utcnow


async def create_payment(session: AsyncSession, user_id: int, kind: str, quote: Quote) -> Payment:
    payment = Payment(user_id=user_id, kind=kind, status="pending", currency="usd", package=quote.package,
                      list_cents=quote.list_cents, amount_cents=quote.amount_cents, credits=quote.credits,
                      bonus_credits=quote.bonus_credits, coupon_id=quote.coupon_id, coupon_code=quote.coupon_code,
                      refunded_cents=0, refunded_credits=0, created_at=utcnow())
    session.add(payment)
    await session.flush()
    return payment


async def attach(session: AsyncSession, payment_id: int, **values: Any) -> None:
    """Record the Stripe object(s) a payment was created with (or, `status="failed"`, that creating failed)."""
    await session.execute(update(Payment).where(Payment.id == payment_id).values(**values))


async def list_payments(session: AsyncSession, user_id: int, *, limit: int, before_id: int | None,
                        status: str | None) -> tuple[list[Payment], bool]:
    query = select(Payment).where(Payment.user_id == user_id)
    if before_id is not None:
        query = query.where(Payment.id < before_id)
    if status is not None:
        query = query.where(Payment.status == status)
    rows = list((await session.execute(query.order_by(Payment.id.desc()).limit(limit + 1))).scalars().all())
    return rows[:limit], len(rows) > limit


def payment_out(p: Payment) -> PaymentOut:
    return PaymentOut(
        id=p.id, kind=p.kind, status=p.status, package=p.package, currency=p.currency,
        amount=usd(cents_to_nanos(p.amount_cents)), amount_cents=p.amount_cents,
        discount=usd(cents_to_nanos(p.list_cents - p.amount_cents)), credits=usd(p.credits),
        bonus_credits=usd(p.bonus_credits), coupon_code=p.coupon_code, refunded_cents=p.refunded_cents,
        refunded_credits=usd(p.refunded_credits), checkout_session_id=p.checkout_session_id,
        payment_intent_id=p.payment_intent_id, created_at=p.created_at, completed_at=p.completed_at,
    )


def purchase_out(payment: Payment, quote: Quote, **stripe: Any) -> PurchaseOut:
    return PurchaseOut(
        payment_id=payment.id, status=payment.status, list_price=usd(cents_to_nanos(quote.list_cents)),
        amount=usd(cents_to_nanos(quote.amount_cents)), amount_cents=quote.amount_cents,
        discount=usd(cents_to_nanos(quote.discount_cents)), credits=usd(quote.credits),
        bonus_credits=usd(quote.bonus_credits), coupon_code=quote.coupon_code, **stripe,
    )
