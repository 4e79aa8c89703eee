"""Appending to conversations (history/conversations.py): turns, once per request id, concurrent
appends, limits and malformed values, summaries; and deferred appends through the spool."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gatewayz.history.conversation_spool import SPOOL_NAME
from gatewayz.history.conversations import (
    ConversationError,
    ConversationFull,
    ConversationStore,
    InvalidConversation,
    ItemTooLarge,
)
from gatewayz.storage.fastsql import FastSQL
from tests.support.conversation_store import (
    Env,
    fts_consistent,
    msg,
    set_updated,
    store_fixtures,
    texts,
)
from tests.support.store_env import closed_sql

store_url, env, store = store_fixtures()
pytestmark = pytest.mark.asyncio(loop_scope="session")


# -- appending -------------------------------------------------------------------------------------


async def test_append_records_the_turn_and_bumps_the_conversation(store: ConversationStore, env: Env) -> None:
    conv = await store.create(env.alice, "live", api_key_id=1, model="old/model", items=[msg("user", "q1")])
    await set_updated(env, conv.id, datetime(2020, 1, 1, tzinfo=UTC))
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    stored = await store.append(
        env.alice,
        "live",
        conv.id,
        [msg("assistant", "a1"), msg("user", "q2")],
        model="new/model",
        provider="fakeopenai",
        request_id="req_1",
        usage=usage,
        tokens=15,
    )
    assert stored is not None and [s.position for s in stored] == [1, 2]
    assert all(
        (s.model, s.provider, s.request_id, s.usage) == ("new/model", "fakeopenai", "req_1", usage) for s in stored
    )
    now = await store.get(env.alice, "live", conv.id)
    assert now is not None and (now.item_count, now.token_total, now.model) == (3, 15, "new/model")
    assert now.updated_at > int(datetime(2021, 1, 1, tzinfo=UTC).timestamp())
    await store.append(env.alice, "live", conv.id, [msg("assistant", "a2")], tokens=3)  # no model: kept
    now = await store.get(env.alice, "live", conv.id)
    assert now is not None and (now.item_count, now.token_total, now.model) == (4, 18, "new/model")
    pair = await store.all_items(env.alice, "live", conv.id)
    assert pair is not None and texts(pair[1]) == ["q1", "a1", "q2", "a2"]
    assert pair[1][1:3] == stored and pair[1][3].usage is None


async def test_an_append_is_applied_once_per_request_id(store: ConversationStore, env: Env) -> None:
    conv = await store.create(env.alice, "live", api_key_id=1)
    turn = [msg("user", "q"), msg("assistant", "a")]
    first = await store.append(env.alice, "live", conv.id, turn, request_id="req_same", tokens=4)
    again = await store.append(env.alice, "live", conv.id, turn, request_id="req_same", tokens=4)
    assert first == again and first is not None and len(first) == 2
    now = await store.get(env.alice, "live", conv.id)
    assert now is not None and (now.item_count, now.token_total) == (2, 4)
    other = await store.create(env.alice, "live", api_key_id=1)  # the same request id elsewhere is new there
    assert len(await store.append(env.alice, "live", other.id, turn, request_id="req_same") or []) == 2


@pytest.mark.parametrize("connections", [1, 2], ids=["one-connection", "two-connections"])
async def test_concurrent_appends_never_collide_nor_interleave(env: Env, tmp_path: Path, connections: int) -> None:
    extra = [FastSQL(env.settings) for _ in range(connections - 1)]
    for sql in extra:
        await sql.open()
    try:
        stores = [env.store(tmp_path), *(ConversationStore(sql, tmp_path) for sql in extra)]
        conv = await stores[0].create(env.alice, "live", api_key_id=1)
        calls, per_call = 12, 4
        results = await asyncio.gather(
            *(
                stores[n % len(stores)].append(
                    env.alice, "live", conv.id, [msg("user", f"call{n}-item{k}") for k in range(per_call)], tokens=1
                )
                for n in range(calls)
            )
        )
        for n, stored in enumerate(results):
            assert stored is not None
            positions = [s.position for s in stored]
            assert positions == list(range(positions[0], positions[0] + per_call))  # contiguous: not interleaved
            assert texts(stored) == [f"call{n}-item{k}" for k in range(per_call)]
        pair = await stores[0].all_items(env.alice, "live", conv.id)
        assert pair is not None
        assert [i.position for i in pair[1]] == list(range(calls * per_call))
        assert (pair[0].item_count, pair[0].token_total) == (calls * per_call, calls)
    finally:
        for sql in extra:
            await sql.close()


async def test_the_item_limit_is_a_conversation_full_error(env: Env, tmp_path: Path) -> None:
    store = env.store(tmp_path, max_items=3)
    with pytest.raises(ConversationFull) as full:
        await store.create(env.alice, "live", api_key_id=1, items=[msg("user", str(n)) for n in range(4)])
    assert full.value.limit == 3 and full.value.code == "conversation_full" and "3" in str(full.value)
    conv = await store.create(env.alice, "live", api_key_id=1, items=[msg("user", "1"), msg("user", "2")])
    with pytest.raises(ConversationFull):
        await store.append(env.alice, "live", conv.id, [msg("user", "3"), msg("user", "4")])
    assert len(await store.append(env.alice, "live", conv.id, [msg("user", "3")]) or []) == 1
    with pytest.raises(ConversationFull):
        await store.append(env.alice, "live", conv.id, [msg("user", "4")])
    now = await store.get(env.alice, "live", conv.id)
    assert now is not None and now.item_count == 3
    first = (await store.all_items(env.alice, "live", conv.id) or (None, []))[1][0]
    assert await store.delete_item(env.alice, "live", conv.id, first.id)  # room again
    assert len(await store.append(env.alice, "live", conv.id, [msg("user", "4")]) or []) == 1


async def test_an_item_over_the_byte_limit_is_refused_naming_it(env: Env, tmp_path: Path) -> None:
    store = env.store(tmp_path, max_item_bytes=300)
    conv = await store.create(env.alice, "live", api_key_id=1)
    with pytest.raises(ItemTooLarge) as big:
        await store.append(env.alice, "live", conv.id, [msg("user", "small"), msg("user", "x" * 400)])
    assert (big.value.limit, big.value.param, big.value.code) == (300, "items[1]", "item_too_large")
    assert "300" in str(big.value)
    now = await store.get(env.alice, "live", conv.id)
    assert now is not None and now.item_count == 0  # nothing half appended


@pytest.mark.parametrize(
    ("call_kwargs", "param"),
    [
        ({"metadata": {f"k{n}": "v" for n in range(17)}}, "metadata"),
        ({"metadata": {"k" * 65: "v"}}, "metadata"),
        ({"metadata": {"k": "v" * 513}}, "metadata"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"metadata": ["k", "v"]}, "metadata"),
        ({"settings": "summarize"}, "settings"),
        ({"settings": {"x": "\ud800"}}, "settings"),
        ({"title": "t" * 513}, "title"),
        ({"title": "nul\x00"}, "title"),
        ({"title": 5}, "title"),
        ({"model": "m" * 257}, "model"),
        ({"items": "hello"}, "items"),
        ({"items": [5]}, "items[0]"),
        ({"items": [{"type": "message", "role": "robot", "content": "x"}]}, "items[0].role"),
        ({"items": [{"type": "message", "role": "user", "content": 5}]}, "items[0].content"),
        ({"items": [{"type": "message", "role": "user", "content": [{"text": "no type"}]}]}, "items[0].content"),
        ({"items": [msg("user", "ok"), {"type": "function_call", "call_id": "c", "arguments": "{}"}]}, "items[1].name"),
        ({"items": [{"type": "function_call_output", "call_id": "c", "output": 5}]}, "items[0].output"),
        ({"items": [{"content": "no type, no role"}]}, "items[0].type"),
        ({"items": [{**msg("user", "a"), "id": ""}]}, "items[0].id"),
        ({"items": [{**msg("user", "a"), "id": "x" * 129}]}, "items[0].id"),
        ({"items": [{**msg("user", "a"), "id": "msg_1"}, {**msg("user", "b"), "id": "msg_1"}]}, "items[1].id"),
        ({"items": [msg("user", "lone \ud800 surrogate")]}, "items[0]"),
    ],
)
async def test_malformed_values_are_refused_naming_the_field(
    store: ConversationStore, env: Env, call_kwargs: dict[str, Any], param: str
) -> None:
    with pytest.raises(InvalidConversation) as refused:
        await store.create(env.alice, "live", api_key_id=1, **call_kwargs)
    assert refused.value.param == param and isinstance(refused.value, ValueError)
    assert issubclass(ConversationFull, ConversationError) and issubclass(ItemTooLarge, ConversationError)
    page, _ = await store.list(env.alice, "live", limit=1000)
    assert all(c.created_at <= int(time.time()) for c in page)  # and nothing was half created:
    if "items" in call_kwargs or "metadata" in call_kwargs:
        conv = await store.create(env.alice, "live", api_key_id=1)
        with pytest.raises(ConversationError):
            if "items" in call_kwargs:
                await store.append(env.alice, "live", conv.id, call_kwargs["items"])
            else:
                await store.update(env.alice, "live", conv.id, metadata=call_kwargs["metadata"])
        assert await store.get(env.alice, "live", conv.id) == conv


async def test_an_item_id_already_in_the_conversation_is_refused(store: ConversationStore, env: Env) -> None:
    conv = await store.create(env.alice, "live", api_key_id=1, items=[{**msg("user", "a"), "id": "msg_taken"}])
    with pytest.raises(InvalidConversation) as refused:
        await store.append(env.alice, "live", conv.id, [msg("user", "b"), {**msg("user", "c"), "id": "msg_taken"}])
    assert refused.value.param == "items[1].id"
    other = await store.create(env.alice, "live", api_key_id=1, items=[{**msg("user", "a"), "id": "msg_taken"}])
    assert other.item_count == 1  # ids are unique per conversation only


async def test_summary_is_kept_unless_a_wider_one_exists(store: ConversationStore, env: Env) -> None:
    conv = await store.create(env.alice, "live", api_key_id=1)
    assert conv.summary is None and conv.summary_upto is None
    assert await store.set_summary(env.alice, "live", conv.id, "first ten", 9) is True
    assert await store.set_summary(env.alice, "live", conv.id, "stale, first five", 4) is False
    assert await store.set_summary(env.alice, "live", conv.id, "first twenty", 19) is True
    now = await store.get(env.alice, "live", conv.id)
    assert now is not None and (now.summary, now.summary_upto) == ("first twenty", 19)
    for bad in (-2, 2**63, "3", True):
        with pytest.raises(InvalidConversation) as refused:
            await store.set_summary(env.alice, "live", conv.id, "x", bad)
        assert refused.value.param == "upto"
    assert await store.set_summary(env.alice, "live", conv.id, "nul \x00 and \ud800", 30) is True
    now = await store.get(env.alice, "live", conv.id)
    assert now is not None and now.summary is not None and "\x00" not in now.summary


async def test_values_at_their_limits_are_stored(store: ConversationStore, env: Env) -> None:
    metadata = {f"{n:064d}": "v" * 512 for n in range(16)}
    conv = await store.create(
        env.alice,
        "live",
        api_key_id=None,
        title="t" * 512,
        model="m" * 256,
        metadata=metadata,
        items=[{**msg("user", "x"), "id": "i" * 128}],
    )
    assert await store.get(env.alice, "live", conv.id) == conv and conv.metadata == metadata
    odd = {"type": "additional_tools", "role": "r\x00" + "o" * 40, "tools": [], "deep": {"a": [1, {"b": None}]}}
    other = await store.create(env.alice, "live", api_key_id=None, items=[odd])
    (stored,) = (await store.all_items(env.alice, "live", other.id) or (None, []))[1]
    assert stored.item == {**odd, "id": stored.id}  # kept whole; only its role column stays empty
    with pytest.raises(InvalidConversation) as refused:
        await store.create(env.alice, "x" * 17, api_key_id=None)
    assert refused.value.param == "environment"



# -- durable appends: the spool ------------------------------------------------------------------


async def test_an_append_while_the_database_is_gone_is_spooled_then_drained(env: Env, tmp_path: Path) -> None:
    up = env.store(tmp_path)
    conv = await up.create(env.alice, "live", api_key_id=1, items=[msg("user", "q")])
    down = ConversationStore(await closed_sql(env.settings), tmp_path)
    turn = [msg("assistant", "kept answer")]
    assert (
        await down.append_durable(env.alice, "live", conv.id, turn, request_id="req_kept", tokens=9, model="m/x")
        is None
    )
    assert down.deferred == 1 and (tmp_path / SPOOL_NAME).exists()
    assert await down.drain() == 0 and down.spool.pending()  # still down: put back, not lost
    assert await up.drain() == 1
    pair = await up.all_items(env.alice, "live", conv.id)
    assert pair is not None and texts(pair[1]) == ["q", "kept answer"]
    assert (pair[0].token_total, pair[0].model, pair[1][1].request_id) == (9, "m/x", "req_kept")
    assert await up.drain() == 0 and not up.spool.pending()


async def test_a_replayed_spool_line_is_never_appended_twice(env: Env, tmp_path: Path) -> None:
    up = env.store(tmp_path)
    conv = await up.create(env.alice, "live", api_key_id=1)
    down = ConversationStore(await closed_sql(env.settings), tmp_path)
    turn = [msg("user", "once"), msg("assistant", "only once")]
    await down.append_durable(env.alice, "live", conv.id, turn, request_id="req_twice", tokens=2)
    await asyncio.to_thread(up.spool.append, up.spool.path.read_text().strip())  # the same line again
    stored = await up.append_durable(env.alice, "live", conv.id, turn, request_id="req_twice", tokens=2)
    assert stored is not None and len(stored) == 2  # written live first (its ids differ from the spooled ones)
    assert await up.drain() == 2  # both lines completed... as no-ops
    now = await up.get(env.alice, "live", conv.id)
    assert now is not None and (now.item_count, now.token_total) == (2, 2)
    fresh = await up.create(env.alice, "live", api_key_id=1)
    await down.append_durable(env.alice, "live", fresh.id, turn, request_id="req_spooled")
    await asyncio.to_thread(up.spool.append, up.spool.path.read_text().strip())
    assert await up.drain() == 2
    pair = await up.all_items(env.alice, "live", fresh.id)
    assert pair is not None and texts(pair[1]) == ["once", "only once"]


async def test_a_missing_table_defers_and_the_drain_completes_it(env: Env, tmp_path: Path) -> None:
    store = env.store(tmp_path)
    conv = await store.create(env.alice, "live", api_key_id=1)
    async with env.sql.transaction() as tx:
        await tx.execute("ALTER TABLE conversation_items RENAME TO conversation_items_away", {})
    try:
        for n in range(3):
            assert (
                await store.append_durable(env.alice, "live", conv.id, [msg("user", f"d{n}")], request_id=f"req_d{n}")
                is None
            )
        assert store.deferred == 3
        assert await store.drain() == 0 and store.spool.pending()
    finally:
        async with env.sql.transaction() as tx:
            await tx.execute("ALTER TABLE conversation_items_away RENAME TO conversation_items", {})
    assert await store.drain() == 3
    pair = await store.all_items(env.alice, "live", conv.id)
    assert pair is not None and texts(pair[1]) == ["d0", "d1", "d2"]
    (hit,) = await store.search(env.alice, "live", "d1")
    assert hit.conversation.id == conv.id
    await fts_consistent(env)


async def test_a_durable_append_the_store_refuses_is_not_spooled(env: Env, tmp_path: Path) -> None:
    store = env.store(tmp_path, max_items=1)
    conv = await store.create(env.alice, "live", api_key_id=1, items=[msg("user", "a")])
    assert await store.append_durable(env.alice, "live", conv.id, [msg("user", "b")], request_id="r1") is None
    assert await store.append_durable(env.alice, "live", "conv_gone", [msg("user", "b")], request_id="r2") is None
    assert await store.append_durable(env.bob, "live", conv.id, [msg("user", "b")], request_id="r3") is None
    assert await store.append_durable(env.alice, "live", conv.id, [{"type": 5}], request_id="r4") is None
    assert not store.spool.pending() and store.deferred == 0
    with pytest.raises(ValueError):
        await store.append_durable(env.alice, "live", conv.id, [msg("user", "b")], request_id="")


async def test_spool_lines_that_can_never_complete_are_set_aside(env: Env, tmp_path: Path) -> None:
    up = env.store(tmp_path)
    conv = await up.create(env.alice, "live", api_key_id=1)
    await ConversationStore(await closed_sql(env.settings), tmp_path).append_durable(
        env.alice, "live", conv.id, [msg("user", "good")], request_id="req_good"
    )
    await ConversationStore(await closed_sql(env.settings), tmp_path).append_durable(
        env.alice, "live", "conv_deleted_meanwhile", [msg("user", "x")], request_id="req_gone"
    )
    for torn in ('{"user_id": 1, "envir', "[1, 2]"):
        await asyncio.to_thread(up.spool.append, torn)
    assert await up.drain() == 1
    assert not up.spool.pending()
    assert up.spool.rejected_path.read_text().splitlines() == ['{"user_id": 1, "envir', "[1, 2]"]
    pair = await up.all_items(env.alice, "live", conv.id)
    assert pair is not None and texts(pair[1]) == ["good"]


