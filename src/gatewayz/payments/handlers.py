"""The webhook handlers of credit purchases: Checkout sessions and payment intents."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.payments import refunds, webhooks
from gatewayz.payments.purchases import complete_payment, find_payment, payment_id_from
from gatewayz.payments.tables import Payment
from gatewayz.payments.webhooks import WebhookEvent

log = structlog.get_logger("gatewayz.payments")


def _id(value: Any) -> str | None:
    """A Stripe reference: an id string, or an expanded object with an id."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]  # type: ignore[no-any-return]
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


async def checkout_paid(session: AsyncSession, event: WebhookEvent) -> None:
    """`checkout.session.completed` (paid at once) and `checkout.session.async_payment_succeeded`."""
    obj = event.object
    if obj.get("mode", "payment") != "payment" or obj.get("payment_status") != "paid":
        return  # subscriptions are the plans' business; unpaid sessions are paid later (async_payment_*)
    session_id, amount = _id(obj.get("id")), _int(obj.get("amount_total"))
    payment = await find_payment(session, obj.get("metadata"), checkout_session_id=session_id)
    if payment is None or amount is None or not isinstance(obj.get("currency"), str):
        log.info("stripe_event_not_ours", event_id=event.id, type=event.type)
        return
    await complete_payment(session, payment, amount_cents=amount, currency=obj["currency"],
                           checkout_session_id=session_id, payment_intent_id=_id(obj.get("payment_intent")))


async def payment_intent_succeeded(session: AsyncSession, event: WebhookEvent) -> None:
    obj = event.object
    intent_id = _id(obj.get("id"))
    amount = _int(obj.get("amount_received", obj.get("amount")))
    payment = await find_payment(session, obj.get("metadata"), payment_intent_id=intent_id)
    if payment is None or amount is None or not isinstance(obj.get("currency"), str):
        log.info("stripe_event_not_ours", event_id=event.id, type=event.type)  # an invoice's, say
        return
    await complete_payment(session, payment, amount_cents=amount, currency=obj["currency"],
                           payment_intent_id=intent_id)


async def _mark(session: AsyncSession, event: WebhookEvent, status: str, **ids: str | None) -> Payment | None:
    """Move a pending payment to `status`; the payment if it moved."""
    payment = await find_payment(session, event.object.get("metadata"), **ids)
    if payment is None:
        return None
    moved = await session.execute(update(Payment).where(Payment.id == payment.id, Payment.status == "pending")
                                  .values(status=status))
    return payment if moved.rowcount == 1 else None  # type: ignore[attr-defined]


async def payment_intent_failed(session: AsyncSession, event: WebhookEvent) -> None:
    await _closed(session, await _mark(session, event, "failed", payment_intent_id=_id(event.object.get("id"))))


async def _closed(session: AsyncSession, payment: Payment | None) -> None:
    """The payment can no longer be paid: its coupon uses are given back."""
    if payment is not None:
        from gatewayz.promotions.checkout import release

        await release(session, payment.id)


async def checkout_expired(session: AsyncSession, event: WebhookEvent) -> None:
    await _closed(session, await _mark(session, event, "expired", checkout_session_id=_id(event.object.get("id"))))


async def payment_intent_canceled(session: AsyncSession, event: WebhookEvent) -> None:
    await _closed(session, await _mark(session, event, "canceled", payment_intent_id=_id(event.object.get("id"))))


async def charge_refunded(session: AsyncSession, event: WebhookEvent) -> None:
    """Our refunds complete here if Stripe's answer to the API call was lost; refunds made in Stripe's
    dashboard are taken from the credits as far as the balance allows. `amount_refunded` is the
    charge's running total, so a replayed or reordered event finds nothing more to take."""
    obj = event.object
    intent_id = _id(obj.get("payment_intent"))
    payment = await find_payment(session, obj.get("metadata"), payment_intent_id=intent_id)
    refunded, amount = _int(obj.get("amount_refunded")), _int(obj.get("amount"))
    if payment is None or refunded is None or amount is None or not isinstance(obj.get("currency"), str):
        log.info("stripe_event_not_ours", event_id=event.id, type=event.type)
        return
    if payment.status in ("pending", "failed") and obj.get("paid") is not False:  # the payment's own event is late
        await complete_payment(session, payment, amount_cents=amount, currency=obj["currency"],
                               payment_intent_id=intent_id)
        await session.refresh(payment)
    listed = obj.get("refunds", {}).get("data") if isinstance(obj.get("refunds"), dict) else None
    for item in listed if isinstance(listed, list) else []:
        ours = payment_id_from(item.get("metadata"), refunds.REFUND_METADATA) if isinstance(item, dict) else None
        if ours is not None and _id(item.get("id")) and item.get("status") in ("succeeded", "pending"):
            await refunds.complete(session, ours, _id(item.get("id")), payment_id=payment.id)
    await refunds.settle_pending(session, payment, refunded)  # ours whose answer was lost
    await session.refresh(payment)
    if payment.status in ("succeeded", "refunded") and refunded > payment.refunded_cents:
        await refunds.record_external(session, payment, refunded - payment.refunded_cents, None)


webhooks.register("checkout.session.completed", checkout_paid)
webhooks.register("checkout.session.async_payment_succeeded", checkout_paid)
webhooks.register("payment_intent.succeeded", payment_intent_succeeded)
webhooks.register("payment_intent.payment_failed", payment_intent_failed)
webhooks.register("checkout.session.expired", checkout_expired)
webhooks.register("payment_intent.canceled", payment_intent_canceled)
webhooks.register("charge.refunded", charge_refunded)
