"""Email + password: Argon2id hashes, and password reset by single-use, expiring tokens.

Hashing runs in a worker thread (it is meant to be slow). An unknown email is answered like a wrong
password, after the same amount of work. A reset token is stored as an HMAC only, works once and
expires; using one (or changing the password) ends every session of the account. Until the
notification outbox exists, the reset token is logged for the operator when the environment is
`dev`, and only then.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.accounts.keys import hash_key
from gatewayz.accounts.tables import User
from gatewayz.signin.tables import PasswordReset, SigninPassword
from gatewayz.storage.types import utcnow

# stdlib logging (not structlog): the operator's log, and what a test can read with caplog
operator_log = logging.getLogger("gatewayz.signin.operator")

RESET_PREFIX = "gwr_"
_hasher = PasswordHasher()  # Argon2id with the library's RFC 9106 low-memory profile


@functools.cache
def _dummy_hash() -> str:
    """Made on first use, not at import: hashing is slow on purpose, and start-up should not pay."""
    return _hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def check_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches; with no stored hash, the same work against a dummy one."""
    ok = await asyncio.to_thread(_verify, stored or _dummy_hash(), password)
    return ok and stored is not None


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


def normal_email(email: str) -> str:
    return email.strip().lower()


async def user_and_password(session: AsyncSession, email: str) -> tuple[User | None, SigninPassword | None]:
    row = (await session.execute(
        select(User, SigninPassword).outerjoin(SigninPassword, SigninPassword.user_id == User.id)
        .where(User.email == normal_email(email))
    )).first()
    return (row[0], row[1]) if row is not None else (None, None)


async def set_password(session: AsyncSession, user_id: int, password: str) -> None:
    hashed = await hash_password(password)
    row = await session.get(SigninPassword, user_id)
    if row is None:
        session.add(SigninPassword(user_id=user_id, password_hash=hashed, updated_at=utcnow()))
    else:
        row.password_hash, row.updated_at = hashed, utcnow()
    await session.flush()


async def create_reset(session: AsyncSession, secret: bytes, user: User, ttl_seconds: float,
                       environment: str) -> str:
    token = RESET_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    session.add(PasswordReset(user_id=user.id, token_hash=hash_key(secret, token), created_at=now,
                              expires_at=now + timedelta(seconds=ttl_seconds)))
    await session.flush()
    if environment == "dev":
        operator_log.warning("password reset token for user %s: %s", user.id, token)
    return token


async def use_reset(session: AsyncSession, secret: bytes, token: str) -> int | None:
    """The user id the token resets, consuming it; None if unknown, used or expired. The conditional
    UPDATE makes it single-use even when two requests present it at once."""
    now = utcnow()
    token_hash = hash_key(secret, token)
    result = await session.execute(
        update(PasswordReset)
        .where(PasswordReset.token_hash == token_hash, PasswordReset.used_at.is_(None),
               PasswordReset.expires_at > now)
        .values(used_at=now)
        .returning(PasswordReset.user_id)
    )
    user_id = result.scalar_one_or_none()
    if user_id is not None:  # the user's other outstanding tokens die with this one
        await session.execute(update(PasswordReset).where(PasswordReset.user_id == user_id,
                                                          PasswordReset.used_at.is_(None)).values(used_at=now))
    return int(user_id) if user_id is not None else None
