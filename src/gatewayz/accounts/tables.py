"""Users and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gatewayz.storage.types import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), nullable=False, unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32), nullable=False, default="user")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    rate_limits: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # set by an admin; see limits/config.py
    # 'user', or 'team': a team's ledger account (teams/tables.py), which never signs in nor is listed
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="user", server_default="user")


class ApiKey(Base):
    """An API key. Only its HMAC is stored; prefix and last 4 characters identify it to people.

    Rotation keeps the row (and its id, limits and usage) and moves the old hash to
    `previous_key_hash`, accepted until `previous_key_expires_at` (the grace period).
    """

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    prefix: Mapped[str] = mapped_column(String(32), nullable=False)
    last4: Mapped[str] = mapped_column(String(4), nullable=False)
    environment: Mapped[str] = mapped_column(String(16), nullable=False)
    scopes: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    ip_allowlist: Mapped[list[str] | None] = mapped_column(JSONType)
    allowed_referers: Mapped[list[str] | None] = mapped_column(JSONType)
    allowed_models: Mapped[list[str] | None] = mapped_column(JSONType)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_requests: Mapped[int | None] = mapped_column(BigInteger)
    request_count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    key_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    previous_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    previous_key_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rate_limits: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # set by the owner; see limits/config.py
    max_budget: Mapped[int | None] = mapped_column(BigInteger)  # nano-dollars per budget period
    budget_period: Mapped[str | None] = mapped_column(String(16))  # daily | weekly | monthly | None


class Role(Base):
    """A custom role, or the stored change to the built-in `support` (accounts/permissions.py holds
    the built-ins). `permissions` and `inherits` are lists of names."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    description: Mapped[str | None] = mapped_column(String(500))
    permissions: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    inherits: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class UserRole(Base):
    """A role a user holds (by name: built-in roles have no row in `roles`). Every user also holds
    `user` implicitly; `users.role` stays 'admin' exactly when the user holds `admin`."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(64), primary_key=True)
    granted_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
