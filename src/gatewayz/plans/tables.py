"""Plans, the plan each user is on, the credits granted per period, and free trials.

Money columns are integer nano-dollars. A user with no `plan_subscriptions` row is on the default
plan (settings `default_plan`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gatewayz.storage.types import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class Plan(Base):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    tier: Mapped[str] = mapped_column(String(32), nullable=False)  # free | pro | enterprise | custom
    description: Mapped[str | None] = mapped_column(Text)
    price_monthly: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    price_yearly: Mapped[int | None] = mapped_column(BigInteger)
    credits_per_period: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    credits_expire: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    rate_limits: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # limits/config.py's shape
    allowed_models: Mapped[list[str] | None] = mapped_column(JSONType)  # None: every model
    max_keys: Mapped[int | None] = mapped_column(BigInteger)
    max_concurrent_requests: Mapped[int | None] = mapped_column(BigInteger)
    features: Mapped[list[str] | None] = mapped_column(JSONType)  # None: every feature
    trial_eligible: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    visibility: Mapped[str] = mapped_column(String(16), nullable=False, default="public")  # public | custom
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    stripe_price_monthly: Mapped[str | None] = mapped_column(String(255))
    stripe_price_yearly: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class PlanSubscription(Base):
    """The plan a user is on now (one row per user), however it came: an admin, Stripe, a trial.
    `ends_at` set: the plan stops applying then (a trial's end, a cancellation at period end)."""

    __tablename__ = "plan_subscriptions"
    __table_args__ = (Index("ix_plan_subscriptions_plan", "plan_id"),)

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    plan_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("plans.id"), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # admin | user | stripe | trial
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # active | trialing | past_due
    interval: Mapped[str] = mapped_column(String(8), nullable=False, default="month")  # month | year
    current_period_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    past_due_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last Stripe event applied
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class PlanCreditGrant(Base):
    """The credits of one plan period, granted once: `reference` is unique (a Stripe invoice id,
    or the subscription's period start for an admin-assigned plan) and is inserted in the same
    transaction as the ledger entry."""

    __tablename__ = "plan_credit_grants"
    __table_args__ = (Index("ix_plan_credit_grants_user", "user_id"),
                      Index("ix_plan_credit_grants_invoice", "stripe_invoice_id"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(160), nullable=False, unique=True)
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    plan_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    paid_cents: Mapped[int | None] = mapped_column(BigInteger)  # what the period's invoice charged
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(255))  # that invoice (refunds find it)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Trial(Base):
    """One free trial per user and per normalised email address (`email_key`, unique)."""

    __tablename__ = "trials"
    __table_args__ = (Index("ix_trials_status_ends", "status", "ends_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                                         unique=True)
    email_key: Mapped[str] = mapped_column(String(320), nullable=False, unique=True)
    email_domain: Mapped[str] = mapped_column(String(255), nullable=False)
    ip: Mapped[str | None] = mapped_column(String(64))
    plan_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    credits: Mapped[int] = mapped_column(BigInteger, nullable=False)
    transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # active | expired | converted
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    converted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    conversion: Mapped[str | None] = mapped_column(String(32))  # payment | subscription | plan


class TrialQuota(Base):
    """Trials started per IP (or email domain) per day: a conditional increment below the limit,
    so two trials started at once cannot both take the last place."""

    __tablename__ = "trial_quotas"

    key: Mapped[str] = mapped_column(String(320), primary_key=True)  # ip:<addr>:<day> | domain:<d>:<day>
    count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    day: Mapped[str] = mapped_column(String(10), nullable=False)
