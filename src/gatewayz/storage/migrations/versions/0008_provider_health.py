"""Live provider health: per-process, per-minute attempt counts and histograms (providers/tables.py);
an index on usage_records.created_at for the rankings over a period (catalog/rankings.py).

The DDL is written out here, not imported: a migration is a snapshot of the schema at its revision.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from gatewayz.storage.types import BigIntPK, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_health",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("minute", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.BigInteger, nullable=False),
        sa.Column("failures", sa.BigInteger, nullable=False),
        sa.Column("bins", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("source", "provider", "model", "minute", name="uq_provider_health_minute"),
    )
    op.create_index("ix_provider_health_minute", "provider_health", ["minute"])
    op.create_index("ix_usage_records_created", "usage_records", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_usage_records_created", table_name="usage_records")
    op.drop_index("ix_provider_health_minute", table_name="provider_health")
    op.drop_table("provider_health")
