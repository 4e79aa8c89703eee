"""Foundation: users, API keys, security events, change counters.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from gatewayz.storage.types import BigIntPK, JSONType, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.String(200)),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("is_active", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("scopes", JSONType, nullable=False),
        sa.Column("ip_allowlist", JSONType),
        sa.Column("allowed_referers", JSONType),
        sa.Column("allowed_models", JSONType),
        sa.Column("expires_at", UTCDateTime),
        sa.Column("max_requests", sa.BigInteger),
        sa.Column("request_count", sa.BigInteger, nullable=False),
        sa.Column("metadata", JSONType),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("last_used_at", UTCDateTime),
        sa.Column("revoked_at", UTCDateTime),
        sa.Column("rotated_at", UTCDateTime),
        sa.Column("previous_key_hash", sa.String(64), unique=True),
        sa.Column("previous_key_expires_at", UTCDateTime),
    )
    op.create_index("ix_api_keys_user_id", "api_keys", ["user_id"])
    op.create_table(
        "security_events",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("status", sa.BigInteger, nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.Column("key_prefix", sa.String(32)),
        sa.Column("key_id", sa.BigInteger),
        sa.Column("user_id", sa.BigInteger),
        sa.Column("method", sa.String(16)),
        sa.Column("path", sa.String(512)),
        sa.Column("user_agent", sa.String(512)),
    )
    op.create_index("ix_security_events_created_at", "security_events", ["created_at"])
    counters = op.create_table(
        "change_counters",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(counters, [{"name": "auth", "version": 0}])


def downgrade() -> None:
    op.drop_table("change_counters")
    op.drop_index("ix_security_events_created_at", "security_events")
    op.drop_table("security_events")
    op.drop_index("ix_api_keys_user_id", "api_keys")
    op.drop_table("api_keys")
    op.drop_table("users")
