"""The two limiter implementations behind one async interface, for tests that run on both."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from gatewayz.limits.config import WINDOWS
from gatewayz.limits.redis_limiter import RedisLimiter
from gatewayz.limits.windows import Check, Correction, LocalLimiter, Outcome
from tests.support.databases import REDIS_URL

MINUTE = 60_000
# A clock reading on a minute boundary, so tests can say "0:59.5" and "1:00.5".
T0 = 1_700_000_040_000
assert T0 % MINUTE == 0


def window_check(key: str, kind: str, limit: int, window: str = "minute") -> Check:
    length, bucket = WINDOWS[window]
    return Check(key, kind, limit, length, bucket, window, f"{kind} per {window}")  # type: ignore[arg-type]


def concurrent_check(key: str, limit: int, lease_ms: int = 10_000) -> Check:
    return Check(key, "concurrent", limit, lease_ms, 0, "concurrent", "concurrent requests")


class Backend:
    """`admit`/`finish` with explicit time, on LocalLimiter or RedisLimiter (unique key prefix)."""

    def __init__(self, name: str, redis: Redis | None) -> None:
        self.name = name
        self.prefix = f"gwtest-unit-{secrets.token_hex(4)}"
        self.local = LocalLimiter()
        self.remote = RedisLimiter(redis) if redis is not None else None

    def k(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    async def admit(
        self, checks: list[Check], now: int, *, tokens: int = 0, lease: str = "l", peek: bool = False
    ) -> tuple[bool, list[Outcome]]:
        costs = [c.cost(tokens) for c in checks]
        if self.remote is not None:
            return await self.remote.admit(checks, costs, lease, now, peek=peek)
        return self.local.admit(checks, costs, lease, now, peek=peek)

    async def finish(
        self, now: int, *, releases: list[Check] | None = None, corrections: list[Correction] | None = None,
        lease: str = "l",
    ) -> None:
        if self.remote is not None:
            await self.remote.finish(releases or [], corrections or [], lease, now)
        else:
            self.local.finish(releases or [], corrections or [], lease, now)


@asynccontextmanager
async def backend_named(name: str) -> AsyncIterator[Backend]:
    if name == "local":
        yield Backend("local", None)
        return
    redis = Redis.from_url(REDIS_URL)
    backend = Backend("redis", redis)
    try:
        yield backend
    finally:
        keys = [key async for key in redis.scan_iter(match=f"{backend.prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
