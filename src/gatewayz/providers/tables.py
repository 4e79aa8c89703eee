"""Live provider health shared between processes (see health.py and health_store.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gatewayz.storage.types import Base, BigIntPK, UTCDateTime, utcnow


class ProviderHealthMinute(Base):
    """One process's attempts on one endpoint (provider, model) in one minute (unix time // 60);
    `bins`: JSON of the time-to-first-token and throughput histograms (health.py's bins)."""

    __tablename__ = "provider_health"
    __table_args__ = (
        UniqueConstraint("source", "provider", "model", "minute", name="uq_provider_health_minute"),
        Index("ix_provider_health_minute", "minute"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32), nullable=False)
    provider: Mapped[str] = mapped_column(String(64), nullable=False)
    model: Mapped[str] = mapped_column(String(256), nullable=False)
    minute: Mapped[int] = mapped_column(BigInteger, nullable=False)
    attempts: Mapped[int] = mapped_column(BigInteger, nullable=False)
    failures: Mapped[int] = mapped_column(BigInteger, nullable=False)
    bins: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
