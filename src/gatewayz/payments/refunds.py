"""Refunds of purchases: through Stripe, and the refunded credits taken back through the ledger.

The policy (README, Payments): a refund takes back the credits it refunds, in proportion to the
money (a full refund takes everything the payment credited, coupon bonus included). Without
`force` a refund may only take credits the user still has available (bought and not yet spent);
with `force` Stripe refunds the money anyway and the ledger takes what is left, never below zero
(the rest is recorded as the refund's shortfall). Refunds made in Stripe's dashboard arrive as
`charge.refunded` and are always taken as far as the balance allows.

Ours are reserved first (`payments.refunded_cents` grows by a conditional UPDATE, so two at once
can never refund more than was paid), then asked of Stripe with an idempotency key, then completed
once (`pending` -> `succeeded`), by the API call or by the webhook, whichever comes first.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.audit.records import write_audit
from gatewayz.billing import ledger
from gatewayz.billing.money import usd
from gatewayz.errors import InvalidRequest, NotFound
from gatewayz.payments import hooks
from gatewayz.payments.config import cents_to_nanos
from gatewayz.payments.tables import Payment, PaymentRefund
from gatewayz.storage.types import utcnow

REFUND_METADATA = "gatewayz_refund_id"


def credits_for(payment: Payment, cents: int) -> int:
    """The credits `cents` of `payment` bought: in proportion, the last refund takes the exact rest."""
    total = payment.credits + payment.bonus_credits
    rest = total - payment.refunded_credits
    if payment.refunded_cents + cents >= payment.amount_cents:
        return rest
    share = (Decimal(total) * cents / payment.amount_cents).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return min(int(share), rest)


async def reserve(session: AsyncSession, *, payment_id: int, cents: int | None, force: bool, actor: str,
                  reason: str) -> PaymentRefund:
    """Check the policy and reserve a refund of `cents` (None: all that is left) of a payment."""
    # the payment row first (then the account's): concurrent refunds of one payment queue here
    await session.execute(update(Payment).where(Payment.id == payment_id).values(status=Payment.status))
    payment = await session.get(Payment, payment_id, populate_existing=True)
    if payment is None:
        raise NotFound(f"No payment {payment_id}.", param="payment_id")
    if payment.status not in ("succeeded", "refunded"):
        raise InvalidRequest(f"Payment {payment_id} is {payment.status}: only paid payments are refunded.",
                             param="payment_id", code="payment_not_paid")
    left = payment.amount_cents - payment.refunded_cents
    cents = left if cents is None else cents
    if left <= 0 or not 0 < cents <= left:
        raise InvalidRequest(f"At most {usd(cents_to_nanos(left))} USD of this payment can still be refunded.",
                             param="amount", code="refund_exceeds_payment")
    credits = credits_for(payment, cents)
    available = await ledger.lock_available(session, payment.user_id)
    if credits > available and not force:
        raise InvalidRequest(
            f"The user has spent some of these credits: {usd(available)} USD of them are left to take back "
            f"and this refund would take {usd(credits)}. Refund less, or set force to refund anyway.",
            param="amount", code="refund_exceeds_unspent")
    claimed = await session.execute(
        update(Payment).where(Payment.id == payment.id, Payment.refunded_cents + cents <= Payment.amount_cents)
        .values(refunded_cents=Payment.refunded_cents + cents, refunded_credits=Payment.refunded_credits + credits)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidRequest("Another refund of this payment came first; try again.", code="refund_conflict")
    # the credits are taken now, in the reservation's transaction (review F1: nothing spent or moved
    # while Stripe is asked escapes the refund); `release` gives them back if Stripe refuses
    take = min(credits, available)
    entry = await _take(session, payment.user_id, payment.id, take, actor, f"refund of "
                        f"{usd(cents_to_nanos(cents))} USD reserved" + (f": {reason}" if reason else ""))
    refund = PaymentRefund(payment_id=payment.id, user_id=payment.user_id, status="pending", amount_cents=cents,
                           credits=credits, credits_deducted=take, credit_transaction_id=entry, forced=force,
                           actor=actor, reason=reason, created_at=utcnow())
    session.add(refund)
    await session.flush()
    return refund


async def _take(session: AsyncSession, user_id: int, payment_id: int, amount: int, actor: str | None,
                reason: str) -> int | None:
    """A `refund` entry of -amount (purchased credit: the non-expiring balance goes first, review F10)."""
    if amount <= 0:
        return None
    return await ledger.adjust(session, user_id=user_id, amount=-amount, type_="refund", actor=actor or "stripe",
                               reference=f"payment:{payment_id}", reason=reason, spare_expiring=True)


async def release(session: AsyncSession, refund_id: int) -> None:
    """Stripe refused: the reservation is given back."""
    failed = await session.execute(update(PaymentRefund).where(
        PaymentRefund.id == refund_id, PaymentRefund.status == "pending").values(status="failed",
                                                                                  completed_at=utcnow()))
    if failed.rowcount != 1:  # type: ignore[attr-defined]
        return  # completed (by charge.refunded) or released already
    refund = await session.get(PaymentRefund, refund_id, populate_existing=True)
    assert refund is not None
    if refund.credits_deducted:
        await ledger.adjust(session, user_id=refund.user_id, amount=refund.credits_deducted, type_="refund",
                            actor=refund.actor or "stripe", reference=f"payment:{refund.payment_id}",
                            reason="Stripe refused the refund: its credits are given back")
        await session.execute(update(PaymentRefund).where(PaymentRefund.id == refund_id).values(credits_deducted=0))
    await session.execute(update(Payment).where(Payment.id == refund.payment_id).values(
        refunded_cents=Payment.refunded_cents - refund.amount_cents,
        refunded_credits=Payment.refunded_credits - refund.credits,
        status=case((Payment.status == "refunded", "succeeded"), else_=Payment.status)))


async def complete(session: AsyncSession, refund_id: int, stripe_refund_id: str | None, *,
                   payment_id: int | None = None) -> PaymentRefund | None:
    """Take the refund's credits back, once: None if it was already completed (or failed, or is not
    a refund of `payment_id`)."""
    match = [PaymentRefund.id == refund_id, PaymentRefund.status == "pending"]
    if payment_id is not None:
        match.append(PaymentRefund.payment_id == payment_id)
    done = await session.execute(
        update(PaymentRefund).where(*match)
        .values(status="succeeded", completed_at=utcnow(), stripe_refund_id=stripe_refund_id)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return None
    refund = await session.get(PaymentRefund, refund_id, populate_existing=True)
    assert refund is not None
    await session.execute(update(Payment).where(Payment.id == refund.payment_id).values(  # its lock, then the account's
        status=case((Payment.refunded_cents >= Payment.amount_cents, "refunded"), else_=Payment.status)))
    # what the reservation did not take already (a forced refund of spent credits: what has come since)
    more = min(refund.credits - refund.credits_deducted, await ledger.lock_available(session, refund.user_id))
    entry = await _take(session, refund.user_id, refund.payment_id, more, refund.actor,
                        f"Stripe refund of {usd(cents_to_nanos(refund.amount_cents))} USD" + (
                            f": {refund.reason}" if refund.reason else ""))
    take, entry = refund.credits_deducted + max(more, 0), refund.credit_transaction_id or entry
    await session.execute(update(PaymentRefund).where(PaymentRefund.id == refund_id).values(
        credits_deducted=take, credit_transaction_id=entry))
    await write_audit(session, None, actor_user_id=None, actor_key_id=None, action="payment.refunded",
                      target_type="payment", target_id=refund.payment_id, before=None,
                      after={"refund_id": refund.id, "amount_cents": refund.amount_cents, "credits": usd(take),
                             "shortfall": usd(refund.credits - take), "stripe_refund_id": stripe_refund_id})
    refund.credits_deducted, refund.credit_transaction_id = take, entry
    payment = await session.get(Payment, refund.payment_id, populate_existing=True)
    assert payment is not None
    await hooks.emit_refund(session, hooks.RefundCompleted(
        refund.user_id, payment.id, cents_to_nanos(max(0, payment.amount_cents - payment.refunded_cents))))
    return refund


async def record_external(session: AsyncSession, payment: Payment, cents: int, stripe_refund_id: str | None) -> None:
    """A refund made outside the gateway (Stripe's dashboard), seen in `charge.refunded`."""
    if stripe_refund_id is not None:
        seen = (await session.execute(select(PaymentRefund.id).where(
            PaymentRefund.stripe_refund_id == stripe_refund_id))).first()
        if seen is not None:
            return
    await session.execute(update(Payment).where(Payment.id == payment.id).values(status=Payment.status))  # lock
    await session.refresh(payment)
    cents = min(cents, payment.amount_cents - payment.refunded_cents)
    if cents <= 0:
        return
    credits = credits_for(payment, cents)
    await session.execute(update(Payment).where(Payment.id == payment.id).values(
        refunded_cents=Payment.refunded_cents + cents, refunded_credits=Payment.refunded_credits + credits))
    refund = PaymentRefund(payment_id=payment.id, user_id=payment.user_id, status="pending", amount_cents=cents,
                           credits=credits, credits_deducted=0, forced=True, actor="stripe",
                           reason="refunded in Stripe", created_at=utcnow())
    session.add(refund)
    await session.flush()
    await complete(session, refund.id, stripe_refund_id)


async def settle_pending(session: AsyncSession, payment: Payment, refunded_cents: int) -> None:
    """Stripe says `refunded_cents` of the payment are refunded in all: our pending refunds that fit
    in that total (beside those completed already) were made, though their answer never came."""
    rows = (await session.execute(select(PaymentRefund).where(PaymentRefund.payment_id == payment.id)
                                  .order_by(PaymentRefund.id))).scalars().all()
    settled = sum(r.amount_cents for r in rows if r.status == "succeeded")
    for row in rows:
        if row.status == "pending" and settled + row.amount_cents <= refunded_cents:
            if await complete(session, row.id, None, payment_id=payment.id) is not None:
                settled += row.amount_cents
