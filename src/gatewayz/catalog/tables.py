"""The stored catalog: one row per (provider, model), the price history, and each provider's sync.

Prices are integer nano-dollars (per 1M tokens for token prices, per unit for request and image);
NULL means the provider publishes no price, `price_status` says whether a published one is usable.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gatewayz.storage.types import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class CatalogModel(Base):
    __tablename__ = "catalog_models"
    __table_args__ = (
        UniqueConstraint("provider", "model", name="uq_catalog_models_provider_model"),
        Index("ix_catalog_models_canonical", "canonical_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(64), nullable=False)
    model: Mapped[str] = mapped_column(String(256), nullable=False)
    canonical_id: Mapped[str] = mapped_column(String(256), nullable=False)
    name: Mapped[str] = mapped_column(String(256), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    context_length: Mapped[int | None] = mapped_column(BigInteger)
    max_output_tokens: Mapped[int | None] = mapped_column(BigInteger)
    input_modalities: Mapped[list[str]] = mapped_column(JSONType, nullable=False)
    output_modalities: Mapped[list[str]] = mapped_column(JSONType, nullable=False)
    supported_parameters: Mapped[list[str]] = mapped_column(JSONType, nullable=False)
    supports: Mapped[list[str]] = mapped_column(JSONType, nullable=False)
    price_status: Mapped[str] = mapped_column(String(16), nullable=False)
    prompt_price: Mapped[int | None] = mapped_column(BigInteger)
    completion_price: Mapped[int | None] = mapped_column(BigInteger)
    cached_prompt_price: Mapped[int | None] = mapped_column(BigInteger)
    request_price: Mapped[int | None] = mapped_column(BigInteger)
    image_price: Mapped[int | None] = mapped_column(BigInteger)
    created: Mapped[int | None] = mapped_column(BigInteger)
    deprecated: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class CatalogPrice(Base):
    """Append-only: the price of (provider, model) from `effective_from` until the next row, so a
    usage record can always be explained by the price in force at its time."""

    __tablename__ = "catalog_prices"
    __table_args__ = (Index("ix_catalog_prices_model_from", "provider", "model", "effective_from"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(64), nullable=False)
    model: Mapped[str] = mapped_column(String(256), nullable=False)
    price_status: Mapped[str] = mapped_column(String(16), nullable=False)
    prompt_price: Mapped[int | None] = mapped_column(BigInteger)
    completion_price: Mapped[int | None] = mapped_column(BigInteger)
    cached_prompt_price: Mapped[int | None] = mapped_column(BigInteger)
    request_price: Mapped[int | None] = mapped_column(BigInteger)
    image_price: Mapped[int | None] = mapped_column(BigInteger)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class CatalogSync(Base):
    """Each provider's last sync: when it last succeeded, and the last attempt's error (if any)."""

    __tablename__ = "catalog_syncs"

    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # "provider" or "snapshot"
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    model_count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
