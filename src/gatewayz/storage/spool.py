"""A durable local spool: one line per item that the database could not take when it mattered.

Writers append under the file's lock and fsync, so a line that `append` returned for survives a
crash. A drainer takes the whole file by renaming it (writers that opened the old name notice the
rename and move on to a fresh file), reads what it took under the same lock (waiting for a writer
that opened the file before the rename), completes the lines, puts back those that still fail, and
deletes what it took. Files left behind by a drainer that died are taken too. Another live drainer's
file may be taken as well, so a line can be completed twice: consumers must be idempotent.

Every method blocks (locks, fsync): call them through `asyncio.to_thread`. The async helpers
below (`keep_line`, `drain_spool`) do so: they are the after-the-answer stores' side of a spool
(a line kept when the database could not take it, completed later by a periodic job).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import secrets
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson


@dataclass(frozen=True)
class Taken:
    """One file taken by a drainer, and its lines (without their newline)."""

    path: Path
    lines: list[str]


class Spool:
    """A JSON-lines spool at `path` (the directory is created on first append, private)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def rejected_path(self) -> Path:
        """Lines that can never complete are moved here: kept for a person, never drained."""
        return self.path.with_name(self.path.name + ".rejected")

    def append(self, line: str) -> None:
        """Append one line durably. A newline inside it would split it in two: refused."""
        if "\n" in line or "\r" in line:
            raise ValueError("a spool line cannot contain a line break")
        _append_locked(self.path, line.encode("utf-8") + b"\n")

    def reject(self, line: str) -> None:
        """Keep a line that failed for good (corrupt, or refused by the database's rules)."""
        _append_locked(self.rejected_path, line.replace("\r", " ").replace("\n", " ").encode("utf-8") + b"\n")

    def pending(self) -> bool:
        """Whether anything waits (the current file or files left by a drainer)."""
        return self.path.exists() or any(self._draining())

    def take(self) -> list[Taken]:
        """Take the current file (by rename) and any left by an earlier drainer, with their lines.

        A file that disappears meanwhile (another drainer finished it) is skipped."""
        paths = list(self._draining())
        if self.path.exists():
            taken = self.path.with_name(f"{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.draining")
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.path, taken)
                paths.append(taken)
        out: list[Taken] = []
        for path in paths:
            try:
                out.append(Taken(path, _read_locked(path)))
            except FileNotFoundError:
                continue
        return out

    def finish(self, taken: Taken) -> None:
        """Forget a taken file once each of its lines is completed, put back or rejected."""
        taken.path.unlink(missing_ok=True)

    def _draining(self) -> list[Path]:
        if not self.path.parent.exists():
            return []
        return sorted(self.path.parent.glob(self.path.name + ".*.draining"))


def _append_locked(path: Path, data: bytes) -> None:
    """Append under the file's lock; if a drainer renamed the file meanwhile, append to the new one."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    while True:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(path).st_ino
            except FileNotFoundError:
                current = None
            if current != os.fstat(fd).st_ino:
                continue  # renamed by a drainer after we opened it: open the new file
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            return
        finally:
            os.close(fd)  # also releases the lock


def _read_locked(path: Path) -> list[str]:
    """The file's lines. Split on newlines only: JSON text may hold U+2028 and other characters
    that `str.splitlines` would break on."""
    with open(path, "rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # waits for a writer that had it open before the rename
        try:
            data = handle.read()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return [line.decode("utf-8", errors="replace") for line in data.split(b"\n") if line.strip()]


# -- the stores' side: keep a line, drain the spool -------------------------------------------


@dataclass(frozen=True)
class DrainLog:
    """The events a drain logs at error level, under its store's names."""

    logger: Any  # a structlog logger
    refused: str  # a line set aside for good (in the spool's rejected file)
    still_failing: str  # the database failed again: the rest of the file was put back
    failed: str  # the drain itself failed (the disk)


async def keep_line(spool: Spool, payload: dict[str, Any]) -> str:
    """Append `payload` as a JSON line; returns where it is kept ("spool", or "nowhere (why)" when
    the disk failed too), for the caller's log line."""
    try:
        await asyncio.to_thread(spool.append, orjson.dumps(payload).decode())
        return "spool"
    except Exception as spool_error:  # the disk too: nothing durable is left
        return f"nowhere ({describe(spool_error)})"


async def drain_spool(
    spool: Spool,
    complete: Callable[[str], Awaitable[bool]],
    never_completes: Callable[[Exception], bool],
    events: DrainLog,
) -> int:
    """Complete the spool's lines with `complete` (True: now in the database; False: dropped, which
    `complete` logs); returns how many are now in the database. A line whose failure
    `never_completes` is set aside; on any other failure the database is taken to be down and the
    rest of the file is put back untried. Safe in every process at once and to repeat (so
    `complete` must be idempotent). Never raises: it runs inside a periodic job whose other work
    must go on; a file it could not finish stays in the spool and is taken again next time."""
    done = 0
    try:
        if not await asyncio.to_thread(spool.pending):
            return 0
        for taken in await asyncio.to_thread(spool.take):
            done += await _drain_file(spool, taken, complete, never_completes, events)
    except Exception as exc:  # the disk (the database's failures are handled per line)
        events.logger.error(events.failed, error=describe(exc))
    return done


async def _drain_file(
    spool: Spool,
    taken: Taken,
    complete: Callable[[str], Awaitable[bool]],
    never_completes: Callable[[Exception], bool],
    events: DrainLog,
) -> int:
    done = 0
    down: Exception | None = None  # once the database fails, put the rest back untried
    for line in taken.lines:
        if down is not None:
            await asyncio.to_thread(spool.append, line)
            continue
        try:
            completed = await complete(line)
        except Exception as exc:
            if never_completes(exc):
                await asyncio.to_thread(spool.reject, line)
                events.logger.error(events.refused, kept_in=str(spool.rejected_path), error=describe(exc))
            else:
                down = exc
                await asyncio.to_thread(spool.append, line)
            continue
        if completed:
            done += 1
    await asyncio.to_thread(spool.finish, taken)
    if down is not None:
        events.logger.error(events.still_failing, error=describe(down))
    return done


def refused_for_good(exc: BaseException) -> bool:
    """Whether the database refused a row by its rules (a constraint: the user is gone; a value out
    of range), so that trying again can never succeed. Anything else may be an outage."""
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    if type(exc).__module__.startswith("asyncpg"):
        from asyncpg import exceptions

        return isinstance(exc, exceptions.IntegrityConstraintViolationError | exceptions.DataError)
    return False


def describe(exc: BaseException) -> str:
    """An exception for a log line: its type and message, at most 300 characters."""
    return f"{type(exc).__name__}: {exc}"[:300]
