"""Catalog: models per provider, their price history, each provider's last sync (catalog/tables.py).

The DDL is written out here, not imported: a migration is a snapshot of the schema at its revision.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from gatewayz.storage.types import BigIntPK, JSONType, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _prices() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("price_status", sa.String(16), nullable=False),
        sa.Column("prompt_price", sa.BigInteger),
        sa.Column("completion_price", sa.BigInteger),
        sa.Column("cached_prompt_price", sa.BigInteger),
        sa.Column("request_price", sa.BigInteger),
        sa.Column("image_price", sa.BigInteger),
    ]


def upgrade() -> None:
    op.create_table(
        "catalog_models",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("canonical_id", sa.String(256), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("context_length", sa.BigInteger),
        sa.Column("max_output_tokens", sa.BigInteger),
        sa.Column("input_modalities", JSONType, nullable=False),
        sa.Column("output_modalities", JSONType, nullable=False),
        sa.Column("supported_parameters", JSONType, nullable=False),
        sa.Column("supports", JSONType, nullable=False),
        *_prices(),
        sa.Column("created", sa.BigInteger),
        sa.Column("deprecated", sa.Boolean, nullable=False),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("provider", "model", name="uq_catalog_models_provider_model"),
    )
    op.create_index("ix_catalog_models_canonical", "catalog_models", ["canonical_id"])
    op.create_table(
        "catalog_prices",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        *_prices(),
        sa.Column("effective_from", UTCDateTime, nullable=False),
    )
    op.create_index("ix_catalog_prices_model_from", "catalog_prices", ["provider", "model", "effective_from"])
    op.create_table(
        "catalog_syncs",
        sa.Column("provider", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("synced_at", UTCDateTime),
        sa.Column("attempted_at", UTCDateTime, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("model_count", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("catalog_syncs")
    op.drop_index("ix_catalog_prices_model_from", table_name="catalog_prices")
    op.drop_table("catalog_prices")
    op.drop_index("ix_catalog_models_canonical", table_name="catalog_models")
    op.drop_table("catalog_models")
