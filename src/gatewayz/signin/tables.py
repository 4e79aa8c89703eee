"""Sign-in state, kept apart from `users`: identities at providers, passwords, reset tokens, TOTP
and sessions. Every secret is stored as an HMAC (tokens, recovery codes), an Argon2id hash
(passwords) or encrypted (TOTP seeds)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gatewayz.storage.types import Base, BigIntPK, UTCDateTime, utcnow


def _user_fk() -> ForeignKey:
    return ForeignKey("users.id", ondelete="CASCADE")


class SigninIdentity(Base):
    """A user's account at a sign-in provider (`privy`, `oidc:<name>`): the provider's `sub`."""

    __tablename__ = "signin_identities"
    __table_args__ = (
        UniqueConstraint("provider", "subject", name="uq_signin_identities_subject"),
        Index("ix_signin_identities_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, _user_fk(), nullable=False)
    provider: Mapped[str] = mapped_column(String(80), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SigninPassword(Base):
    __tablename__ = "signin_passwords"

    user_id: Mapped[int] = mapped_column(BigInteger, _user_fk(), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class PasswordReset(Base):
    __tablename__ = "signin_password_resets"
    __table_args__ = (Index("ix_signin_password_resets_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, _user_fk(), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TotpFactor(Base):
    """A TOTP second factor: the seed encrypted with the server's keys; `enabled_at` once confirmed."""

    __tablename__ = "signin_totp"

    user_id: Mapped[int] = mapped_column(BigInteger, _user_fk(), primary_key=True)
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_step: Mapped[int | None] = mapped_column(BigInteger)  # the last accepted time step: no replay


class RecoveryCode(Base):
    __tablename__ = "signin_recovery_codes"
    __table_args__ = (Index("ix_signin_recovery_codes_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, _user_fk(), nullable=False)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SigninSession(Base):
    """A dashboard session. Only the token's HMAC is stored; revoking sets `revoked_at`."""

    __tablename__ = "signin_sessions"
    __table_args__ = (Index("ix_signin_sessions_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, _user_fk(), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    method: Mapped[str] = mapped_column(String(80), nullable=False)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
