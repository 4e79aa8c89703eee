"""plan_credit_grants.paid_cents: what the invoice of a period charged (revenue per plan in
GET /admin/plans/analytics); NULL for periods no invoice paid (admin-assigned plans).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plan_credit_grants") as batch:
        batch.add_column(sa.Column("paid_cents", sa.BigInteger))


def downgrade() -> None:
    with op.batch_alter_table("plan_credit_grants") as batch:
        batch.drop_column("paid_cents")
