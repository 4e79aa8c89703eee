"""Billing: credit accounts, ledger, holds, key spend, grants, usage records, idempotency, events.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from gatewayz.storage.types import BigIntPK, JSONType, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("max_budget", sa.BigInteger))
        batch.add_column(sa.Column("budget_period", sa.String(16)))
    op.create_table(
        "credit_accounts",
        sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column("held", sa.BigInteger, nullable=False),
        sa.Column("expiring", sa.BigInteger, nullable=False),
        sa.Column("low_balance_threshold", sa.BigInteger),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "credit_transactions",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("balance_before", sa.BigInteger, nullable=False),
        sa.Column("balance_after", sa.BigInteger, nullable=False),
        sa.Column("reference", sa.String(128)),
        sa.Column("actor", sa.String(128)),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_credit_transactions_user_created", "credit_transactions", ["user_id", "created_at"])
    op.create_index("ix_credit_transactions_reference", "credit_transactions", ["reference"])
    op.create_table(
        "credit_holds",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("key_id", sa.BigInteger),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("key_period_start", UTCDateTime),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_credit_holds_status_expires", "credit_holds", ["status", "expires_at"])
    op.create_table(
        "key_spend",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("key_id", sa.BigInteger, nullable=False),
        sa.Column("period_start", UTCDateTime, nullable=False),
        sa.Column("spent", sa.BigInteger, nullable=False),
        sa.Column("held", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("key_id", "period_start", name="uq_key_spend_period"),
    )
    op.create_table(
        "credit_grants",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("expired", sa.Boolean, nullable=False),
        sa.Column("transaction_id", sa.BigInteger),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_credit_grants_pending", "credit_grants", ["expired", "expires_at"])
    op.create_table(
        "usage_records",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(128), nullable=False, unique=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("key_id", sa.BigInteger, nullable=False),
        sa.Column("endpoint", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(64)),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("upstream_model", sa.String(256)),
        sa.Column("prompt_tokens", sa.BigInteger, nullable=False),
        sa.Column("completion_tokens", sa.BigInteger, nullable=False),
        sa.Column("cached_tokens", sa.BigInteger, nullable=False),
        sa.Column("cost", sa.BigInteger, nullable=False),
        sa.Column("uncollected", sa.BigInteger, nullable=False),
        sa.Column("estimated", sa.Boolean, nullable=False),
        sa.Column("stream", sa.Boolean, nullable=False),
        sa.Column("status", sa.BigInteger, nullable=False),
        sa.Column("latency_ms", sa.BigInteger),
        sa.Column("ttft_ms", sa.BigInteger),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_usage_records_user_created", "usage_records", ["user_id", "created_at"])
    op.create_index("ix_usage_records_key_created", "usage_records", ["key_id", "created_at"])
    op.create_table(
        "idempotency_records",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("status_code", sa.BigInteger),
        sa.Column("content_type", sa.String(128)),
        sa.Column("headers", JSONType),
        sa.Column("body", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("user_id", "key", name="uq_idempotency_user_key"),
    )
    op.create_table(
        "billing_events",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("data", JSONType),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("notified_at", UTCDateTime),
    )
    op.create_index("ix_billing_events_user_created", "billing_events", ["user_id", "created_at"])


def downgrade() -> None:
    for table in ("billing_events", "idempotency_records", "usage_records", "credit_grants", "key_spend",
                  "credit_holds", "credit_transactions", "credit_accounts"):
        op.drop_table(table)
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("budget_period")
        batch.drop_column("max_budget")
