"""Anthropic Messages SSE → OpenAI chat.completion.chunk stream translation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gatewayz.providers.protocols.anthropic import (
    AnthropicStreamTranslator,
    UpstreamStreamError,
    from_anthropic_response,
)
from tests.unit.protocol_anthropic_fixtures import ALIAS

STREAM_EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("message_start", {"type": "message_start", "message": {
        "id": "msg_014p7gG3wDgGV9EUtLvnow3U", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-5-20250929", "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 472, "cache_read_input_tokens": 28, "output_tokens": 2}}}),
    ("content_block_start", {"type": "content_block_start", "index": 0,
                             "content_block": {"type": "text", "text": ""}}),
    ("ping", {"type": "ping"}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": "Okay, let's check"}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": " both cities:"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {
        "type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "input": {}}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1,
                             "delta": {"type": "input_json_delta", "partial_json": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1,
                             "delta": {"type": "input_json_delta", "partial_json": '{"location": "San Fra'}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1,
                             "delta": {"type": "input_json_delta", "partial_json": 'ncisco, CA"}'}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    ("content_block_start", {"type": "content_block_start", "index": 2, "content_block": {
        "type": "tool_use", "id": "toolu_02B", "name": "get_time", "input": {}}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 2,
                             "delta": {"type": "input_json_delta", "partial_json": '{"tz": "PST"}'}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 2}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                       "usage": {"output_tokens": 89}}),
    ("message_stop", {"type": "message_stop"}),
]  # fmt: skip


def _run(translator: AnthropicStreamTranslator) -> list[dict[str, Any]]:
    return [chunk for event, data in STREAM_EVENTS for chunk in translator.feed(event, data)]


def _assemble(chunks: list[dict[str, Any]]) -> tuple[str, dict[int, dict[str, str]], str | None]:
    """Reassemble streamed deltas the way an OpenAI client library does."""
    text, calls, finish = "", {}, None
    for chunk in chunks:
        for choice in chunk["choices"]:
            delta = choice["delta"]
            text += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
                slot["id"] = call.get("id") or slot["id"]
                slot["name"] += call.get("function", {}).get("name") or ""
                slot["arguments"] += call.get("function", {}).get("arguments") or ""
            finish = choice["finish_reason"] or finish
    return text, calls, finish


def test_stream_with_text_and_two_tool_calls() -> None:
    translator = AnthropicStreamTranslator(model=ALIAS, include_usage=True)
    chunks = _run(translator)

    assert {c["id"] for c in chunks} == {"msg_014p7gG3wDgGV9EUtLvnow3U"}
    assert len({c["created"] for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == ALIAS for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert sum("role" in ch["delta"] for c in chunks for ch in c["choices"]) == 1

    tool_starts = [ch["delta"]["tool_calls"][0] for c in chunks for ch in c["choices"]
                   if "id" in (ch["delta"].get("tool_calls") or [{}])[0]]  # fmt: skip
    assert tool_starts == [
        {"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
         "function": {"name": "get_weather", "arguments": ""}},
        {"index": 1, "id": "toolu_02B", "type": "function", "function": {"name": "get_time", "arguments": ""}},
    ]  # fmt: skip

    text, calls, finish = _assemble(chunks)
    assert text == "Okay, let's check both cities:"
    assert json.loads(calls[0]["arguments"]) == {"location": "San Francisco, CA"}
    assert json.loads(calls[1]["arguments"]) == {"tz": "PST"}
    assert finish == "tool_calls"

    *body, last = chunks
    assert last["choices"] == []
    assert last["usage"] == {
        "prompt_tokens": 500,
        "completion_tokens": 89,
        "total_tokens": 589,
        "prompt_tokens_details": {"cached_tokens": 28},
    }
    assert all(c["usage"] is None for c in body)


def test_stream_without_include_usage_still_exposes_usage_for_billing() -> None:
    translator = AnthropicStreamTranslator(model=ALIAS, include_usage=False)
    assert translator.usage is None
    chunks = _run(translator)
    assert all(c["choices"] and "usage" not in c for c in chunks)
    assert translator.usage is not None
    assert translator.usage["completion_tokens"] == 89
    assert translator.usage["prompt_tokens"] == 500


def test_stream_reassembles_to_the_non_streaming_translation() -> None:
    final = {
        "id": "msg_014p7gG3wDgGV9EUtLvnow3U",
        "content": [
            {"type": "text", "text": "Okay, let's check both cities:"},
            {"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather",
             "input": {"location": "San Francisco, CA"}},
            {"type": "tool_use", "id": "toolu_02B", "name": "get_time", "input": {"tz": "PST"}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 472, "cache_read_input_tokens": 28, "output_tokens": 89},
    }  # fmt: skip
    expected = from_anthropic_response(final, model=ALIAS)
    translator = AnthropicStreamTranslator(model=ALIAS, include_usage=False)
    text, calls, finish = _assemble(_run(translator))
    message = expected["choices"][0]["message"]
    assert text == message["content"]
    assert finish == expected["choices"][0]["finish_reason"]
    assert [(c["id"], c["name"], json.loads(c["arguments"])) for c in calls.values()] == [
        (t["id"], t["function"]["name"], json.loads(t["function"]["arguments"])) for t in message["tool_calls"]
    ]
    assert translator.usage == expected["usage"]


def test_event_name_falls_back_to_data_type_and_unknown_events_are_ignored() -> None:
    translator = AnthropicStreamTranslator(model=ALIAS, include_usage=False)
    assert translator.feed(None, {"type": "ping"}) == []
    assert translator.feed("some_future_event", {"type": "some_future_event"}) == []
    chunks = translator.feed(None, {"type": "content_block_delta", "index": 0,
                                    "delta": {"type": "text_delta", "text": "Hi"}})  # fmt: skip
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Hi"}


@pytest.mark.parametrize(("reason", "expected"), [("end_turn", "stop"), ("max_tokens", "length")])
def test_stream_finish_reasons(reason: str, expected: str) -> None:
    translator = AnthropicStreamTranslator(model=ALIAS, include_usage=False)
    (chunk,) = translator.feed("message_delta", {"type": "message_delta", "delta": {"stop_reason": reason},
                                                 "usage": {"output_tokens": 3}})  # fmt: skip
    assert chunk["choices"][0]["finish_reason"] == expected
    assert chunk["choices"][0]["delta"] == {"role": "assistant"}


def test_stream_error_event_raises() -> None:
    translator = AnthropicStreamTranslator(model=ALIAS, include_usage=True)
    data = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(UpstreamStreamError) as info:
        translator.feed("error", data)
    assert info.value.message == "Overloaded"
    assert info.value.type == "overloaded_error"
