"""Migration 0006 (conversations and their search objects) up and down, and a fresh database's
schema against the replayed migrations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gatewayz.storage.migrate import head_revision
from tests.support.databases import backend, session_database
from tests.support.store_env import schema_after

pytestmark = pytest.mark.asyncio(loop_scope="session")


# -- migration 0006 ------------------------------------------------------------------------------


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    with session_database(tmp_path) as url:
        yield url


def _search_objects(sync_conn: Any) -> list[Any]:
    """The full-text search objects there are: FTS5 tables and triggers, or PostgreSQL indexes."""
    if sync_conn.dialect.name == "sqlite":
        search = sync_conn.exec_driver_sql(
            "SELECT type, name, sql FROM sqlite_master WHERE name LIKE 'history_fts%' ORDER BY name"
        ).all()
    else:
        search = sync_conn.exec_driver_sql(
            "SELECT 'index', indexname, indexdef FROM pg_indexes WHERE indexname LIKE '%_search' ORDER BY indexname"
        ).all()
    return [tuple(r) for r in search]


async def _schema(url: str, data_dir: Path, step: tuple[str, str] | None) -> tuple[list[Any], str | None, list[Any]]:
    """Apply an alembic step (or create a fresh database the fast way when None), then compare the
    database with the tables the code describes; also list the search objects there are."""
    return await schema_after(url, data_dir, step, _search_objects)


@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
async def test_migration_0006_upgrades_and_downgrades_cleanly(empty_url: str, tmp_path: Path) -> None:
    differences, revision, search = await _schema(empty_url, tmp_path, ("upgrade", "head"))
    assert (differences, revision) == ([], head_revision())
    expected = 16 if backend() == "sqlite" else 2  # 2 FTS5 tables, their 8 shadow tables, 6 triggers
    assert len(search) == expected
    differences, revision, left = await _schema(empty_url, tmp_path, ("downgrade", "0005"))
    assert revision == "0005" and left == []
    later = {"catalog_models", "catalog_prices", "catalog_syncs", "provider_health",  # 0007, 0008
             "roles", "user_roles", "audit_records",  # 0009
             "signin_identities", "signin_passwords", "signin_password_resets", "signin_totp",  # 0011
             "signin_recovery_codes", "signin_sessions",
             "plans", "plan_subscriptions", "plan_credit_grants", "trials", "trial_quotas",  # 0012
             "stripe_events", "payments", "payment_refunds",  # 0013
             "cap_spend", "teams", "team_members", "team_invitations", "team_keys",  # 0014
             "coupons", "coupon_redemptions", "referral_codes", "referrals"}  # 0017
    differences = [d for d in differences if d[0] != "add_column"  # 0010's usage_records.images
            and (d[1].name if d[0] == "add_table" else d[1].table.name) not in later
            and not (d[0] == "add_index" and d[1].name == "ix_usage_records_created")]  # 0008's index
    # what 0006 adds is all that is missing besides later revisions' tables, and nothing else changed
    assert {d[1].name if d[0] == "add_table" else d[1].table.name for d in differences} == {
        "conversations",
        "conversation_items",
    }
    assert (
        sorted(d[0] for d in differences) == ["add_index"] * (5 if backend() == "postgres" else 3) + ["add_table"] * 2
    )
    assert (await _schema(empty_url, tmp_path, ("upgrade", "head")))[:3] == ([], head_revision(), search)


@pytest.fixture
def second_empty_url(tmp_path: Path) -> Iterator[str]:
    second = tmp_path / "second"
    second.mkdir()
    with session_database(second) as url:
        yield url


@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
async def test_a_fresh_database_gets_the_same_search_objects_as_the_migration(
    empty_url: str, second_empty_url: str, tmp_path: Path
) -> None:
    """A first start creates the schema from the metadata in one go (storage/migrate.py): the DDL
    attached to the tables must give the same search objects as replaying 0006."""
    replayed = await _schema(empty_url, tmp_path, ("upgrade", "head"))
    fresh = await _schema(second_empty_url, tmp_path, None)
    assert fresh == replayed and fresh[0] == [] and fresh[2]
