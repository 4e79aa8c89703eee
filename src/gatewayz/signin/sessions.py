"""Dashboard sessions: server-side records, a bearer token (`gws_…`) or an HttpOnly cookie.

A session authenticates through the same Authenticator as API keys: its principal is cached in the
KeyCache under the token's HMAC, so a repeat costs what a key's costs, and revoking it bumps the
same change counter (every process drops it within a second). A session may manage the account
(scopes `keys` and `billing`); it cannot call the models (programs use API keys) nor administer.

CSRF: a cookie-authenticated change (any method but GET/HEAD/OPTIONS) must carry the header
`X-CSRF-Token` equal to the session's CSRF token, an HMAC of the session under the server secret
(handed out at sign-in in the body and in the readable `gw_csrf` cookie: a signed double-submit
token). Another site can make the browser send the cookie but cannot read the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from gatewayz.accounts.cache import bump_auth_counter
from gatewayz.accounts.keys import hash_key
from gatewayz.accounts.principal import Principal
from gatewayz.accounts.service import Invalidation
from gatewayz.accounts.tables import User
from gatewayz.errors import NotFound
from gatewayz.limits.config import parse_limits
from gatewayz.signin.tables import SigninSession
from gatewayz.storage.db import Database
from gatewayz.storage.types import utcnow

SESSION_PREFIX = "gws_"
SESSION_COOKIE = "gw_session"
CSRF_COOKIE = "gw_csrf"
CSRF_HEADER = "x-csrf-token"
SESSION_SCOPES = frozenset({"keys", "billing"})
MAX_LISTED = 200


def csrf_token(secret: bytes, token_hash: str) -> str:
    return hmac.new(secret, b"csrf:" + token_hash.encode(), hashlib.sha256).hexdigest()


class Sessions:
    """The Authenticator's SessionHook, and the operations on session records."""

    prefix = SESSION_PREFIX
    cookie = SESSION_COOKIE

    def __init__(self, db: Database, secret: bytes, environment: str, ttl_seconds: float) -> None:
        self.db = db
        self.secret = secret
        self.environment = environment
        self.ttl_seconds = ttl_seconds

    # -- the hook ----------------------------------------------------------------------------------

    async def load(self, token_hash: str) -> Principal | None:
        async with self.db.session() as session:
            row = (await session.execute(
                select(SigninSession, User).join(User, User.id == SigninSession.user_id)
                .where(SigninSession.token_hash == token_hash)
            )).first()
        if row is None:
            return None
        record, user = row
        return Principal(
            key_id=0, user_id=user.id, role=user.role, environment=self.environment, scopes=SESSION_SCOPES,
            prefix=SESSION_PREFIX, key_hash=token_hash, ip_networks=None, referer_patterns=None,
            allowed_models=None, expires_at=record.expires_at.timestamp(), max_requests=None,
            revoked=record.revoked_at is not None, active=user.is_active,
            user_rate_limits=parse_limits(user.rate_limits), session_id=record.id,
        )

    def csrf_ok(self, conn: HTTPConnection, principal: Principal) -> bool:
        sent = conn.headers.get(CSRF_HEADER, "")
        return bool(sent) and hmac.compare_digest(sent.encode(), csrf_token(self.secret, principal.key_hash).encode())

    # -- records -----------------------------------------------------------------------------------

    async def create(self, session: AsyncSession, user: User, method: str, ip: str | None,
                     user_agent: str | None) -> tuple[SigninSession, str]:
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        record = SigninSession(
            user_id=user.id, token_hash=hash_key(self.secret, token), method=method[:80], ip=ip,
            user_agent=(user_agent or "")[:512] or None, created_at=now,
            expires_at=now + timedelta(seconds=self.ttl_seconds),
        )
        session.add(record)
        await session.flush()
        return record, token

    def csrf_for(self, record: SigninSession) -> str:
        return csrf_token(self.secret, record.token_hash)

    @staticmethod
    async def live(session: AsyncSession, user_id: int) -> list[SigninSession]:
        rows = await session.execute(
            select(SigninSession)
            .where(SigninSession.user_id == user_id, SigninSession.revoked_at.is_(None),
                   SigninSession.expires_at > utcnow())
            .order_by(SigninSession.id.desc()).limit(MAX_LISTED)
        )
        return list(rows.scalars().all())

    @staticmethod
    async def revoke(session: AsyncSession, user_id: int, session_id: int) -> Invalidation:
        """Someone else's session is indistinguishable from a missing one (404)."""
        record = await session.get(SigninSession, session_id)
        if record is None or record.user_id != user_id:
            raise NotFound(f"No session with id {session_id}.", param="id")
        if record.revoked_at is None:
            record.revoked_at = utcnow()
            await session.flush()
        return Invalidation(await bump_auth_counter(session), hashes=[record.token_hash])

    @staticmethod
    async def revoke_all(session: AsyncSession, user_id: int, keep: int | None = None) -> Invalidation:
        """Every live session of the user, but `keep` (the caller's own, when it changes its password)."""
        live = [SigninSession.user_id == user_id, SigninSession.revoked_at.is_(None)]
        if keep is not None:
            live.append(SigninSession.id != keep)
        hashes = list((await session.execute(select(SigninSession.token_hash).where(*live))).scalars().all())
        await session.execute(update(SigninSession).where(*live).values(revoked_at=utcnow()))
        return Invalidation(await bump_auth_counter(session), hashes=hashes)
