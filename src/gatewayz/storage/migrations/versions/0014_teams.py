"""Teams and shared credit pools: teams, team_members, team_invitations, team_keys (teams/tables.py),
users.kind ('team' for a pool's ledger account), and member spending caps (cap_spend, and the cap a
credit hold reserved under).

The DDL is written out here, not imported: a migration is a snapshot of the schema at its revision.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from gatewayz.storage.types import BigIntPK, UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _fk(name: str, target: str, **options: object) -> sa.Column:
    return sa.Column(name, sa.BigInteger, sa.ForeignKey(target, ondelete="CASCADE"), **options)  # type: ignore[arg-type]


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="user"))
    with op.batch_alter_table("credit_holds") as batch:
        batch.add_column(sa.Column("cap_id", sa.BigInteger))
        batch.add_column(sa.Column("cap_period_start", UTCDateTime))
    op.create_table(
        "cap_spend",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("cap_id", sa.BigInteger, nullable=False),
        sa.Column("period_start", UTCDateTime, nullable=False),
        sa.Column("spent", sa.BigInteger, nullable=False),
        sa.Column("held", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("cap_id", "period_start", name="uq_cap_spend_period"),
    )
    op.create_table(
        "teams",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        _fk("account_id", "users.id", nullable=False, unique=True),
        sa.Column("created_by", sa.BigInteger),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("deleted_at", UTCDateTime),
    )
    op.create_table(
        "team_members",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        _fk("team_id", "teams.id", nullable=False),
        _fk("user_id", "users.id", nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("spend_cap", sa.BigInteger),
        sa.Column("cap_period", sa.String(16)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("team_id", "user_id", name="uq_team_members_user"),
    )
    op.create_index("ix_team_members_user_id", "team_members", ["user_id"])
    op.create_table(
        "team_invitations",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        _fk("team_id", "teams.id", nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_by", sa.BigInteger),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("accepted_at", UTCDateTime),
        sa.Column("accepted_by", sa.BigInteger),
        sa.Column("revoked_at", UTCDateTime),
    )
    op.create_index("ix_team_invitations_team_id", "team_invitations", ["team_id"])
    op.create_table(
        "team_keys",
        _fk("key_id", "api_keys.id", primary_key=True, autoincrement=False),
        _fk("team_id", "teams.id", nullable=False),
        sa.Column("member_user_id", sa.BigInteger),
        sa.Column("created_by", sa.BigInteger),
    )
    op.create_index("ix_team_keys_team_member", "team_keys", ["team_id", "member_user_id"])


def downgrade() -> None:
    op.drop_table("team_keys")
    op.drop_table("team_invitations")
    op.drop_table("team_members")
    op.drop_table("teams")
    op.drop_table("cap_spend")
    with op.batch_alter_table("credit_holds") as batch:
        batch.drop_column("cap_period_start")
        batch.drop_column("cap_id")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("kind")
