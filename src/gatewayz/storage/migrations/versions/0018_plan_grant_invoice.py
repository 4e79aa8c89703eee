"""plan_credit_grants.stripe_invoice_id: the Stripe invoice that paid a period, so a refund or a
dispute of that invoice can find the credits it brought.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plan_credit_grants") as batch:
        batch.add_column(sa.Column("stripe_invoice_id", sa.String(255)))
    op.create_index("ix_plan_credit_grants_invoice", "plan_credit_grants", ["stripe_invoice_id"])


def downgrade() -> None:
    op.drop_index("ix_plan_credit_grants_invoice", table_name="plan_credit_grants")
    with op.batch_alter_table("plan_credit_grants") as batch:
        batch.drop_column("stripe_invoice_id")
