"""A store test module's own database: migrated by replaying every migration (so the migration under
test is what creates its tables), two users to tell tenants apart, and the FastSQL the stores use;
plus the schema comparison the migration tests make."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gatewayz.accounts.tables import User
from gatewayz.history.tables import include_in_schema_comparison
from gatewayz.settings import Settings
from gatewayz.storage.db import Database, create_engine
from gatewayz.storage.fastsql import FastSQL
from gatewayz.storage.migrate import alembic_config, migrate
from gatewayz.storage.models import metadata


@dataclass
class StoreEnv:
    settings: Settings
    db: Database
    sql: FastSQL
    alice: int
    bob: int


EnvT = TypeVar("EnvT", bound=StoreEnv)


@asynccontextmanager
async def store_env(url: str, data_dir: Path, kind: type[EnvT]) -> AsyncIterator[EnvT]:
    """The database at `url` migrated by replay, with two fresh users, as a `kind`."""
    settings = Settings(database_url=url, data_dir=data_dir, environment="dev")
    db = Database(settings)
    await migrate(db.engine, settings, replay=True)
    async with db.transaction() as session:
        people = [User(email=f"{name}-{secrets.token_hex(4)}@example.com", role="user") for name in ("a", "b")]
        session.add_all(people)
        await session.flush()
        alice, bob = (p.id for p in people)
    sql = FastSQL(settings)
    await sql.open()
    try:
        yield kind(settings, db, sql, alice, bob)
    finally:
        await sql.close()
        await db.close()


async def closed_sql(settings: Settings) -> FastSQL:
    """A FastSQL whose pool is closed: every statement fails as if the database were gone."""
    broken = FastSQL(settings)
    await broken.open()
    await broken.close()
    return broken


async def schema_after(
    url: str, data_dir: Path, step: tuple[str, str] | None, list_objects: Callable[[Any], list[Any]] | None = None
) -> tuple[list[Any], str | None, list[Any]]:
    """Apply an alembic step (`("upgrade", "head")`, `("downgrade", "0004")`; or create a fresh
    database the fast way when None), then compare the database with the tables the code describes.
    Returns the differences, the revision, and what `list_objects(sync_conn)` lists (else [])."""
    settings = Settings(database_url=url, data_dir=data_dir, environment="dev")
    engine = create_engine(settings)
    try:
        if step is None:
            await migrate(engine, settings)
        async with engine.begin() as conn:

            def go(sync_conn: Any) -> tuple[list[Any], str | None, list[Any]]:
                if step is not None:
                    config = alembic_config()
                    config.attributes["connection"] = sync_conn
                    getattr(command, step[0])(config, step[1])
                context = MigrationContext.configure(
                    sync_conn, opts={"compare_type": True, "include_name": include_in_schema_comparison}
                )
                objects = list_objects(sync_conn) if list_objects is not None else []
                return compare_metadata(context, metadata), context.get_current_revision(), objects

            return await conn.run_sync(go)
    finally:
        await engine.dispose()
