"""The Alembic migrations produce exactly the schema the code's tables describe."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gatewayz.settings import Settings
from gatewayz.storage.db import create_engine
from gatewayz.storage.migrate import head_revision
from gatewayz.storage.models import metadata


def test_migrated_schema_matches_the_tables(database_url: str, gateway: Any) -> None:
    async def diff() -> tuple[list[Any], str | None]:
        engine = create_engine(Settings(database_url=database_url))
        try:
            async with engine.connect() as conn:

                def compare(sync_conn: Any) -> tuple[list[Any], str | None]:
                    context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                    return compare_metadata(context, metadata), context.get_current_revision()

                return await conn.run_sync(compare)
        finally:
            await engine.dispose()

    differences, revision = asyncio.run(diff())
    assert revision == head_revision()
    assert differences == []


def test_the_fast_head_check_agrees_with_alembic() -> None:
    from alembic.script import ScriptDirectory

    from gatewayz.storage.migrate import alembic_config

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()
