"""Coupons, their redemptions, referral codes and referrals. Money: cents for prices, nanos for credits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gatewayz.storage.types import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class Coupon(Base):
    """`kind`: percent (off the price), fixed (cents off), bonus (credits added to a purchase),
    credit (credits given by POST /coupons/redeem). `uses` counts reserved and redeemed uses; it
    only grows by a conditional UPDATE, so the last use cannot be taken twice."""

    __tablename__ = "coupons"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)  # upper case
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    percent_off_bps: Mapped[int | None] = mapped_column(BigInteger)  # 1 = 0.01 %
    amount_off_cents: Mapped[int | None] = mapped_column(BigInteger)
    credit_nanos: Mapped[int | None] = mapped_column(BigInteger)
    max_uses: Mapped[int | None] = mapped_column(BigInteger)
    max_uses_per_user: Mapped[int | None] = mapped_column(BigInteger)
    uses: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    first_time_only: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    allowed_user_ids: Mapped[list[int] | None] = mapped_column(JSONType)
    allowed_emails: Mapped[list[str] | None] = mapped_column(JSONType)  # addresses, or "@domain"
    allowed_plans: Mapped[list[str] | None] = mapped_column(JSONType)  # plan slugs
    min_purchase_cents: Mapped[int | None] = mapped_column(BigInteger)
    stackable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    stacks_with: Mapped[list[str] | None] = mapped_column(JSONType)  # kinds; None: any stackable coupon
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class CouponRedemption(Base):
    """One use of a coupon: `reserved` by a checkout (then `redeemed` when paid, or `released`
    when the checkout expires or fails), or `redeemed` at once by POST /coupons/redeem."""

    __tablename__ = "coupon_redemptions"
    __table_args__ = (
        Index("ix_coupon_redemptions_coupon_user", "coupon_id", "user_id"),
        Index("ix_coupon_redemptions_payment", "payment_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    coupon_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    payment_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    discount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    bonus_credits: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    credits: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # a credit coupon's grant
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # the purchase's price paid
    credit_transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReferralCode(Base):
    __tablename__ = "referral_codes"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    visits: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # /r/{code} followed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Referral(Base):
    """`referred_id` is unique: one referrer per user. `signed_up` -> `converted` once, by a
    conditional UPDATE in the transaction of the qualifying purchase that pays both rewards."""

    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_referrer", "referrer_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    referrer_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    referred_id: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="signed_up")
    payment_id: Mapped[str | None] = mapped_column(String(64))
    referrer_reward: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    referred_reward: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    converted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
