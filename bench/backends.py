"""The storage a benchmarked gateway runs on: SQLite (default), or PostgreSQL, Redis and a rate limit.

A configuration is written ``DB[+redis][+limit]``: ``sqlite``, ``sqlite+limit``, ``pg+redis+limit``…
``pg`` gets a throwaway database created for the run and dropped after it (``WITH (FORCE)``);
``redis`` a key prefix of its own (``gwbench-<random>``), whose keys are deleted after the run;
``limit`` one rate limit every user is under (``GATEWAYZ_RATE_LIMIT_USER``, by default one
requests-per-minute window far above what a run sends, so it is checked and counted but never refuses).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

PG_ADMIN_URL = os.environ.get("GATEWAYZ_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("GATEWAYZ_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
DEFAULT_RATE_LIMIT = '{"requests_per_minute": 100000000}'
# Variables of the caller's environment that would change the storage under a benchmarked gateway.
STORAGE_ENV = (
    "DATABASE_URL",
    "REDIS_URL",
    "GATEWAYZ_DATABASE_URL",
    "GATEWAYZ_REDIS_URL",
    "GATEWAYZ_REDIS_PREFIX",
    "GATEWAYZ_RATE_LIMIT_GLOBAL",
    "GATEWAYZ_RATE_LIMIT_USER",
    "GATEWAYZ_RATE_LIMIT_KEY",
)


@dataclass(frozen=True)
class GatewayConfig:
    database: str = "sqlite"  # "sqlite" | "pg"
    redis: bool = False
    limit: bool = False

    @classmethod
    def parse(cls, spec: str) -> GatewayConfig:
        parts = [p.strip().lower() for p in spec.split("+") if p.strip()]
        if not parts or parts[0] not in ("sqlite", "pg") or not set(parts[1:]) <= {"redis", "limit"}:
            raise ValueError(f"{spec!r}: expected sqlite or pg, then +redis and/or +limit (e.g. pg+redis+limit)")
        return cls(parts[0], "redis" in parts, "limit" in parts)

    @property
    def spec(self) -> str:
        return "+".join([self.database] + ["redis"] * self.redis + ["limit"] * self.limit)

    @property
    def label(self) -> str:
        parts = ["PostgreSQL" if self.database == "pg" else "SQLite"]
        parts += ["Redis"] * self.redis + ["one rate limit"] * self.limit
        return " + ".join(parts)


async def _pg_admin(admin_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_url_for(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.partition("?")[0].rpartition("/")
    return f"{base}/{name}"


async def _redis_keys(url: str, prefix: str, delete: bool) -> int:
    """How many keys are under ``prefix`` (deleting them when ``delete``); bounded scan."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    found = 0
    try:
        cursor = 0
        for _ in range(100_000):
            cursor, keys = await client.scan(cursor=cursor, match=f"{prefix}:*", count=1000)
            found += len(keys)
            if delete and keys:
                await client.delete(*keys)
            if cursor == 0:
                break
    finally:
        await client.aclose()
    return found


@dataclass
class Provisioned:
    """The environment a gateway of one configuration runs with, and what it was given."""

    config: GatewayConfig
    env: dict[str, str]
    database: str = "SQLite in the gateway's data dir"
    redis_prefix: str | None = None

    def redis_key_count(self) -> int | None:
        """Keys the gateway wrote under its prefix so far (the proof that it used Redis)."""
        if self.redis_prefix is None:
            return None
        return asyncio.run(_redis_keys(self.env["GATEWAYZ_REDIS_URL"], self.redis_prefix, delete=False))


@contextmanager
def provisioned(
    config: GatewayConfig,
    rate_limit: str = DEFAULT_RATE_LIMIT,
    pg_admin_url: str = PG_ADMIN_URL,
    redis_url: str = REDIS_URL,
) -> Iterator[Provisioned]:
    """Create what ``config`` needs, yield it, and remove it afterwards (also on error or Ctrl-C)."""
    env: dict[str, str] = {}
    out = Provisioned(config, env)
    with ExitStack() as cleanup:
        if config.database == "pg":
            from cryptography.fernet import Fernet

            name = f"gwbench_{secrets.token_hex(6)}"
            asyncio.run(_pg_admin(pg_admin_url, f'CREATE DATABASE "{name}"'))
            cleanup.callback(
                lambda: asyncio.run(_pg_admin(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            )
            env["GATEWAYZ_DATABASE_URL"] = _pg_url_for(pg_admin_url, name)
            # A live gateway on a shared database must be given its secrets (it won't generate them).
            env["GATEWAYZ_KEY_HASH_SECRET"] = secrets.token_urlsafe(32)
            env["GATEWAYZ_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
            out.database = f"PostgreSQL database {name} (dropped after the run)"
        if config.redis:
            prefix = f"gwbench-{secrets.token_hex(4)}"
            env["GATEWAYZ_REDIS_URL"], env["GATEWAYZ_REDIS_PREFIX"] = redis_url, prefix
            cleanup.callback(lambda: asyncio.run(_redis_keys(redis_url, prefix, delete=True)))
            out.redis_prefix = prefix
        if config.limit:
            env["GATEWAYZ_RATE_LIMIT_USER"] = rate_limit
        yield out


def gateway_env(base: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """``base`` (the caller's environment) without its storage settings, plus ``extra``."""
    return {**{k: v for k, v in base.items() if k not in STORAGE_ENV}, **extra}
