"""Rate limits: per-user limits (set by an admin) and per-key limits (set by the key's owner).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from gatewayz.storage.types import JSONType

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("rate_limits", JSONType))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("rate_limits", JSONType))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("rate_limits")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("rate_limits")
