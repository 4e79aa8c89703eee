"""The credit ledger and what hangs off it. All money columns are integer nano-dollars."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gatewayz.storage.types import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class CreditAccount(Base):
    """A user's money. `balance` is the ledger's sum; `held` is reserved by in-flight requests;
    `expiring` is what is left of grants that expire (consumed first, see ledger.expire_grants);
    `expired_pending` is expired credit that was held by in-flight requests when its grant expired:
    never spendable again, removed by the expiry job as those requests settle."""

    __tablename__ = "credit_accounts"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    balance: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    held: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    expiring: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    expired_pending: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")
    low_balance_threshold: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class CreditTransaction(Base):
    """Append-only: one row per change of a balance, written in the change's own transaction."""

    __tablename__ = "credit_transactions"
    __table_args__ = (
        Index("ix_credit_transactions_user_created", "user_id", "created_at"),
        Index("ix_credit_transactions_reference", "reference"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    balance_before: Mapped[int] = mapped_column(BigInteger, nullable=False)
    balance_after: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reference: Mapped[str | None] = mapped_column(String(128))
    actor: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class CreditHold(Base):
    """Money reserved for one in-flight request; a sweeper releases holds whose process died."""

    __tablename__ = "credit_holds"
    __table_args__ = (Index("ix_credit_holds_status_expires", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(128), nullable=False)
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    key_id: Mapped[int | None] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    key_period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cap_id: Mapped[int | None] = mapped_column(BigInteger)  # a spending cap shared by several keys (CapSpend)
    cap_period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="held")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class KeySpend(Base):
    """Spend of one key in one budget period (the period starts at `period_start`)."""

    __tablename__ = "key_spend"
    __table_args__ = (UniqueConstraint("key_id", "period_start", name="uq_key_spend_period"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    key_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    spent: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    held: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class CapSpend(Base):
    """Spend under one cap shared by several keys (a team member's cap: `cap_id` is the membership
    id, see teams/) in one period. The same guard as KeySpend: a hold reserves under it with one
    conditional UPDATE in the hold's transaction."""

    __tablename__ = "cap_spend"
    __table_args__ = (UniqueConstraint("cap_id", "period_start", name="uq_cap_spend_period"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    cap_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    spent: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    held: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class CreditGrant(Base):
    """Credits that expire: the expiry job writes an `expiry` entry for what is left of them."""

    __tablename__ = "credit_grants"
    __table_args__ = (Index("ix_credit_grants_pending", "expired", "expires_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expired: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class UsageRecord(Base):
    """One settled request: who, what, how much, how fast."""

    __tablename__ = "usage_records"
    __table_args__ = (
        Index("ix_usage_records_user_created", "user_id", "created_at"),
        Index("ix_usage_records_key_created", "key_id", "created_at"),
        Index("ix_usage_records_created", "created_at"),  # rankings over a period (catalog/rankings.py)
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)  # the gateway's own id
    client_request_id: Mapped[str | None] = mapped_column(String(128))  # the caller's x-request-id, as sent
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    key_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    endpoint: Mapped[str] = mapped_column(String(32), nullable=False)
    provider: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(256), nullable=False)
    upstream_model: Mapped[str | None] = mapped_column(String(256))
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    cached_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    cost: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    uncollected: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    estimated: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    stream: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[int] = mapped_column(BigInteger, nullable=False)
    latency_ms: Mapped[int | None] = mapped_column(BigInteger)
    ttft_ms: Mapped[int | None] = mapped_column(BigInteger)
    images: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")  # images answered
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class IdempotencyRecord(Base):
    """The first answer to an Idempotency-Key, replayed to retries for 24 hours. Keyed by user AND
    key environment: a sandbox answer can never be replayed to a live key (nor the reverse)."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("user_id", "environment", "key", name="uq_idempotency_user_env_key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    environment: Mapped[str] = mapped_column(String(16), nullable=False, default="live", server_default="live")
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # running | done
    status_code: Mapped[int | None] = mapped_column(BigInteger)
    content_type: Mapped[str | None] = mapped_column(String(128))
    headers: Mapped[dict[str, str] | None] = mapped_column(JSONType)
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class BillingEvent(Base):
    """Things to tell the user about (low balance, ...); email comes in a later issue."""

    __tablename__ = "billing_events"
    __table_args__ = (Index("ix_billing_events_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    data: Mapped[dict[str, object] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PendingSettlement(Base):
    """A settlement that could not be written when its request ended (database trouble): kept here
    (or, when even this insert fails, in the data directory's spool file) and completed by the
    billing job. Settling is idempotent by `request_id` (unique in usage_records), so a retry
    after an unnoticed success charges nothing twice."""

    __tablename__ = "pending_settlements"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)  # JSON: hold, cost, usage row
    attempts: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
