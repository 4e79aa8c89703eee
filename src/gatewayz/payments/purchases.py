"""Completing a purchase: the one place credits for a payment are granted, exactly once.

Stripe tells us a payment succeeded more than once (`checkout.session.completed` and
`payment_intent.succeeded` for one Checkout payment, and any event again on a retry). Each of them
calls `complete_payment`, whose conditional UPDATE (`status` pending -> succeeded) lets exactly one
of them through; the credits, their ledger rows, the audit record and the purchase listeners
(hooks.py) all commit in that one transaction.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.audit.records import write_audit
from gatewayz.billing import ledger
from gatewayz.billing.money import usd
from gatewayz.payments import hooks
from gatewayz.payments.config import cents_to_nanos
from gatewayz.payments.tables import Payment
from gatewayz.storage.types import utcnow

log = structlog.get_logger("gatewayz.payments")
COMPLETABLE = ("pending", "failed")  # a failed attempt may still be paid (another card, a retry)
PAYMENT_METADATA = "gatewayz_payment_id"


def payment_id_from(metadata: Any, key: str = PAYMENT_METADATA) -> int | None:
    """Our id (of a payment, or another `key`) from a Stripe object's metadata, set when we made the object."""
    if not isinstance(metadata, dict):
        return None
    value = metadata.get(key)
    if isinstance(value, str) and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


async def find_payment(session: AsyncSession, metadata: Any, **stripe_ids: str | None) -> Payment | None:
    """By our id in the metadata, else by the Stripe object's id (checkout_session_id / payment_intent_id)."""
    payment_id = payment_id_from(metadata)
    if payment_id is not None:
        return await session.get(Payment, payment_id)
    for column, value in stripe_ids.items():
        if value:
            query = select(Payment).where(getattr(Payment, column) == value)
            found = (await session.execute(query)).scalar_one_or_none()
            if found is not None:
                return found
    return None


async def complete_payment(
    session: AsyncSession,
    payment: Payment,
    *,
    amount_cents: int,
    currency: str,
    checkout_session_id: str | None = None,
    payment_intent_id: str | None = None,
) -> bool:
    """Credit `payment` if Stripe's figures match it and nobody credited it yet; True if this call did."""
    problem = _mismatch(payment, amount_cents, currency, checkout_session_id, payment_intent_id)
    if problem:
        log.warning("payment_mismatch", payment_id=payment.id, problem=problem)
        return False
    values: dict[str, Any] = {"status": "succeeded", "completed_at": utcnow()}
    if payment_intent_id and payment.payment_intent_id is None:
        values["payment_intent_id"] = payment_intent_id
    if checkout_session_id and payment.checkout_session_id is None:  # the create call's answer was lost
        values["checkout_session_id"] = checkout_session_id
    claimed = await session.execute(
        update(Payment).where(Payment.id == payment.id, Payment.status.in_(COMPLETABLE)).values(**values)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False  # another event (or a replay) credited it
    reference = f"payment:{payment.id}"
    entry = await ledger.adjust(session, user_id=payment.user_id, amount=payment.credits, type_="purchase",
                                reason=_describe(payment), actor="stripe", reference=reference)
    if payment.bonus_credits:
        await ledger.adjust(session, user_id=payment.user_id, amount=payment.bonus_credits, type_="coupon",
                            reason=f"coupon {payment.coupon_code} bonus", actor="stripe", reference=reference)
    await session.execute(update(Payment).where(Payment.id == payment.id).values(credit_transaction_id=entry))
    # counted with the account row locked (ledger.adjust): two payments of one user cannot both be "first"
    earlier = (await session.execute(select(func.count()).select_from(Payment).where(
        Payment.user_id == payment.user_id, Payment.status.in_(("succeeded", "refunded")),
        Payment.id != payment.id))).scalar_one()
    credited = payment.credits + payment.bonus_credits
    await write_audit(session, None, actor_user_id=None, actor_key_id=None, action="payment.succeeded",
                      target_type="payment", target_id=payment.id, before=None,
                      after={"user_id": payment.user_id, "amount_cents": payment.amount_cents,
                             "credits": usd(credited), "transaction_id": entry})
    await hooks.emit(session, hooks.PurchaseCompleted(
        user_id=payment.user_id, payment_id=payment.id, amount_nanos=cents_to_nanos(payment.amount_cents),
        first_purchase=int(earlier) == 0, credits_nanos=credited, amount_cents=payment.amount_cents,
        currency=payment.currency, kind="credits", coupon_code=payment.coupon_code,
    ))
    return True


def _mismatch(payment: Payment, amount_cents: int, currency: str, checkout_session_id: str | None,
              payment_intent_id: str | None) -> str | None:
    if checkout_session_id and payment.checkout_session_id not in (None, checkout_session_id):
        return "checkout session"
    if payment_intent_id and payment.payment_intent_id not in (None, payment_intent_id):
        return "payment intent"
    if amount_cents != payment.amount_cents or currency.lower() != payment.currency:
        return f"amount {amount_cents} {currency} != {payment.amount_cents} {payment.currency}"
    return None


def _describe(payment: Payment) -> str:
    what = f"package {payment.package}" if payment.package else "custom amount"
    return f"Stripe purchase ({what}, paid {usd(cents_to_nanos(payment.amount_cents))} USD)"
