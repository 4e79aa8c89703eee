"""History: stored Responses API responses (`store: true`), for GET/DELETE /v1/responses/{id},
its input items, and `previous_response_id`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

from gatewayz.storage.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_responses",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("api_key_id", sa.BigInteger),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("previous_response_id", sa.String(128)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("input_items", sa.Text, nullable=False),
    )
    op.create_index("ix_stored_responses_user_created", "stored_responses", ["user_id", "created_at"])
    op.create_index("ix_stored_responses_previous", "stored_responses", ["previous_response_id"])


def downgrade() -> None:
    op.drop_index("ix_stored_responses_previous", table_name="stored_responses")
    op.drop_index("ix_stored_responses_user_created", table_name="stored_responses")
    op.drop_table("stored_responses")
