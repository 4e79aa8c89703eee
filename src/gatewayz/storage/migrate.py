"""Apply Alembic migrations programmatically, safely when several processes start at once."""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_PG_LOCK_ID = 0x6A7E  # arbitrary, constant: serialises migrations across gateway processes
_REVISION = re.compile(r'^(down_revision|revision)\s*=\s*["\']?([\w]+|None)["\']?', re.MULTILINE)


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@cache
def head_revision() -> str | None:
    """The head, read from the migration files themselves: importing alembic costs start-up time
    that a gateway whose schema is already current should not pay."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict(_REVISION.findall(path.read_text()))
        if "revision" in found:
            revisions.add(found["revision"])
            if found.get("down_revision") not in (None, "None"):
                parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _create_fresh(connection: Connection, head: str) -> None:
    """An empty database gets the head schema in one go, stamped with the head revision.

    Replaying every migration on a first start costs more start-up time than the whole app; the
    migrations themselves are checked against the same tables by the test suite.
    """
    from gatewayz.storage.models import metadata
    from gatewayz.storage.tables import ChangeCounter

    metadata.create_all(connection)
    connection.execute(ChangeCounter.__table__.insert(), [{"name": "auth", "version": 0}])
    connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
    connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": head})


def _upgrade(connection: Connection, replay: bool = False) -> bool:
    head = head_revision()
    current = _current_revision(connection)
    if head is not None and current == head:
        return False
    if head is not None and current is None and not replay and not inspect(connection).get_table_names():
        _create_fresh(connection, head)
        return True
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    return True


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


async def migrate(engine: AsyncEngine, settings: Settings, *, replay: bool = False) -> bool:
    """Bring the schema to head. Returns True when something was applied.

    `replay=True` runs every migration even on an empty database (the tests check them that way).
    """
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _PG_LOCK_ID})
            try:
                applied = await conn.run_sync(_upgrade, replay)
                await conn.commit()
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _PG_LOCK_ID})
                await conn.commit()
            return applied
    sqlite_path = settings.sqlite_path()
    lock_path = sqlite_path.with_suffix(".migrate.lock") if sqlite_path else settings.data_dir / ".lock"
    with _file_lock(lock_path):
        async with engine.begin() as conn:
            return await conn.run_sync(_upgrade, replay)
