"""The schema: Alembic migrations replayed from nothing give exactly the tables the code describes,
and a fresh database created in one go (the fast first start) is the same schema, stamped at head."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gatewayz.history.tables import include_in_schema_comparison
from gatewayz.settings import Settings
from gatewayz.storage.db import create_engine
from gatewayz.storage.migrate import head_revision, migrate
from gatewayz.storage.models import metadata
from tests.support.databases import backend, postgres_database


def _inspect(database_url: str, data_dir: Path, *, replay: bool | None) -> tuple[list[Any], str | None, list[Any]]:
    async def run() -> tuple[list[Any], str | None, list[Any]]:
        settings = Settings(database_url=database_url, data_dir=data_dir, environment="dev")
        engine = create_engine(settings)
        try:
            if replay is not None:
                await migrate(engine, settings, replay=replay)
            async with engine.connect() as conn:

                def compare(sync_conn: Any) -> tuple[list[Any], str | None, list[Any]]:
                    context = MigrationContext.configure(
                        sync_conn, opts={"compare_type": True, "include_name": include_in_schema_comparison})
                    counters = sync_conn.exec_driver_sql("SELECT name, version FROM change_counters").all()
                    return compare_metadata(context, metadata), context.get_current_revision(), list(counters)

                return await conn.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    if backend() == "postgres":
        with postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'empty.db'}"


@pytest.mark.parametrize("replay", [True, False], ids=["replayed-migrations", "fresh-create"])
def test_schema_matches_the_tables(empty_database: str, tmp_path: Path, replay: bool) -> None:
    differences, revision, counters = _inspect(empty_database, tmp_path, replay=replay)
    assert differences == []
    assert revision == head_revision()
    assert [tuple(row) for row in counters] == [("auth", 0)]


def test_the_session_database_is_at_head(database_url: str, gateway: Any, tmp_path: Path) -> None:
    differences, revision, _ = _inspect(database_url, tmp_path, replay=None)
    assert differences == [] and revision == head_revision()


def test_the_fast_head_check_agrees_with_alembic() -> None:
    from alembic.script import ScriptDirectory

    from gatewayz.storage.migrate import alembic_config

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_a_new_sqlite_database_gets_the_gateways_page_size(tmp_path: Path) -> None:
    """The page size applies only to an empty database, before WAL mode: the first connection sets it."""
    if backend() == "postgres":
        pytest.skip("SQLite only")
    import sqlite3

    from gatewayz.storage.db import SQLITE_PAGE_SIZE, Database

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'fresh.db'}", data_dir=tmp_path, environment="dev")

    async def create() -> None:
        db = Database(settings)
        await migrate(db.engine, settings)
        await db.close()

    asyncio.run(create())
    con = sqlite3.connect(tmp_path / "fresh.db")
    try:
        assert con.execute("PRAGMA page_size").fetchone()[0] == SQLITE_PAGE_SIZE
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        con.close()
