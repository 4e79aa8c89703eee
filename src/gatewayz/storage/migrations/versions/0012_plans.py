"""Plans, the plan each user is on, per-period credit grants, free trials and their quotas
(the built-in `free` and `trial` plans are inserted at start-up: plans/book.py).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from gatewayz.storage.types import BigIntPK, JSONType, UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("slug", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tier", sa.String(32), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("price_monthly", sa.BigInteger, nullable=False),
        sa.Column("price_yearly", sa.BigInteger),
        sa.Column("credits_per_period", sa.BigInteger, nullable=False),
        sa.Column("credits_expire", sa.Boolean, nullable=False),
        sa.Column("rate_limits", JSONType),
        sa.Column("allowed_models", JSONType),
        sa.Column("max_keys", sa.BigInteger),
        sa.Column("max_concurrent_requests", sa.BigInteger),
        sa.Column("features", JSONType),
        sa.Column("trial_eligible", sa.Boolean, nullable=False),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("stripe_price_monthly", sa.String(255)),
        sa.Column("stripe_price_yearly", sa.String(255)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "plan_subscriptions",
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("plan_id", sa.BigInteger, sa.ForeignKey("plans.id"), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("current_period_start", UTCDateTime, nullable=False),
        sa.Column("current_period_end", UTCDateTime),
        sa.Column("ends_at", UTCDateTime),
        sa.Column("cancel_at_period_end", sa.Boolean, nullable=False),
        sa.Column("past_due_since", UTCDateTime),
        sa.Column("stripe_customer_id", sa.String(255)),
        sa.Column("stripe_subscription_id", sa.String(255), unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_plan_subscriptions_plan", "plan_subscriptions", ["plan_id"])
    op.create_table(
        "plan_credit_grants",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("reference", sa.String(160), nullable=False, unique=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("plan_id", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("transaction_id", sa.BigInteger),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_plan_credit_grants_user", "plan_credit_grants", ["user_id"])
    op.create_table(
        "trials",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
        sa.Column("email_key", sa.String(320), nullable=False, unique=True),
        sa.Column("email_domain", sa.String(255), nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.Column("plan_id", sa.BigInteger, nullable=False),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("transaction_id", sa.BigInteger),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("ends_at", UTCDateTime, nullable=False),
        sa.Column("reminded_at", UTCDateTime),
        sa.Column("expired_at", UTCDateTime),
        sa.Column("converted_at", UTCDateTime),
        sa.Column("conversion", sa.String(32)),
    )
    op.create_index("ix_trials_status_ends", "trials", ["status", "ends_at"])
    op.create_table(
        "trial_quotas",
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("trial_quotas")
    op.drop_index("ix_trials_status_ends", table_name="trials")
    op.drop_table("trials")
    op.drop_index("ix_plan_credit_grants_user", table_name="plan_credit_grants")
    op.drop_table("plan_credit_grants")
    op.drop_index("ix_plan_subscriptions_plan", table_name="plan_subscriptions")
    op.drop_table("plan_subscriptions")
    op.drop_table("plans")
