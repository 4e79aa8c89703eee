"""The history stage's copy of conversation histories (history/history_cache.py): valid at one
items version only, extended by this process's own appends, bounded by bytes, and counting each
message as the prompt estimate does."""

from __future__ import annotations

import tracemalloc
from typing import Any

import orjson

from gatewayz.history.history_cache import ENTRY_OVERHEAD_BYTES, MEMORY_PER_JSON_BYTE, HistoryCache
from gatewayz.history.turns import items_as_messages
from gatewayz.inference.estimate import estimate_prompt, message_count


def msg(role: str, text: str) -> dict[str, Any]:
    kind = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}


CALL = {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": '{"q": "x"}'}
OUTPUT = {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}


def test_an_entry_is_used_only_at_its_version() -> None:
    cache = HistoryCache(1 << 20)
    items = [msg("user", "hi"), msg("assistant", "hello")]
    put = cache.put("conv_a", (2, 2), items, 100)
    assert cache.get("conv_a", (2, 2)) is put
    assert cache.get("conv_a", (2, 1)) is None  # an item was deleted
    assert cache.get("conv_a", (2, 2)) is None  # and the stale entry is gone
    assert (cache.hits, cache.misses) == (1, 2)


def test_extend_adds_this_process_append_when_nothing_came_in_between() -> None:
    cache = HistoryCache(1 << 20)
    cache.put("conv_a", (2, 2), [msg("user", "hi"), msg("assistant", "hello")], 100)
    cache.extend("conv_a", 2, [msg("user", "more"), msg("assistant", "sure")])
    entry = cache.get("conv_a", (4, 4))
    assert entry is not None
    assert [m["content"] for m in entry.messages] == ["hi", "hello", "more", "sure"]
    assert entry.counts == [message_count(m) for m in entry.messages]
    cache.extend("conv_a", 7, [msg("user", "late")])  # someone else appended at 4..6: dropped
    assert cache.get("conv_a", (8, 8)) is None and len(cache) == 0


def test_an_append_starting_with_a_function_call_drops_the_entry() -> None:
    cache = HistoryCache(1 << 20)
    first = [msg("user", "weather?"), msg("assistant", "let me look")]
    cache.put("conv_a", (2, 2), first, 100)
    cache.extend("conv_a", 2, [OUTPUT, msg("assistant", "sunny")])  # a tool result: no join, extended
    assert cache.get("conv_a", (4, 4)) is not None
    cache.extend("conv_a", 4, [CALL, OUTPUT])  # the call would join the assistant message before it
    assert len(cache) == 0


def test_the_size_reckoned_is_at_least_the_memory_taken() -> None:
    items = [msg("user" if n % 2 == 0 else "assistant", f"message {n} " + "word " * (10 + n % 40)) for n in range(50)]
    text = orjson.dumps(items)
    cache = HistoryCache(1 << 30)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(50):
            cache.put(f"conv_{n}", (50, 50), orjson.loads(text), len(text))
        taken = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert taken <= cache.size <= 3 * taken


def test_an_unsendable_item_appended_drops_the_entry() -> None:
    cache = HistoryCache(1 << 20)
    cache.put("conv_a", (1, 1), [msg("user", "hi")], 100)
    cache.extend("conv_a", 1, [{"type": "mystery"}])
    assert len(cache) == 0


def test_the_cache_is_bounded_by_bytes_least_recently_used_first() -> None:
    size = 1000
    cache = HistoryCache(4 * (int(size * MEMORY_PER_JSON_BYTE) + ENTRY_OVERHEAD_BYTES))
    for n in range(6):
        cache.put(f"conv_{n}", (1, 1), [msg("user", str(n))], size)
        cache.get("conv_0", (1, 1))  # kept warm
    assert cache.size <= cache.max_bytes
    assert cache.get("conv_0", (1, 1)) is not None
    assert cache.get("conv_1", (1, 1)) is None and cache.get("conv_5", (1, 1)) is not None
    huge = HistoryCache(8000)
    huge.put("conv_big", (1, 1), [msg("user", "x")], 2000)  # over a quarter of the room: not kept
    assert len(huge) == 0
    off = HistoryCache(0)
    assert off.put("conv_a", (1, 1), [msg("user", "x")], 1).messages == [{"role": "user", "content": "x"}]
    assert len(off) == 0


def test_counted_messages_give_the_estimate_of_the_body_holding_them() -> None:
    history = items_as_messages([msg("user", "Price of 12 items at 3.50? " * 5), msg("assistant", "42.00 {ok}"),
                                 CALL, OUTPUT, msg("user", "ünïcödé 中文 🎉")])
    body = {"model": "m", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "go"}],
            "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]}
    full = {**body, "messages": [body["messages"][0], *history, body["messages"][1]]}
    counted = estimate_prompt("chat/completions", body, [message_count(m) for m in history])
    assert counted == estimate_prompt("chat/completions", full)
    assert orjson.dumps(history)  # plain JSON, as sent upstream
