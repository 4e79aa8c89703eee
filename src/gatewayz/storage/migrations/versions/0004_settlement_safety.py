"""Settlement safety: the gateway's own request ids (the caller's kept apart), pending settlements,
expired credit that was held at expiry, idempotency keyed by key environment.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from gatewayz.storage.types import BigIntPK, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("client_request_id", sa.String(128)))
    with op.batch_alter_table("credit_accounts") as batch:
        batch.add_column(sa.Column("expired_pending", sa.BigInteger, nullable=False, server_default="0"))
    with op.batch_alter_table("idempotency_records") as batch:
        batch.add_column(sa.Column("environment", sa.String(16), nullable=False, server_default="live"))
        batch.drop_constraint("uq_idempotency_user_key", type_="unique")
        batch.create_unique_constraint("uq_idempotency_user_env_key", ["user_id", "environment", "key"])
    op.create_table(
        "pending_settlements",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(128), nullable=False, unique=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("attempts", sa.BigInteger, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pending_settlements")
    with op.batch_alter_table("idempotency_records") as batch:
        batch.drop_constraint("uq_idempotency_user_env_key", type_="unique")
        batch.create_unique_constraint("uq_idempotency_user_key", ["user_id", "key"])
        batch.drop_column("environment")
    with op.batch_alter_table("credit_accounts") as batch:
        batch.drop_column("expired_pending")
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("client_request_id")
