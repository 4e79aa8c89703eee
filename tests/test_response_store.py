"""Stored responses (history/responses.py) against the suite's backend (SQLite or PostgreSQL): save,
read, delete, tenant isolation, the `previous_response_id` chain, deferred saves through the spool,
and migration 0005 up and down. Each module run gets its own database, migrated by replaying every
migration (so 0005 itself is what creates the table)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gatewayz.history import tables as history_tables
from gatewayz.history.responses import SPOOL_NAME, ResponseStore, StoredResponseRecord
from gatewayz.storage.migrate import head_revision
from gatewayz.storage.models import metadata
from tests.support.databases import session_database
from tests.support.store_env import StoreEnv, closed_sql, schema_after, store_env

pytestmark = pytest.mark.asyncio(loop_scope="session")
assert history_tables.StoredResponse.__table__.name in metadata.tables  # the comparisons below need it


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with session_database(tmp_path_factory.mktemp("responses")) as url:
        yield url


class Env(StoreEnv):
    def store(self, data_dir: Path) -> ResponseStore:
        return ResponseStore(self.sql, data_dir)


@pytest.fixture(scope="module")
async def env(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    async with store_env(store_url, tmp_path_factory.mktemp("responses-data"), Env) as opened:
        yield opened


@pytest.fixture
def store(env: Env, tmp_path: Path) -> ResponseStore:
    return env.store(tmp_path)


def _record(
    user_id: int, *, previous: str | None = None, environment: str = "live", text: str = "hi", status: str = "completed"
) -> StoredResponseRecord:
    rid = f"resp_{secrets.token_hex(24)}"
    return StoredResponseRecord(
        id=rid,
        user_id=user_id,
        api_key_id=7,
        environment=environment,
        model="openai/gpt-4o-mini",
        status=status,
        previous_response_id=previous,
        created_at=1_765_000_000,
        response={
            "id": rid,
            "object": "response",
            "status": status,
            "created_at": 1_765_000_000,
            "output": [
                {
                    "id": f"msg_{rid[5:]}",
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": f"answer to {text}"}],
                }
            ],
        },
        input_items=[
            {
                "id": f"in_{rid[5:]}",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            }
        ],
    )


def _texts(items: list[dict[str, Any]] | None) -> list[str]:
    assert items is not None
    return [item["content"][0]["text"] for item in items]


async def _chain(store: ResponseStore, user_id: int, *texts: str) -> list[StoredResponseRecord]:
    records: list[StoredResponseRecord] = []
    for text in texts:
        record = _record(user_id, previous=records[-1].id if records else None, text=text)
        await store.save(record)
        records.append(record)
    return records


# -- save, get, delete -------------------------------------------------------------------------------


async def test_a_saved_response_reads_back_exactly(store: ResponseStore, env: Env) -> None:
    record = _record(env.alice, text='line\u2028separator, NUL \x00, \U0001f600 and "quotes"\nnewline')
    record.response["metadata"] = {"z": "last", "a": "first"}  # key order is kept (not JSONB)
    await store.save(record)
    got = await store.get(env.alice, "live", record.id)
    assert got == record
    assert got is not None and list(got.response["metadata"]) == ["z", "a"]
    assert not (store.spool.path.exists() or store.deferred)


async def test_delete_removes_it_once(store: ResponseStore, env: Env) -> None:
    record = _record(env.alice)
    await store.save(record)
    assert await store.delete(env.alice, "live", record.id) is True
    assert await store.get(env.alice, "live", record.id) is None
    assert await store.delete(env.alice, "live", record.id) is False
    assert await store.get(env.alice, "live", "resp_never_made") is None


async def test_another_user_or_environment_finds_nothing(store: ResponseStore, env: Env) -> None:
    record = _record(env.alice)
    await store.save(record)
    for user_id, environment in ((env.bob, "live"), (env.alice, "test")):
        assert await store.get(user_id, environment, record.id) is None
        assert await store.earlier_items(user_id, environment, record.id) is None
        assert await store.delete(user_id, environment, record.id) is False
    assert await store.get(env.alice, "live", record.id) == record  # none of that touched it


async def test_a_later_save_replaces_the_earlier_version(store: ResponseStore, env: Env) -> None:
    partial = _record(env.alice, status="in_progress", text="partial")
    await store.save(partial)
    final = replace(partial, status="completed", response={**partial.response, "status": "completed"})
    await store.save(final)
    got = await store.get(env.alice, "live", partial.id)
    assert got is not None and got.status == "completed" and got.response["status"] == "completed"


async def test_the_same_id_saved_for_another_tenant_never_takes_it_over(store: ResponseStore, env: Env) -> None:
    mine = _record(env.alice, text="mine")
    await store.save(mine)
    for user_id, environment in ((env.bob, "live"), (env.alice, "test")):
        await store.save(replace(mine, user_id=user_id, environment=environment, input_items=[]))
        assert await store.get(user_id, environment, mine.id) is None
    assert await store.get(env.alice, "live", mine.id) == mine


async def test_what_the_database_can_never_take_is_refused_not_spooled(store: ResponseStore, env: Env) -> None:
    too_long = replace(_record(env.alice), model="m" * 257)
    no_such_user = _record(10**12)
    not_json = replace(_record(env.alice), response={"bad": "\ud800"})  # a lone surrogate
    for record in (too_long, no_such_user, not_json):
        await store.save(record)  # does not raise
        assert await store.get(record.user_id, "live", record.id) is None
    assert not store.spool.pending() and store.deferred == 0


# -- the previous_response_id chain --------------------------------------------------------------


async def test_earlier_items_are_the_whole_conversation_oldest_first(store: ResponseStore, env: Env) -> None:
    first, _, third = await _chain(store, env.alice, "one", "two", "three")
    assert _texts(await store.earlier_items(env.alice, "live", third.id)) == [
        "one",
        "answer to one",
        "two",
        "answer to two",
        "three",
        "answer to three",
    ]
    assert _texts(await store.earlier_items(env.alice, "live", first.id)) == ["one", "answer to one"]
    assert await store.earlier_items(env.alice, "live", "resp_never_made") is None


async def test_a_long_chain_is_cut_at_its_oldest_end(store: ResponseStore, env: Env) -> None:
    records = await _chain(store, env.alice, *(f"t{i}" for i in range(6)))
    assert _texts(await store.earlier_items(env.alice, "live", records[-1].id, max_responses=2)) == [
        "t4",
        "answer to t4",
        "t5",
        "answer to t5",
    ]
    assert _texts(await store.earlier_items(env.alice, "live", records[-1].id, max_responses=1)) == [
        "t5",
        "answer to t5",
    ]
    with pytest.raises(ValueError):
        await store.earlier_items(env.alice, "live", records[-1].id, max_responses=0)


async def test_a_deleted_middle_response_ends_the_chain(store: ResponseStore, env: Env) -> None:
    _, second, third = await _chain(store, env.alice, "one", "two", "three")
    assert await store.delete(env.alice, "live", second.id)
    assert _texts(await store.earlier_items(env.alice, "live", third.id)) == ["three", "answer to three"]


async def test_the_chain_never_follows_into_another_tenant(store: ResponseStore, env: Env) -> None:
    (alices,) = await _chain(store, env.alice, "alice's secret")
    bobs = _record(env.bob, previous=alices.id, text="bob's")
    sandbox = _record(env.alice, previous=alices.id, environment="test", text="sandbox")
    await store.save(bobs)
    await store.save(sandbox)
    assert _texts(await store.earlier_items(env.bob, "live", bobs.id)) == ["bob's", "answer to bob's"]
    assert _texts(await store.earlier_items(env.alice, "test", sandbox.id)) == ["sandbox", "answer to sandbox"]


async def test_a_cycle_is_followed_once(store: ResponseStore, env: Env) -> None:
    a, b = _record(env.alice, text="a"), _record(env.alice, text="b")
    a.previous_response_id, b.previous_response_id = b.id, a.id
    await store.save(a)
    await store.save(b)
    assert _texts(await store.earlier_items(env.alice, "live", a.id)) == ["b", "answer to b", "a", "answer to a"]
    assert _texts(await store.earlier_items(env.alice, "live", a.id, max_responses=5)) == [
        "b",
        "answer to b",
        "a",
        "answer to a",
    ]


# -- saves the database cannot take now: spooled, then drained ----------------------------------


async def test_a_save_while_the_database_is_gone_is_spooled_then_drained(env: Env, tmp_path: Path) -> None:
    down = ResponseStore(await closed_sql(env.settings), tmp_path)
    record = _record(env.alice, text="kept")
    await down.save(record)
    assert down.deferred == 1 and (tmp_path / SPOOL_NAME).exists()
    assert await down.drain() == 0 and down.spool.pending()  # still down: put back, not lost
    up = env.store(tmp_path)  # another process (or this one after a restart) on the same data dir
    assert await up.get(env.alice, "live", record.id) is None
    assert await up.drain() == 1
    assert await up.get(env.alice, "live", record.id) == record
    assert await up.drain() == 0 and not up.spool.pending()


async def test_a_missing_table_defers_and_the_drain_completes_it(env: Env, tmp_path: Path) -> None:
    store = env.store(tmp_path)
    records = [_record(env.alice, text=f"r{i}") for i in range(3)]
    async with env.sql.transaction() as tx:
        await tx.execute("ALTER TABLE stored_responses RENAME TO stored_responses_away", {})
    try:
        for record in records:
            await store.save(record)
        assert store.deferred == 3
        assert await store.drain() == 0 and store.spool.pending()
    finally:
        async with env.sql.transaction() as tx:
            await tx.execute("ALTER TABLE stored_responses_away RENAME TO stored_responses", {})
    assert await store.drain() == 3
    for record in records:
        assert await store.get(env.alice, "live", record.id) == record


async def test_a_late_replay_of_a_partial_never_replaces_the_final(env: Env, tmp_path: Path) -> None:
    partial = _record(env.alice, status="in_progress")
    await ResponseStore(await closed_sql(env.settings), tmp_path).save(partial)  # spooled
    final = replace(partial, status="completed")
    store = env.store(tmp_path)
    await store.save(final)  # the database is back for the final version
    assert await store.drain() == 1  # the partial is written... as a no-op against a newer revision
    got = await store.get(env.alice, "live", partial.id)
    assert got is not None and got.status == "completed"


async def test_a_spool_line_that_can_never_complete_is_set_aside(env: Env, tmp_path: Path) -> None:
    store = env.store(tmp_path)
    good = _record(env.alice)
    await ResponseStore(await closed_sql(env.settings), tmp_path).save(good)
    await asyncio.to_thread(store.spool.append, '{"id": "resp_torn", "user_')  # a crash mid-write
    await asyncio.to_thread(store.spool.append, "[1, 2]")
    assert await store.drain() == 1
    assert await store.get(env.alice, "live", good.id) == good
    assert not store.spool.pending()
    assert store.spool.rejected_path.read_text().splitlines() == ['{"id": "resp_torn", "user_', "[1, 2]"]


# -- migration 0005 ----------------------------------------------------------------------------


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    with session_database(tmp_path) as url:
        yield url


async def _schema(url: str, data_dir: Path, step: tuple[str, str]) -> tuple[list[Any], str | None]:
    """Apply an alembic step (`("upgrade", "head")`, `("downgrade", "0004")`), then compare the
    database with the tables the code describes."""
    differences, revision, _ = await schema_after(url, data_dir, step)
    return differences, revision


async def test_migration_0005_upgrades_and_downgrades_cleanly(empty_url: str, tmp_path: Path) -> None:
    assert await _schema(empty_url, tmp_path, ("upgrade", "head")) == ([], head_revision())
    await _schema(empty_url, tmp_path, ("downgrade", "0005"))  # later revisions first
    differences, revision = await _schema(empty_url, tmp_path, ("downgrade", "0004"))
    assert revision == "0004"
    # what 0005 adds is all that is missing besides later revisions' tables, and nothing else changed
    later = {"conversations", "conversation_items", "catalog_models", "catalog_prices", "catalog_syncs",
             "provider_health", "roles", "user_roles", "audit_records",  # 0006, 0007, 0008, 0009
             "signin_identities", "signin_passwords", "signin_password_resets", "signin_totp",  # 0011
             "signin_recovery_codes", "signin_sessions",
             "plans", "plan_subscriptions", "plan_credit_grants", "trials", "trial_quotas",  # 0012
             "stripe_events", "payments", "payment_refunds",  # 0013
             "cap_spend", "teams", "team_members", "team_invitations", "team_keys",  # 0014
             "coupons", "coupon_redemptions", "referral_codes", "referrals"}  # 0017
    ours = [d for d in differences if d[0] != "add_column"  # 0010's usage_records.images
            and (d[1].name if d[0] == "add_table" else d[1].table.name) not in later
            and not (d[0] == "add_index" and d[1].name == "ix_usage_records_created")]  # 0008's index
    assert [d[0] for d in ours] == ["add_table", "add_index", "add_index"]
    assert {d[1].name if d[0] == "add_table" else d[1].table.name for d in ours} == {"stored_responses"}
    assert await _schema(empty_url, tmp_path, ("upgrade", "head")) == ([], head_revision())


async def test_the_shared_metadata_includes_the_history_tables() -> None:
    """A fresh database is created from `gatewayz.storage.models.metadata` in one go: without the
    history tables imported there, it would be stamped at head with no stored_responses table."""
    probe = "import gatewayz.storage.models as m; print('stored_responses' in m.metadata.tables)"
    out = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "True"
