"""The conversation store's pure parts: what items, metadata and settings it accepts
(history/conversation_items.py), the text it indexes, and how a typed query becomes a search
expression that no input can turn into syntax (history/search.py)."""

from __future__ import annotations

import sqlite3

import pytest

from gatewayz.history import search
from gatewayz.history.conversation_items import (
    MAX_METADATA_KEY,
    MAX_METADATA_PAIRS,
    MAX_METADATA_VALUE,
    SEARCH_TEXT_CHARS,
    InvalidConversation,
    ItemTooLarge,
    check_metadata,
    check_settings,
    plausible_id,
    prepare_items,
    search_text,
)


def test_metadata_at_its_limits_is_accepted_and_one_past_is_not() -> None:
    full = {f"{n:0{MAX_METADATA_KEY}d}": "v" * MAX_METADATA_VALUE for n in range(MAX_METADATA_PAIRS)}
    assert check_metadata(full) == full
    assert check_metadata(None) == {}
    for bad in ({**full, "one more": "v"}, {"k" * (MAX_METADATA_KEY + 1): "v"}, {"k": "v" * (MAX_METADATA_VALUE + 1)},
                {"k": None}, {1: "v"}, {"k": "nul\x00"}, "k=v"):
        with pytest.raises(InvalidConversation) as refused:
            check_metadata(bad)
        assert refused.value.param == "metadata" and refused.value.code == "invalid_value"


def test_settings_are_any_small_json_object() -> None:
    assert check_settings({"summarize": True, "nested": {"a": [1, 2]}}) == {"summarize": True, "nested": {"a": [1, 2]}}
    for bad in ([1], "x", {"big": "x" * 20_000}, {"o": object()}, {"s": "\ud800"}):
        with pytest.raises(InvalidConversation):
            check_settings(bad)


def test_items_get_ids_by_kind_and_a_status_where_the_shape_needs_one() -> None:
    prepared = prepare_items([
        {"role": "user", "content": "hi"},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "ok"},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thought"}]},
        {"type": "web_search_call", "status": "completed"},
    ], 10_000)
    assert [p.item_id.split("_")[0] for p in prepared] == ["msg", "fc", "fco", "rs", "item"]
    assert [p.item.get("status") for p in prepared] == ["completed"] * 3 + [None, "completed"]
    assert prepared[0].item["content"] == [{"type": "input_text", "text": "hi"}]
    assert [p.given_id for p in prepared] == [False] * 5


def test_an_item_is_measured_as_the_json_stored() -> None:
    item = {"type": "message", "role": "user", "id": "msg_1", "content": [{"type": "input_text", "text": "x" * 50}]}
    (ok,) = prepare_items([item], 10_000)
    size = len(ok.json.encode())
    assert prepare_items([item], size)[0].item == item | {"status": "completed"}
    with pytest.raises(ItemTooLarge) as big:
        prepare_items([item], size - 1)
    assert big.value.limit == size - 1 and big.value.param == "items[0]"


def test_search_text_is_the_words_a_person_would_look_for() -> None:
    assert search_text({"type": "message", "content": [
        {"type": "input_text", "text": "hello"}, {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
        {"type": "refusal", "refusal": "no"}, {"type": "output_text", "text": "world\x00"}]}) == "hello\nno\nworld "
    assert search_text({"type": "function_call", "name": "lookup", "arguments": '{"q": 1}'}) == 'lookup\n{"q": 1}'
    assert search_text({"type": "function_call_output", "output": [{"type": "input_text", "text": "res"}]}) == "res"
    assert search_text({"type": "function_call_output", "output": "plain"}) == "plain"
    assert search_text({"type": "reasoning", "summary": [{"type": "summary_text", "text": "why"}]}) == "why"
    assert search_text({"type": "image_generation_call", "result": "AAAA"}) == ""
    assert len(search_text({"type": "message", "content": "x" * (SEARCH_TEXT_CHARS + 10)})) == SEARCH_TEXT_CHARS


def test_ids_that_cannot_exist_are_not_looked_up() -> None:
    assert plausible_id("conv_abc") and plausible_id("x" * 128)
    for bad in ("", "x" * 129, "a\x00b", "\ud800", None, 5):
        assert not plausible_id(bad)


def test_query_chunks_keep_words_and_drop_what_has_none() -> None:
    assert search.chunks("  Hello, wörld!  *** -- NEAR ") == ["Hello,", "wörld!", "NEAR"]
    assert search.chunks("") == [] and search.chunks(None) == [] and search.chunks("\x00 \ud800") == []
    assert len(search.chunks(" ".join(["w"] * 100))) == search.MAX_CHUNKS
    assert search.chunks("x" * 1000) == ["x" * search.MAX_CHUNK_CHARS]


HOSTILE = ['"', 'a"b', "NEAR(a b, 2)", "a OR b", "NOT a", "a AND", "text:a", "user_id : 1", "^a", "{title}: a",
           "a*", "(a", "a)", "- a", "'; DROP TABLE t; --", "\"\"\"", "AND OR NOT", "a:*"]


@pytest.mark.parametrize("q", HOSTILE)
def test_a_typed_query_is_never_fts5_syntax(q: str) -> None:
    """Every chunk is one quoted phrase: FTS5 parses the expression and matches the words only, in
    the text column only, for the owner only."""
    con = sqlite3.connect(":memory:")
    con.execute("CREATE VIRTUAL TABLE f USING fts5(text, user_id)")
    con.execute("INSERT INTO f (rowid, text, user_id) VALUES (1, ?, 7), (2, ?, 8)",
                (f"before {q} after", f"before {q} after"))
    con.execute("INSERT INTO f (rowid, text, user_id) VALUES (3, 'a b title user_id 1 near or not', 7)")
    words = search.chunks(q)
    if not words:  # the store answers "nothing" without asking the index
        assert not any(ch.isalnum() for ch in q)
        return
    params = search.match_params("sqlite", 7, words)
    rows = con.execute("SELECT rowid FROM f WHERE f MATCH ? ORDER BY rowid", (params["q_items"],)).fetchall()
    assert (1,) in rows and (2,) not in rows  # the row holding the words always; never user 8's


def test_postgres_gets_plain_words_and_the_owner_as_a_lexeme() -> None:
    assert search.match_params("postgresql", 42, ["it's", "NEAR"]) == {"q": "it's NEAR", "owner": "'user 42'"}
