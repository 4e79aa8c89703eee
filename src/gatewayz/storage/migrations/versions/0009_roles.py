"""Roles and permissions: custom roles, the roles each user holds (accounts/tables.py), and the
audit records every role change writes (audit/tables.py). Users with `role = 'admin'` get the
built-in `admin` role (the `role` column keeps saying 'admin' for them).

The DDL is written out here, not imported: a migration is a snapshot of the schema at its revision.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from gatewayz.storage.types import BigIntPK, JSONType, UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("description", sa.String(500)),
        sa.Column("permissions", JSONType, nullable=False),
        sa.Column("inherits", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("role", sa.String(64), primary_key=True),
        sa.Column("granted_by", sa.BigInteger),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "audit_records",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("actor_type", sa.String(16), nullable=False),
        sa.Column("actor_user_id", sa.BigInteger),
        sa.Column("actor_key_id", sa.BigInteger),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(64), nullable=False),
        sa.Column("before", JSONType),
        sa.Column("after", JSONType),
        sa.Column("ip", sa.String(64)),
        sa.Column("user_agent", sa.String(512)),
        sa.Column("request_id", sa.String(64)),
    )
    op.create_index("ix_audit_records_created_at", "audit_records", ["created_at"])
    op.create_index("ix_audit_records_target", "audit_records", ["target_type", "target_id"])
    op.execute(
        "INSERT INTO user_roles (user_id, role, created_at)"
        " SELECT id, 'admin', created_at FROM users WHERE role = 'admin'"
    )


def downgrade() -> None:
    op.drop_index("ix_audit_records_target", table_name="audit_records")
    op.drop_index("ix_audit_records_created_at", table_name="audit_records")
    op.drop_table("audit_records")
    op.drop_table("user_roles")
    op.drop_table("roles")
