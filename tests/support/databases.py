"""Fresh, throwaway databases for a test session: a SQLite file, or a new PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

PG_ADMIN_URL = os.environ.get("GATEWAYZ_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("GATEWAYZ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def backend() -> str:
    value = os.environ.get("GATEWAYZ_TEST_BACKEND", "sqlite").lower()
    if value not in ("sqlite", "postgres"):
        raise ValueError("GATEWAYZ_TEST_BACKEND must be sqlite or postgres")
    return value


def _pg_url_for(name: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"gwtest_{secrets.token_hex(6)}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url_for(name)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def session_database(tmp: Path) -> Iterator[str]:
    if backend() == "postgres":
        with postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{tmp / 'gatewayz-test.db'}"


def run_sql(database_url: str, sql: str, *args: object) -> list[tuple[object, ...]]:
    """Read (or change) the database behind the gateway's back: what is, and is not, stored."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from gatewayz.settings import Settings

    async def query() -> list[tuple[object, ...]]:
        engine = create_async_engine(Settings(database_url=database_url).sqlalchemy_url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(sql), {f"p{i}": a for i, a in enumerate(args)} if args else {})
                return [tuple(row) for row in result.all()] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(query())
