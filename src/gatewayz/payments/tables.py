"""Payments through Stripe, their refunds, and the webhook events already processed.

Amounts paid are integer cents (Stripe's unit); credits are integer nano-dollars (the ledger's).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gatewayz.storage.types import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class StripeEvent(Base):
    """One row per Stripe event id processed, inserted in the transaction of the event's effects:
    a replay (or a parallel duplicate delivery) fails on the primary key and changes nothing."""

    __tablename__ = "stripe_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(128), nullable=False)
    object_id: Mapped[str | None] = mapped_column(String(255))
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Payment(Base):
    """A credit purchase: created `pending` with the Stripe object that collects it, credited once
    (`succeeded`, `credit_transaction_id`) when Stripe says it is paid, whichever event says so first."""

    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # checkout | payment_intent
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="usd")
    package: Mapped[str | None] = mapped_column(String(64))
    list_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)  # before any discount
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)  # what Stripe charges
    credits: Mapped[int] = mapped_column(BigInteger, nullable=False)  # nanos bought (list value)
    bonus_credits: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # nanos from a coupon
    coupon_id: Mapped[int | None] = mapped_column(BigInteger)
    coupon_code: Mapped[str | None] = mapped_column(String(64))
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    refunded_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    refunded_credits: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    credit_transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[dict[str, object] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PaymentRefund(Base):
    """A refund of (part of) a payment. Ours start `pending` before Stripe is asked (so two at once
    cannot refund more than was paid) and become `succeeded` once; refunds made in Stripe's dashboard
    arrive by `charge.refunded` and are recorded by their Stripe id, once."""

    __tablename__ = "payment_refunds"
    __table_args__ = (Index("ix_payment_refunds_payment", "payment_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    payment_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    credits: Mapped[int] = mapped_column(BigInteger, nullable=False)  # nanos the refund takes back
    credits_deducted: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    forced: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    actor: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    credit_transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
