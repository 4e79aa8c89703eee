"""Promotions: coupons and their redemptions, referral codes and referrals (promotions/tables.py).

The DDL is written out here, not imported: a migration is a snapshot of the schema at its revision.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from gatewayz.storage.types import BigIntPK, JSONType, UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coupons",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("percent_off_bps", sa.BigInteger),
        sa.Column("amount_off_cents", sa.BigInteger),
        sa.Column("credit_nanos", sa.BigInteger),
        sa.Column("max_uses", sa.BigInteger),
        sa.Column("max_uses_per_user", sa.BigInteger),
        sa.Column("uses", sa.BigInteger, nullable=False),
        sa.Column("first_time_only", sa.Boolean, nullable=False),
        sa.Column("valid_from", UTCDateTime),
        sa.Column("valid_until", UTCDateTime),
        sa.Column("allowed_user_ids", JSONType),
        sa.Column("allowed_emails", JSONType),
        sa.Column("allowed_plans", JSONType),
        sa.Column("min_purchase_cents", sa.BigInteger),
        sa.Column("stackable", sa.Boolean, nullable=False),
        sa.Column("stacks_with", JSONType),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.BigInteger),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "coupon_redemptions",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("coupon_id", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("payment_id", sa.BigInteger),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("discount_cents", sa.BigInteger, nullable=False),
        sa.Column("bonus_credits", sa.BigInteger, nullable=False),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("credit_transaction_id", sa.BigInteger),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("completed_at", UTCDateTime),
    )
    op.create_index("ix_coupon_redemptions_coupon_user", "coupon_redemptions", ["coupon_id", "user_id"])
    op.create_index("ix_coupon_redemptions_payment", "coupon_redemptions", ["payment_id"])
    op.create_table(
        "referral_codes",
        sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("visits", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "referrals",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("referrer_id", sa.BigInteger, nullable=False),
        sa.Column("referred_id", sa.BigInteger, nullable=False, unique=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payment_id", sa.String(64)),
        sa.Column("referrer_reward", sa.BigInteger, nullable=False),
        sa.Column("referred_reward", sa.BigInteger, nullable=False),
        sa.Column("details", JSONType),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("converted_at", UTCDateTime),
    )
    op.create_index("ix_referrals_referrer", "referrals", ["referrer_id", "created_at"])


def downgrade() -> None:
    for table in ("referrals", "referral_codes", "coupon_redemptions", "coupons"):
        op.drop_table(table)
