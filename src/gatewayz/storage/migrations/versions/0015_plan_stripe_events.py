"""plan_subscriptions.stripe_event_at: when the Stripe event last applied to the row was created,
so an older event delivered late does not undo a newer one.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from gatewayz.storage.types import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plan_subscriptions") as batch:
        batch.add_column(sa.Column("stripe_event_at", UTCDateTime))


def downgrade() -> None:
    with op.batch_alter_table("plan_subscriptions") as batch:
        batch.drop_column("stripe_event_at")
