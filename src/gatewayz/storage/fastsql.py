"""A lean SQL path for the few statements every request runs (credit hold and settlement).

Through SQLAlchemy each statement cost about a millisecond here: on SQLite every statement is a
hop to aiosqlite's thread (and under load that hop waits for the GIL), on PostgreSQL the ORM and
adapter layers dwarf asyncpg's own ~0.1 ms. The hot path therefore talks to the drivers directly:
- PostgreSQL: an asyncpg pool;
- SQLite: one sqlite3 connection used on the event loop itself. Each statement is a few
  microseconds of local work (WAL mode, no fsync per commit). It never waits on a lock inside
  the loop: `busy_timeout` is 0 and a locked database is retried with `asyncio.sleep`.
SQL is written once with `:name` parameters; PostgreSQL's `$n` form is derived from it.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from gatewayz.settings import Settings
from gatewayz.storage.db import sqlite_pragmas

if TYPE_CHECKING:
    import asyncpg

_NAMED = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")
LOCK_RETRY_SECONDS = 10.0
CHECKPOINT_SECONDS = 1.0
WAL_TRUNCATE_BYTES = 64 * 1024 * 1024


class Tx(Protocol):
    dialect: str

    async def fetchrow(self, sql: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None: ...

    async def fetchall(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]: ...

    async def execute(self, sql: str, params: Mapping[str, Any]) -> int: ...

    async def executemany(self, sql: str, rows: list[Mapping[str, Any]]) -> None: ...

    def ts(self, value: datetime | None) -> Any: ...


@cache
def _to_dollar(sql: str) -> tuple[str, tuple[str, ...]]:
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _NAMED.sub(number, sql), tuple(names)


class _PgTx:
    dialect = "postgresql"

    def __init__(self, con: asyncpg.Connection) -> None:
        self.con = con

    def _args(self, sql: str, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        text, names = _to_dollar(sql)
        return text, [params[n] for n in names]

    async def fetchrow(self, sql: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        text, args = self._args(sql, params)
        row = await self.con.fetchrow(text, *args)
        return tuple(row) if row is not None else None

    async def fetchall(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        text, args = self._args(sql, params)
        return [tuple(row) for row in await self.con.fetch(text, *args)]

    async def execute(self, sql: str, params: Mapping[str, Any]) -> int:
        text, args = self._args(sql, params)
        status = await self.con.execute(text, *args)
        return int(status.rsplit(" ", 1)[-1]) if status and status[-1].isdigit() else 0

    async def fetch_positional(self, text: str, args: list[Any]) -> list[tuple[Any, ...]]:
        """A statement already in `$n` form (e.g. `unnest($1::bigint[], ...)` of whole columns)."""
        return [tuple(row) for row in await self.con.fetch(text, *args)]

    async def executemany(self, sql: str, rows: list[Mapping[str, Any]]) -> None:
        """One pipelined round trip for all rows."""
        text, names = _to_dollar(sql)
        await self.con.executemany(text, [[row[n] for n in names] for row in rows])

    def ts(self, value: datetime | None) -> Any:
        return value


class _SqliteTx:
    dialect = "sqlite"

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    async def fetchrow(self, sql: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        row = self.con.execute(sql, params).fetchone()
        return tuple(row) if row is not None else None

    async def fetchall(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.con.execute(sql, params).fetchall()]

    async def execute(self, sql: str, params: Mapping[str, Any]) -> int:
        return self.con.execute(sql, params).rowcount

    async def executemany(self, sql: str, rows: list[Mapping[str, Any]]) -> None:
        self.con.executemany(sql, rows)

    def ts(self, value: datetime | None) -> Any:
        """The exact text SQLAlchemy stores for a UTC datetime on SQLite (so equality works)."""
        return sqlite_ts(value)


@cache
def _connection_class() -> type[asyncpg.Connection]:
    """asyncpg's connection without its reset query on every release to the pool (`CLOSE ALL;
    UNLISTEN *; RESET ALL; SELECT pg_advisory_unlock_all()`: a round trip per statement here).
    This pool's statements leave no session state to reset: no cursors, LISTEN, session-level SET
    or advisory locks (those live on SQLAlchemy's pool, e.g. the migration lock). An open
    transaction is still rolled back on release (asyncpg does that apart from the query)."""
    import asyncpg

    class LeanConnection(asyncpg.Connection):  # type: ignore[misc]
        def get_reset_query(self) -> str:
            return ""

    return LeanConnection


_last_ts: list[Any] = [None, None]  # the last datetime formatted and its text (a request formats one moment often)


def sqlite_ts(value: datetime | None) -> str | None:
    """`YYYY-MM-DD HH:MM:SS.ffffff` in UTC: what SQLAlchemy's SQLite DateTime stores."""
    if value is None:
        return None
    if value is _last_ts[0]:
        return _last_ts[1]  # type: ignore[no-any-return]
    moment = value if value.tzinfo is UTC else value.astimezone(UTC)
    text = moment.replace(tzinfo=None).isoformat(" ", "microseconds")
    _last_ts[0], _last_ts[1] = value, text
    return text


def _locked(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


class FastSQL:
    """Transactions on the lean path; `open()` at start-up, `close()` at shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dialect = "sqlite" if settings.is_sqlite else "postgresql"
        self._pool: asyncpg.Pool | None = None
        self._sqlite: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        self._checkpointer: asyncio.Task[None] | None = None

    @property
    def is_open(self) -> bool:
        return self._pool is not None or self._sqlite is not None

    async def open(self) -> None:
        if self.dialect == "postgresql":
            import asyncpg

            dsn = self.settings.sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)
            self._pool = await asyncpg.create_pool(dsn, min_size=1, max_size=self.settings.db_pool_size,
                                                   connection_class=_connection_class())
            return
        path = self.settings.sqlite_path()
        con = sqlite3.connect(str(path) if path else ":memory:", isolation_level=None, check_same_thread=False)
        sqlite_pragmas(con)
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA busy_timeout=0")
        con.execute("PRAGMA foreign_keys=ON")
        # A checkpoint copies the WAL into the database file and fsyncs: milliseconds that must not
        # run on the event loop. This connection never checkpoints; a thread does it periodically.
        con.execute("PRAGMA wal_autocheckpoint=0")
        self._sqlite = con
        self._checkpointer = asyncio.create_task(self._checkpoint_loop(str(path) if path else ":memory:"))

    async def _checkpoint_loop(self, path: str) -> None:
        def checkpoint() -> None:
            con = sqlite3.connect(path, timeout=5)
            try:
                con.execute("PRAGMA wal_checkpoint(PASSIVE)")
                # Under continuous writes a passive checkpoint never reaches the last frame, so the
                # WAL is never restarted and grows without end (GBs per 100k requests, its mapped
                # index with it). Past a size: copy the rest and empty it; writers wait (on the
                # loop, asleep) the few milliseconds that takes, as the passive pass did the bulk.
                wal = path + "-wal"
                if os.path.exists(wal) and os.path.getsize(wal) > WAL_TRUNCATE_BYTES:
                    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                con.close()

        while True:
            await asyncio.sleep(CHECKPOINT_SECONDS)
            try:
                await asyncio.to_thread(checkpoint)
            except sqlite3.Error:
                continue

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.cancel()
        if self._pool is not None:
            await self._pool.close()
        if self._sqlite is not None:
            self._sqlite.close()

    async def fetchrow_once(self, sql: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """One statement, its own transaction: a single round trip on PostgreSQL."""
        if self._pool is None:
            async with self.transaction() as tx:
                return await tx.fetchrow(sql, params)
        async with self._pool.acquire() as con:
            return await _PgTx(con).fetchrow(sql, params)

    async def read_one(self, sql: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """One read-only statement outside any write transaction: on SQLite no write lock (a
        plain read on the loop's connection, between this process's transactions), on
        PostgreSQL one round trip."""
        if self._pool is None:
            assert self._sqlite is not None, "FastSQL.open() was not called"
            async with self._lock:
                row: tuple[Any, ...] | None = self._sqlite.execute(sql, params).fetchone()
                return row
        async with self._pool.acquire() as con:
            return await _PgTx(con).fetchrow(sql, params)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        if self._pool is not None:
            async with self._pool.acquire() as con, con.transaction():
                yield _PgTx(con)
            return
        assert self._sqlite is not None, "FastSQL.open() was not called"
        async with self._lock:  # one connection: transactions of this process take turns
            await self._begin_immediate(self._sqlite)
            try:
                yield _SqliteTx(self._sqlite)
            except BaseException:
                self._sqlite.execute("ROLLBACK")
                raise
            await self._commit(self._sqlite)

    @staticmethod
    async def _begin_immediate(con: sqlite3.Connection) -> None:
        await _without_waiting(con, "BEGIN IMMEDIATE", rollback=False)

    @staticmethod
    async def _commit(con: sqlite3.Connection) -> None:
        await _without_waiting(con, "COMMIT", rollback=True)


async def _without_waiting(con: sqlite3.Connection, statement: str, *, rollback: bool) -> None:
    """Run `statement`; while another connection holds the lock, sleep on the loop and retry."""
    delay, waited = 0.0005, 0.0
    while True:
        try:
            con.execute(statement)
            return
        except sqlite3.OperationalError as exc:
            if not _locked(exc) or waited > LOCK_RETRY_SECONDS:
                if rollback:
                    con.execute("ROLLBACK")
                raise
        await asyncio.sleep(delay)
        waited += delay
        delay = min(delay * 2, 0.05)
