"""`POST /api/stripe/refund` (admin: `payments.refund`): refund a payment through Stripe and take its
credits back through the ledger (the policy: payments/refunds.py and the README)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from gatewayz.accounts.dependencies import require_permission
from gatewayz.accounts.principal import Principal
from gatewayz.audit.records import audit_change
from gatewayz.billing.money import usd
from gatewayz.errors import InvalidRequest
from gatewayz.payments import refunds, webhooks
from gatewayz.payments.client import PaymentProviderError
from gatewayz.payments.config import cents_to_nanos
from gatewayz.payments.responses import errors
from gatewayz.payments.routes import stripe_api
from gatewayz.payments.schemas import RefundOut, RefundRequest
from gatewayz.payments.tables import Payment, PaymentRefund
from gatewayz.services import services

router = APIRouter(tags=["Admin", "Payments"])


def refund_out(row: PaymentRefund) -> RefundOut:
    return RefundOut(refund_id=row.id, payment_id=row.payment_id, stripe_refund_id=row.stripe_refund_id,
                     status=row.status, amount=usd(cents_to_nanos(row.amount_cents)), amount_cents=row.amount_cents,
                     credits_deducted=usd(row.credits_deducted),
                     credits_shortfall=usd(row.credits - row.credits_deducted), forced=row.forced)


@router.post("/api/stripe/refund", response_model=RefundOut, status_code=201, responses=errors(404, 502))
async def refund_payment(body: RefundRequest, request: Request,
                         admin: Principal = Depends(require_permission("payments.refund"))) -> RefundOut:
    """Refund all (no `amount`) or part of a paid payment. Without `force`, only while the user still has
    the credits it takes back; with it, the ledger takes what is left (never below zero)."""
    svc = services(request)
    api = stripe_api(svc)
    api.client  # noqa: B018 -- 404 before anything is written when Stripe is not configured
    cents = int(body.amount * 100) if body.amount is not None else None
    async with svc.db.transaction() as session:
        row = await refunds.reserve(session, payment_id=body.payment_id, cents=cents, force=body.force,
                                    actor=f"user:{admin.user_id}", reason=body.reason)
        payment = await session.get(Payment, row.payment_id)
        assert payment is not None
        if payment.payment_intent_id is None:
            raise InvalidRequest("Stripe never told the gateway this payment's PaymentIntent.", param="payment_id",
                                 code="payment_not_refundable")
        intent, user_id = payment.payment_intent_id, payment.user_id
        await audit_change(session, request, admin, "payments.refund", "payment", payment.id,
                           after={"refund_id": row.id, "amount_cents": row.amount_cents, "credits": usd(row.credits),
                                  "force": body.force, "reason": body.reason, "user_id": user_id})
    params = {"payment_intent": intent, "amount": row.amount_cents,
              "metadata": {refunds.REFUND_METADATA: str(row.id), "gatewayz_user_id": str(user_id)}}
    try:
        created = await api.create_refund(params, f"gatewayz-refund-{row.id}")
    except PaymentProviderError as exc:
        if exc.outcome_unknown:  # kept pending: Stripe's charge.refunded settles it either way
            raise PaymentProviderError(
                f"Stripe did not answer; refund {row.id} stays pending until Stripe's charge.refunded event "
                "says whether it was made (retrying the same refund is safe: it has an idempotency key).",
                code="refund_outcome_unknown") from exc
        async with svc.db.transaction() as session:
            await refunds.release(session, row.id)
        raise
    async with svc.db.transaction() as session:
        webhooks.bind(session, svc.settings, svc)  # refund listeners (referrals) read the settings
        await refunds.complete(session, row.id, created["id"])  # or the webhook did, with the same id
        final = await session.get(PaymentRefund, row.id, populate_existing=True)
        assert final is not None
    return refund_out(final)
