"""Sandbox streaming: chunk shape, usage, tool-call deltas and the SDK's stream accumulator."""

from __future__ import annotations

import copy
import json

from tests.unit.sandbox_helpers import TOOLS, chat, reassemble_tool_calls, sdk_assemble, stream, user


def test_stream_text_matches_non_streaming() -> None:
    body = user("Stream this answer please")
    chunks = stream(body, rid="chatcmpl-s", created=9)
    full = chat(body)
    assert all(c["id"] == "chatcmpl-s" and c["created"] == 9 for c in chunks)
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]]
    assert len(pieces) >= 5 and all(pieces)
    assert "".join(pieces) == full["choices"][0]["message"]["content"]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    last = chunks[-1]["choices"][0]
    assert last["delta"] == {} and last["finish_reason"] == "stop"
    assert all("usage" not in c for c in chunks)  # only present with include_usage


def test_stream_include_usage() -> None:
    body = user("Usage please", stream=True, stream_options={"include_usage": True})
    chunks = stream(body)
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == chat(body)["usage"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


def test_stream_sdk_accumulator_rebuilds_the_completion() -> None:
    body = user("Assemble me", n=2, logprobs=True, top_logprobs=2, stream_options={"include_usage": True})
    final = sdk_assemble(stream(body))
    expected = chat({k: v for k, v in body.items() if k != "stream_options"})  # only allowed when streaming
    assert len(final.choices) == 2
    for got, want in zip(final.choices, expected["choices"], strict=True):
        assert got.message.content == want["message"]["content"]
        assert got.finish_reason == want["finish_reason"]
        assert [t.model_dump() for t in got.logprobs.content] == want["logprobs"]["content"]
    assert final.usage is not None
    assert final.usage.total_tokens == expected["usage"]["total_tokens"]


def test_stream_tool_calls_reassemble_to_the_non_streaming_calls() -> None:
    body = user("Weather and search", tools=TOOLS)
    chunks = stream(body)
    expected = chat(body)["choices"][0]["message"]["tool_calls"]
    assert reassemble_tool_calls(chunks) == expected
    first = chunks[0]["choices"][0]["delta"]
    assert first["role"] == "assistant" and first["content"] is None
    headers = [
        d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls") or [] if "id" in d
    ]  # first delta of each call
    assert [h["index"] for h in headers] == [0, 1]
    for header, call in zip(headers, expected, strict=True):
        assert header == {
            "index": header["index"],
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
    fragments = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls") or [] if "id" not in d]
    assert len(fragments) > 4 and all(set(d) == {"index", "function"} for d in fragments)
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "tool_calls"}
    final = sdk_assemble(chunks)
    got = [c.model_dump(include={"id", "type", "function"}) for c in final.choices[0].message.tool_calls]
    assert [{**g, "function": {k: g["function"][k] for k in ("name", "arguments")}} for g in got] == expected


def test_stream_logprobs_one_entry_per_piece() -> None:
    chunks = stream(user("Logprob stream", logprobs=True))
    for chunk in chunks[1:-1]:
        choice = chunk["choices"][0]
        assert [e["token"] for e in choice["logprobs"]["content"]] == [choice["delta"]["content"]]


def test_stream_is_deterministic() -> None:
    body = user("Same stream twice", tools=TOOLS, stream_options={"include_usage": True})
    assert json.dumps(stream(body)) == json.dumps(stream(copy.deepcopy(body)))
