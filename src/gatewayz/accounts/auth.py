"""Authentication and authorization of API keys: the first stages of every request.

The hot path is: read the header, HMAC the key, look it up in the in-process cache, check
expiry/IP/referer/scope. Only a cache miss touches the database.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from starlette.requests import HTTPConnection

from gatewayz.accounts.activity import KeyActivity
from gatewayz.accounts.cache import KeyCache
from gatewayz.accounts.keys import display_prefix, hash_key, ip_allowed, looks_like_key, referer_allowed
from gatewayz.accounts.principal import Principal, principal_from_rows
from gatewayz.accounts.tables import ApiKey, User, UserRole
from gatewayz.audit.security_events import SecurityEventWriter
from gatewayz.errors import AuthenticationFailed, GatewayError, PermissionDenied
from gatewayz.settings import Settings
from gatewayz.storage.db import Database


def extract_key(conn: HTTPConnection) -> str | None:
    """`Authorization: Bearer <key>` (OpenAI SDK) or `x-api-key: <key>` (Anthropic SDK)."""
    header = conn.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    value = conn.headers.get("x-api-key")
    return value.strip() if value and value.strip() else None


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SessionHook(Protocol):
    """Dashboard sessions (signin/sessions.py): tokens with their own prefix, looked up in their own
    table, cached in the same KeyCache as keys (so revoked the same way), optionally sent as a cookie."""

    prefix: str
    cookie: str

    async def load(self, token_hash: str) -> Principal | None: ...

    def csrf_ok(self, conn: HTTPConnection, principal: Principal) -> bool: ...


class PlanHook(Protocol):
    """Plans (plans/entitlements.py): the owner's plan goes into the cached principal, and what the
    plan allows is checked from memory."""

    async def assignment(self, user_id: int) -> tuple[int | None, float | None]: ...

    def model_refusal(self, principal: Principal, model: str) -> GatewayError | None: ...

    def model_filter(self, principal: Principal) -> Callable[[str], bool] | None: ...

    def feature_refusal(self, principal: Principal, feature: str) -> GatewayError | None: ...


class TeamKeyHook(Protocol):
    """Team keys (teams/keys.py): a key of a team's pool account is completed with its team, its
    member and that member's cap on a cache miss; a key no longer backed by a membership comes back
    revoked. Personal keys never reach it (the owner row's `kind` tells, at no extra cost)."""

    async def complete(self, session: Any, principal: Principal) -> Principal: ...


class Authenticator:
    sessions: SessionHook | None = None
    plans: PlanHook | None = None
    teams: TeamKeyHook | None = None

    def __init__(
        self,
        settings: Settings,
        db: Database,
        cache: KeyCache,
        events: SecurityEventWriter,
        activity: KeyActivity,
    ) -> None:
        self.db = db
        self.cache = cache
        self.events = events
        self.activity = activity
        self.secret = settings.key_hash_secret_bytes
        self._loading: dict[str, asyncio.Future[Principal | None]] = {}
        self.trusted_proxies = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]

    # -- client facts ----------------------------------------------------------------------------

    def client_ip(self, conn: HTTPConnection) -> str | None:
        """The peer address; behind trusted proxies, the nearest untrusted X-Forwarded-For hop."""
        peer = conn.client.host if conn.client else None
        if not self.trusted_proxies or peer is None or not self._trusted(peer):
            return peer
        # Every X-Forwarded-For line, in order: a proxy may append its own line instead of
        # extending the client's, and reading only the first would believe the client's claim.
        forwarded = ",".join(conn.headers.getlist("x-forwarded-for"))
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop
        return hops[0] if hops else peer

    def _trusted(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in net for net in self.trusted_proxies)

    @staticmethod
    def referer_host(conn: HTTPConnection) -> str | None:
        for header in ("origin", "referer"):
            value = conn.headers.get(header)
            if value:
                host = urlsplit(value).hostname
                if host:
                    return host
        return None

    # -- lookup ----------------------------------------------------------------------------------

    async def lookup(self, key: str) -> Principal | None:
        key_hash = hash_key(self.secret, key)
        entry = self.cache.get(key_hash)
        if entry is not None:
            return entry.principal
        # A burst of requests with a key not cached yet makes ONE database lookup, not one each
        # (a cold cache must not exhaust the connection pool).
        pending = self._loading.get(key_hash)
        if pending is not None:
            return await asyncio.shield(pending)
        epoch = self.cache.epoch
        future: asyncio.Future[Principal | None] = asyncio.get_running_loop().create_future()
        self._loading[key_hash] = future
        try:
            sessions = self.sessions
            if sessions is not None and key.startswith(sessions.prefix):
                principal = await sessions.load(key_hash)
            else:
                principal = await self._load(key_hash)
            if principal is not None and self.plans is not None:
                plan_id, plan_ends_at = await self.plans.assignment(principal.user_id)
                principal = replace(principal, plan_id=plan_id, plan_ends_at=plan_ends_at)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            self._loading.pop(key_hash, None)
        future.set_result(principal)
        self.cache.put(key_hash, principal, epoch)
        return principal

    async def _load(self, key_hash: str) -> Principal | None:
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(ApiKey, User)
                    .join(User, User.id == ApiKey.user_id)
                    .where(or_(ApiKey.key_hash == key_hash, ApiKey.previous_key_hash == key_hash))
                )
            ).first()
            if row is None:
                return None
            key, user = row
            if user.kind == "team":  # a team pool's key: no roles; its team and member complete it
                principal = principal_from_rows(key, user, key_hash)
                if self.teams is None:
                    return replace(principal, revoked=True)
                return await self.teams.complete(session, principal)
            roles = (await session.execute(select(UserRole.role).where(UserRole.user_id == user.id))).scalars()
            return principal_from_rows(key, user, key_hash, frozenset(roles))

    # -- the checks ------------------------------------------------------------------------------

    async def identify(self, conn: HTTPConnection) -> Principal:
        """Who is calling: a missing, unknown, revoked or expired key (or a deactivated owner) is a
        401 and a security event. No side effects (no request cap consumed): the HTTP edge calls it
        before reading a request body, then `authenticate` repeats it as a cache hit."""
        return (await self._identify(conn))[2]

    async def _identify(self, conn: HTTPConnection) -> tuple[str, str | None, Principal]:
        key = extract_key(conn)
        ip = self.client_ip(conn)
        from_cookie = False
        if key is None and self.sessions is not None:
            cookie = conn.cookies.get(self.sessions.cookie)
            if cookie and cookie.startswith(self.sessions.prefix):  # a cookie only ever carries a session
                key, from_cookie = cookie, True
        if key is None:
            self.refuse(
                conn,
                ip,
                None,
                None,
                AuthenticationFailed(
                    "Missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key'.",
                    code="missing_api_key",
                ),
                "missing_key",
            )
        assert key is not None
        principal = await self.lookup(key) if looks_like_key(key) else None
        if principal is None:
            self.refuse(conn, ip, key, None, AuthenticationFailed("Invalid API key."), "unknown_key")
        assert principal is not None
        if principal.revoked:
            self.refuse(
                conn,
                ip,
                key,
                principal,
                AuthenticationFailed("This API key has been revoked.", code="revoked_api_key"),
                "revoked",
            )
        if not principal.active:
            self.refuse(
                conn,
                ip,
                key,
                principal,
                AuthenticationFailed("The account that owns this API key is deactivated.", code="account_deactivated"),
                "user_inactive",
            )
        if principal.expires_at is not None and principal.expires_at <= time.time():
            self.refuse(
                conn,
                ip,
                key,
                principal,
                AuthenticationFailed("This API key has expired.", code="expired_api_key"),
                "expired",
            )
        if from_cookie and conn.scope.get("method") not in SAFE_METHODS:
            assert self.sessions is not None
            if not self.sessions.csrf_ok(conn, principal):
                self.refuse(
                    conn,
                    ip,
                    key,
                    principal,
                    PermissionDenied(
                        "A change made with the session cookie needs the X-CSRF-Token header (the gw_csrf cookie).",
                        code="csrf_failed",
                    ),
                    "csrf_failed",
                )
        return key, ip, principal

    async def authenticate(self, conn: HTTPConnection, scope: str) -> Principal:
        """Authenticate the caller and require `scope`; every refusal becomes a security event."""
        key, ip, principal = await self._identify(conn)
        if principal.ip_networks is not None and not ip_allowed(principal.ip_networks, ip):
            self.refuse(
                conn,
                ip,
                key,
                principal,
                PermissionDenied(
                    f"Requests from IP address {ip} are not allowed for this API key.", code="ip_not_allowed"
                ),
                "ip_not_allowed",
            )
        if principal.referer_patterns is not None and not referer_allowed(
            principal.referer_patterns, self.referer_host(conn)
        ):
            self.refuse(
                conn,
                ip,
                key,
                principal,
                PermissionDenied(
                    "Requests from this origin/referer are not allowed for this API key.", code="referer_not_allowed"
                ),
                "referer_not_allowed",
            )
        if scope not in principal.scopes:
            self.refuse(
                conn,
                ip,
                key,
                principal,
                PermissionDenied(f"This API key lacks the '{scope}' scope.", code="insufficient_scope"),
                "missing_scope",
            )
        if principal.max_requests is not None:
            if not await self.activity.consume_capped(principal.key_id, principal.max_requests):
                self.refuse(
                    conn,
                    ip,
                    key,
                    principal,
                    PermissionDenied(
                        "This API key has reached its lifetime request cap.", code="key_request_cap_reached"
                    ),
                    "request_cap_reached",
                )
        elif principal.session_id is None:  # a session is not a key: no key usage to count
            self.activity.touch(principal.key_id)
        return principal

    def authorize_model(self, conn: HTTPConnection, principal: Principal, model: str) -> None:
        if not principal.allows_model(model):
            self.refuse(
                conn,
                self.client_ip(conn),
                None,
                principal,
                PermissionDenied(
                    f"This API key may not use the model '{model}'.", param="model", code="model_not_allowed"
                ),
                "model_not_allowed",
            )
        if self.plans is not None:
            refusal = self.plans.model_refusal(principal, model)
            if refusal is not None:
                self.refuse(conn, self.client_ip(conn), None, principal, refusal, "model_not_in_plan")

    def model_filter(self, principal: Principal | None) -> Callable[[str], bool] | None:
        """What model listings show the caller: None when neither the key nor the plan restricts."""
        if principal is None:
            return None
        key = principal.allows_model if principal.allowed_models is not None else None
        plan = self.plans.model_filter(principal) if self.plans is not None else None
        if key is None or plan is None:
            return key or plan
        return lambda model: key(model) and plan(model)

    def authorize_feature(self, conn: HTTPConnection, principal: Principal, feature: str) -> None:
        """A feature of the owner's plan (`history`, `images`): 403 when the plan lacks it."""
        if self.plans is not None:
            refusal = self.plans.feature_refusal(principal, feature)
            if refusal is not None:
                self.refuse(conn, self.client_ip(conn), None, principal, refusal, "feature_not_in_plan")

    def refuse(
        self,
        conn: HTTPConnection,
        ip: str | None,
        key: str | None,
        principal: Principal | None,
        error: GatewayError,
        reason: str,
    ) -> None:
        self.events.record(
            event="auth_failed" if error.status == 401 else "access_denied",
            reason=reason,
            status=error.status,
            ip=ip,
            key_prefix=principal.prefix if principal else (display_prefix(key) if key else None),
            key_id=principal.key_id if principal else None,
            user_id=principal.user_id if principal else None,
            method=conn.scope.get("method"),
            path=conn.url.path,
            user_agent=conn.headers.get("user-agent"),
        )
        raise error
