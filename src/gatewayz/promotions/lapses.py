"""Coupon uses held by unpaid payments lapse (review P8): a payment with a reserved coupon use that is
still unpaid after GATEWAYZ_COUPON_RESERVATION_TTL_MINUTES is canceled in Stripe (the payment intent
canceled, the Checkout session expired), then marked canceled and its uses given back, in one
transaction guarded by the payment's `pending` status. Run by the billing job in every process.
A payment Stripe will not cancel (it was paid meanwhile) is left to its own event.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import select, update

from gatewayz.payments.client import PaymentProviderError, StripeApi
from gatewayz.payments.tables import Payment
from gatewayz.promotions.checkout import release
from gatewayz.promotions.tables import CouponRedemption
from gatewayz.settings import Settings
from gatewayz.storage.db import Database
from gatewayz.storage.types import utcnow

log = structlog.get_logger("gatewayz.promotions.lapses")
BATCH = 100


class CouponLapses:
    def __init__(self, db: Database, settings: Settings, stripe: StripeApi | None) -> None:
        self.db, self.settings, self.stripe = db, settings, stripe

    async def tick(self) -> int:
        """For the billing job's periodic work; logs what lapsed and returns 0."""
        if self.stripe is None or self.settings.stripe_secret_key is None:
            return 0
        cutoff = utcnow() - timedelta(minutes=self.settings.coupon_reservation_ttl_minutes)
        async with self.db.session() as session:
            due = (await session.execute(
                select(Payment.id, Payment.payment_intent_id, Payment.checkout_session_id).distinct()
                .join(CouponRedemption, CouponRedemption.payment_id == Payment.id)
                .where(CouponRedemption.status == "reserved", CouponRedemption.created_at < cutoff,
                       Payment.status == "pending").limit(BATCH))).all()
        lapsed = 0
        for payment_id, intent_id, session_id in due:
            try:
                if intent_id is not None:
                    await self.stripe.cancel_payment_intent(intent_id)
                elif session_id is not None:
                    await self.stripe.expire_checkout_session(session_id)
            except PaymentProviderError as exc:  # paid meanwhile, or Stripe is away: next time / its event
                log.info("coupon_reservation_not_lapsed", payment_id=payment_id, error=str(exc)[:200])
                continue
            async with self.db.transaction() as session:
                moved = await session.execute(update(Payment).where(Payment.id == payment_id,
                                                                    Payment.status == "pending")
                                              .values(status="canceled"))
                if moved.rowcount == 1:  # type: ignore[attr-defined]
                    await release(session, payment_id)
                    lapsed += 1
        if lapsed:
            log.info("coupon_reservations_lapsed", count=lapsed)
        return 0
