"""Payments through Stripe: purchases, their refunds, and the webhook events processed (payments/tables.py).

The DDL is written out here, not imported: a migration is a snapshot of the schema at its revision.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from gatewayz.storage.types import BigIntPK, JSONType, UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stripe_events",
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("object_id", sa.String(255)),
        sa.Column("stripe_created", UTCDateTime),
        sa.Column("received_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "payments",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("package", sa.String(64)),
        sa.Column("list_cents", sa.BigInteger, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("bonus_credits", sa.BigInteger, nullable=False),
        sa.Column("coupon_id", sa.BigInteger),
        sa.Column("coupon_code", sa.String(64)),
        sa.Column("checkout_session_id", sa.String(255), unique=True),
        sa.Column("payment_intent_id", sa.String(255), unique=True),
        sa.Column("refunded_cents", sa.BigInteger, nullable=False),
        sa.Column("refunded_credits", sa.BigInteger, nullable=False),
        sa.Column("credit_transaction_id", sa.BigInteger),
        sa.Column("details", JSONType),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("completed_at", UTCDateTime),
    )
    op.create_index("ix_payments_user_created", "payments", ["user_id", "created_at"])
    op.create_table(
        "payment_refunds",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("payment_id", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("stripe_refund_id", sa.String(255), unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("credits_deducted", sa.BigInteger, nullable=False),
        sa.Column("forced", sa.Boolean, nullable=False),
        sa.Column("actor", sa.String(128)),
        sa.Column("reason", sa.Text),
        sa.Column("credit_transaction_id", sa.BigInteger),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("completed_at", UTCDateTime),
    )
    op.create_index("ix_payment_refunds_payment", "payment_refunds", ["payment_id"])


def downgrade() -> None:
    for table in ("payment_refunds", "payments", "stripe_events"):
        op.drop_table(table)
