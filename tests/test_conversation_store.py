"""The conversation store (history/conversations.py) against the suite's backend (SQLite or
PostgreSQL): create, read, update, delete, tenant isolation, ordering and cursors, items."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from gatewayz.history.conversations import (
    UNSET,
    ConversationStore,
    InvalidConversation,
)
from tests.support.conversation_store import (
    Env,
    call,
    fresh_user,
    msg,
    output,
    set_updated,
    store_fixtures,
    texts,
)

store_url, env, store = store_fixtures()
pytestmark = pytest.mark.asyncio(loop_scope="session")


# -- create, get, update, delete ---------------------------------------------------------------


async def test_a_created_conversation_reads_back_with_its_items(store: ConversationStore, env: Env) -> None:
    given = [
        msg("system", "be brief"),
        msg("user", 'hi \x00 \u2028 \U0001f600 "q"'),
        msg("assistant", "hello"),
        call("lookup", '{"q": "weather"}'),
        output("sunny"),
    ]
    conv = await store.create(
        env.alice,
        "live",
        api_key_id=7,
        title="Greeting",
        model="openai/gpt-4o-mini",
        metadata={"z": "last", "a": "first"},
        settings={"summarize": True},
        items=given,
    )
    assert conv.id.startswith("conv_") and len(conv.id) == 53
    assert (conv.item_count, conv.token_total, conv.api_key_id, conv.environment) == (5, 0, 7, "live")
    got = await store.get(env.alice, "live", conv.id)
    assert got == conv and list(got.metadata) == ["z", "a"]
    pair = await store.all_items(env.alice, "live", conv.id)
    assert pair is not None and pair[0] == conv
    items = pair[1]
    assert [i.position for i in items] == [0, 1, 2, 3, 4]
    assert [i.item["id"].split("_")[0] for i in items] == ["msg", "msg", "msg", "fc", "fco"]
    assert all(len(i.item["id"].split("_")[1]) == 48 for i in items)
    assert all(i.item["status"] == "completed" for i in items)
    assert items[1].item["content"][0]["text"] == 'hi \x00 \u2028 \U0001f600 "q"'
    assert items[3].item == {**given[3], "id": items[3].id, "status": "completed"}
    assert given[0].get("id") is None  # the caller's dicts are not changed


async def test_string_content_and_easy_messages_are_completed(store: ConversationStore, env: Env) -> None:
    conv = await store.create(
        env.alice,
        "live",
        api_key_id=None,
        items=[
            {"role": "user", "content": "plain"},
            {"type": "message", "role": "assistant", "content": "answer"},
            {"id": "msg_mine", "type": "message", "role": "developer", "content": [], "status": "incomplete"},
        ],
    )
    pair = await store.all_items(env.alice, "live", conv.id)
    assert pair is not None
    a, b, c = (i.item for i in pair[1])
    assert a["type"] == "message" and a["content"] == [{"type": "input_text", "text": "plain"}]
    assert b["content"] == [{"type": "output_text", "text": "answer", "annotations": []}]
    assert (c["id"], c["status"]) == ("msg_mine", "incomplete")


async def test_update_changes_only_what_is_given(store: ConversationStore, env: Env) -> None:
    conv = await store.create(
        env.alice, "live", api_key_id=1, title="old", metadata={"k": "v"}, settings={"summarize": True}
    )
    renamed = await store.update(env.alice, "live", conv.id, title="new")
    assert renamed is not None and (renamed.title, renamed.metadata, renamed.settings) == (
        "new",
        {"k": "v"},
        {"summarize": True},
    )
    tagged = await store.update(env.alice, "live", conv.id, metadata={"x": "y"})
    assert tagged is not None and (tagged.title, tagged.metadata) == ("new", {"x": "y"})
    cleared = await store.update(env.alice, "live", conv.id, title=None, metadata=None, settings={})
    assert cleared is not None and (cleared.title, cleared.metadata, cleared.settings) == (None, {}, {})
    assert await store.update(env.alice, "live", conv.id, title=UNSET) is not None  # nothing given: a touch
    touched = await store.update(env.alice, "live", conv.id)
    assert touched is not None and await store.get(env.alice, "live", conv.id) == touched


async def test_delete_takes_the_items_too(store: ConversationStore, env: Env) -> None:
    conv = await store.create(env.alice, "live", api_key_id=1, items=[msg("user", "bye")])
    (item,) = (await store.all_items(env.alice, "live", conv.id) or (None, []))[1]
    assert await store.delete(env.alice, "live", conv.id) is True
    assert await store.get(env.alice, "live", conv.id) is None
    assert await store.get_item(env.alice, "live", conv.id, item.id) is None
    assert await store.delete(env.alice, "live", conv.id) is False
    async with env.sql.transaction() as tx:
        assert await tx.fetchall("SELECT id FROM conversation_items WHERE conversation_id = :c", {"c": conv.id}) == []


# -- isolation -----------------------------------------------------------------------------------


async def test_another_user_or_environment_finds_nothing(store: ConversationStore, env: Env) -> None:
    word = f"secretword{secrets.token_hex(4)}"
    conv = await store.create(env.alice, "live", api_key_id=1, title=f"title {word}", items=[msg("user", word)])
    pair = await store.all_items(env.alice, "live", conv.id)
    assert pair is not None
    item_id = pair[1][0].id
    for user_id, environment in ((env.bob, "live"), (env.alice, "test")):
        assert await store.get(user_id, environment, conv.id) is None
        assert await store.update(user_id, environment, conv.id, title="stolen") is None
        assert await store.items(user_id, environment, conv.id) is None
        assert await store.all_items(user_id, environment, conv.id) is None
        assert await store.get_item(user_id, environment, conv.id, item_id) is None
        assert await store.delete_item(user_id, environment, conv.id, item_id) is False
        assert await store.append(user_id, environment, conv.id, [msg("user", "x")]) is None
        assert await store.append(user_id, environment, conv.id, [msg("user", "x")], request_id="r") is None
        assert await store.set_summary(user_id, environment, conv.id, "s", 0) is False
        assert await store.search(user_id, environment, word) == []
        page, _ = await store.list(user_id, environment, limit=100)
        assert conv.id not in {c.id for c in page}
        assert (await store.list(user_id, environment, q=word)) == ([], False)
        with pytest.raises(InvalidConversation):  # another tenant's id is no cursor (and says nothing more)
            await store.list(user_id, environment, after=conv.id)
        assert await store.delete(user_id, environment, conv.id) is False
    assert await store.get(env.alice, "live", conv.id) == conv  # none of that touched it
    assert texts((await store.all_items(env.alice, "live", conv.id) or (None, []))[1]) == [word]


async def test_hostile_ids_are_simply_not_found(store: ConversationStore, env: Env) -> None:
    conv = await store.create(env.alice, "live", api_key_id=1, items=[msg("user", "x")])
    for bad in ("", "conv_\x00", "\ud800", "x" * 10_000, "conv_' OR 1=1 --"):
        assert await store.get(env.alice, "live", bad) is None
        assert await store.delete(env.alice, "live", bad) is False
        assert await store.all_items(env.alice, "live", bad) is None
        assert await store.items(env.alice, "live", bad) is None
        assert await store.get_item(env.alice, "live", conv.id, bad) is None
        assert await store.delete_item(env.alice, "live", conv.id, bad) is False
        assert await store.append(env.alice, "live", bad, [msg("user", "x")]) is None
        with pytest.raises(InvalidConversation) as refused:
            await store.items(env.alice, "live", conv.id, after=bad)
        assert refused.value.param == "after"


# -- listing -----------------------------------------------------------------------------------


async def test_listing_is_newest_updated_first_with_cursors(store: ConversationStore, env: Env) -> None:
    user = await fresh_user(env)
    convs = [await store.create(user, "live", api_key_id=1, title=f"c{n}") for n in range(7)]
    base = datetime(2030, 1, 1, tzinfo=UTC)
    for n, conv in enumerate(convs):
        await set_updated(env, conv.id, base + timedelta(seconds=n))
    await set_updated(env, convs[2].id, base + timedelta(seconds=3))  # a tie with c3: the id decides
    newest_first = sorted(convs, key=lambda c: (3 if c is convs[2] else convs.index(c), c.id), reverse=True)
    seen, after, pages = [], None, 0
    while True:
        page, more = await store.list(user, "live", limit=3, after=after)
        seen += [c.id for c in page]
        pages += 1
        if not more:
            break
        after = page[-1].id
    assert seen == [c.id for c in newest_first] and pages == 3
    oldest_first, _ = await store.list(user, "live", limit=100, order="asc")
    assert [c.id for c in oldest_first] == seen[::-1]
    page, more = await store.list(user, "live", limit=7)
    assert len(page) == 7 and more is False
    second, _ = await store.list(user, "live", limit=2, order="asc", after=oldest_first[1].id)
    assert [c.id for c in second] == [c.id for c in oldest_first[2:4]]
    for bad in ({"limit": 0}, {"limit": 1001}, {"limit": True}, {"order": "sideways"}):
        with pytest.raises(InvalidConversation) as refused:
            await store.list(user, "live", **bad)
        assert refused.value.param in ("limit", "order")


async def test_listing_filters_by_model_time_and_words(store: ConversationStore, env: Env) -> None:
    user = await fresh_user(env)
    a = await store.create(user, "live", api_key_id=1, model="m/a", items=[msg("user", "pineapple pizza")])
    b = await store.create(user, "live", api_key_id=1, model="m/b", title="Pineapple plans")
    c = await store.create(user, "live", api_key_id=1, model="m/a", items=[msg("user", "nothing here")])
    t0 = datetime(2031, 1, 1, tzinfo=UTC)
    for n, conv in enumerate((a, b, c)):
        await set_updated(env, conv.id, t0 + timedelta(days=n))
    ids = lambda page: [x.id for x in page[0]]  # noqa: E731
    assert ids(await store.list(user, "live", model="m/a")) == [c.id, a.id]
    assert ids(await store.list(user, "live", model="nope\x00")) == []
    assert ids(await store.list(user, "live", since=t0 + timedelta(days=1))) == [c.id, b.id]
    assert ids(await store.list(user, "live", until=t0 + timedelta(days=1))) == [a.id]
    assert ids(
        await store.list(
            user, "live", since=(t0 + timedelta(days=1)).timestamp(), until=(t0 + timedelta(days=2)).timestamp()
        )
    ) == [b.id]
    assert ids(await store.list(user, "live", q="PINEAPPLE")) == [b.id, a.id]  # a title, an item
    assert ids(await store.list(user, "live", q="pineapple pizza")) == [a.id]
    assert ids(await store.list(user, "live", q="   ")) == [c.id, b.id, a.id]  # blank: no filter
    assert ids(await store.list(user, "live", q="***")) == []  # no words: nothing matches
    with pytest.raises(InvalidConversation):
        await store.list(user, "live", since=datetime(2031, 1, 1))  # naive: which zone?


# -- items ---------------------------------------------------------------------------------------


async def test_items_page_both_ways_with_item_cursors(store: ConversationStore, env: Env) -> None:
    conv = await store.create(env.alice, "live", api_key_id=1, items=[msg("user", f"m{n}") for n in range(5)])
    page, more = await store.items(env.alice, "live", conv.id, limit=2) or ([], False)
    assert texts(page) == ["m0", "m1"] and more
    page, more = await store.items(env.alice, "live", conv.id, limit=2, after=page[-1].id) or ([], False)
    assert texts(page) == ["m2", "m3"] and more
    page, more = await store.items(env.alice, "live", conv.id, limit=2, after=page[-1].id) or ([], False)
    assert texts(page) == ["m4"] and not more
    page, more = await store.items(env.alice, "live", conv.id, limit=3, order="desc") or ([], False)
    assert texts(page) == ["m4", "m3", "m2"] and more
    page, more = await store.items(env.alice, "live", conv.id, limit=3, order="desc", after=page[-1].id) or ([], 0)
    assert texts(page) == ["m1", "m0"] and not more
    last = page[-1].id
    assert await store.items(env.alice, "live", conv.id, order="desc", after=last) == ([], False)
    empty = await store.create(env.alice, "live", api_key_id=1)
    assert await store.items(env.alice, "live", empty.id) == ([], False)
    assert await store.all_items(env.alice, "live", empty.id) == (empty, [])
    with pytest.raises(InvalidConversation) as refused:
        await store.items(env.alice, "live", conv.id, after="msg_not_here")
    assert refused.value.param == "after"


async def test_get_and_delete_one_item(store: ConversationStore, env: Env) -> None:
    conv = await store.create(env.alice, "live", api_key_id=1, items=[msg("user", "a"), msg("assistant", "b")])
    first, second = (await store.all_items(env.alice, "live", conv.id) or (None, []))[1]
    assert await store.get_item(env.alice, "live", conv.id, second.id) == second
    assert await store.delete_item(env.alice, "live", conv.id, first.id) is True
    assert await store.delete_item(env.alice, "live", conv.id, first.id) is False
    assert await store.get_item(env.alice, "live", conv.id, first.id) is None
    after = await store.get(env.alice, "live", conv.id)
    assert after is not None and after.item_count == 1
    other = await store.create(env.alice, "live", api_key_id=1)
    assert await store.delete_item(env.alice, "live", other.id, second.id) is False  # not that conversation's
    stored = await store.append(env.alice, "live", conv.id, [msg("user", "c")]) or []
    assert stored[0].position == 2  # positions are never reused


