"""Sign-in: identities at providers, passwords, reset tokens, TOTP factors, recovery codes and
dashboard sessions (signin/tables.py), all in tables of their own (`users` is unchanged).

The DDL is written out here, not imported: a migration is a snapshot of the schema at its revision.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from gatewayz.storage.types import BigIntPK, UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _user_id(primary_key: bool = False) -> sa.Column:
    return sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"),
                     nullable=False, primary_key=primary_key)


def upgrade() -> None:
    op.create_table(
        "signin_identities",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        _user_id(),
        sa.Column("provider", sa.String(80), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_sign_in_at", UTCDateTime),
        sa.UniqueConstraint("provider", "subject", name="uq_signin_identities_subject"),
    )
    op.create_index("ix_signin_identities_user_id", "signin_identities", ["user_id"])
    op.create_table(
        "signin_passwords",
        _user_id(primary_key=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "signin_password_resets",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        _user_id(),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("used_at", UTCDateTime),
    )
    op.create_index("ix_signin_password_resets_user_id", "signin_password_resets", ["user_id"])
    op.create_table(
        "signin_totp",
        _user_id(primary_key=True),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("enabled_at", UTCDateTime),
        sa.Column("last_step", sa.BigInteger),
    )
    op.create_table(
        "signin_recovery_codes",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        _user_id(),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("used_at", UTCDateTime),
    )
    op.create_index("ix_signin_recovery_codes_user_id", "signin_recovery_codes", ["user_id"])
    op.create_table(
        "signin_sessions",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        _user_id(),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("method", sa.String(80), nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.Column("user_agent", sa.String(512)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime),
    )
    op.create_index("ix_signin_sessions_user_id", "signin_sessions", ["user_id"])


def downgrade() -> None:
    for table in ("signin_sessions", "signin_recovery_codes", "signin_totp", "signin_password_resets",
                  "signin_passwords", "signin_identities"):
        op.drop_table(table)
