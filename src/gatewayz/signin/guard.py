"""Brute-force protection: failed sign-ins are counted per account and per client IP in sliding
windows (the rate limiter's own counters: shared through Redis when there is one), and recorded as
security events. An account or IP over its limit is refused with 429 before any password is checked."""

from __future__ import annotations

import hashlib
import hmac
import math

from starlette.requests import HTTPConnection

from gatewayz.audit.security_events import SecurityEventWriter
from gatewayz.errors import GatewayError
from gatewayz.limits.limiter import Limiter
from gatewayz.limits.windows import Check
from gatewayz.settings import Settings

BUCKETS = 15


class SigninLocked(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "signin_locked"


class SigninGuard:
    def __init__(self, settings: Settings, limits: Limiter, events: SecurityEventWriter, secret: bytes) -> None:
        self.settings = settings
        self.limits = limits
        self.events = events
        self.secret = secret
        self.window_ms = settings.signin_failure_window_seconds * 1000
        self.prefix = f"{settings.redis_prefix}:signin:failures"

    def _check(self, kind: str, subject: str, limit: int) -> Check:
        digest = hmac.new(self.secret, f"{kind}:{subject}".encode(), hashlib.sha256).hexdigest()[:32]
        return Check(f"{self.prefix}:{kind}:{digest}", "requests", limit, self.window_ms, self.window_ms // BUCKETS,
                     "signin", f"failed sign-ins per {kind}", kind)

    def _checks(self, account: str | None, ip: str | None) -> list[Check]:
        checks = []
        if account:
            checks.append(self._check("account", account.strip().lower(), self.settings.signin_failures_per_account))
        if ip:
            checks.append(self._check("ip", ip, self.settings.signin_failures_per_ip))
        return checks

    async def check(self, conn: HTTPConnection, method: str, account: str | None, ip: str | None) -> None:
        checks = self._checks(account, ip)
        if not checks:
            return
        ticket = await self.limits.admit(checks, 0, peek=True)
        if ticket.allowed:
            return
        retry = max(1, math.ceil(max(o.reset_ms for o in ticket.outcomes) / 1000))
        self._record(conn, "signin_locked", method, 429, ip, None)
        raise SigninLocked("Too many failed sign-ins; try again later.", headers={"retry-after": str(retry)})

    async def failed(self, conn: HTTPConnection, method: str, reason: str, account: str | None, ip: str | None,
                     user_id: int | None = None) -> None:
        checks = self._checks(account, ip)
        if checks:
            await self.limits.admit(checks, 0)
        self._record(conn, "signin_failed", f"{method}:{reason}", 401, ip, user_id)

    def _record(self, conn: HTTPConnection, event: str, reason: str, status: int, ip: str | None,
                user_id: int | None) -> None:
        self.events.record(event=event, reason=reason[:64], status=status, ip=ip, user_id=user_id,
                           method=conn.scope.get("method"), path=conn.url.path,
                           user_agent=conn.headers.get("user-agent"))
