"""Messages face, streams: chat chunks -> Anthropic stream events, and the native passthrough.

The SDK judges: every event validates as its `RawMessageStreamEvent`, its accumulator assembles
from the events exactly the Message `result()` returns, and its client (over an in-process
transport) streams them to a final message.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import orjson
import pytest
from anthropic import Anthropic, APIStatusError
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message, RawMessageStreamEvent
from anthropic.types.shared import ErrorResponse
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from gatewayz.inference.faces.base import FaceContext
from gatewayz.inference.faces.messages_stream import MessagesPassthrough, MessagesStream
from gatewayz.providers.protocols.anthropic import AnthropicStreamTranslator
from tests.unit.test_protocol_anthropic_stream import STREAM_EVENTS

EVENTS = TypeAdapter(RawMessageStreamEvent)
CTX = FaceContext(response_id="msg_01stream", model="claude-sonnet-4-5", created=1_700_000_000, request={})
USAGE = {"prompt_tokens": 120, "completion_tokens": 42, "total_tokens": 162, "cost": 0.0042,
         "prompt_tokens_details": {"cached_tokens": 100}, "completion_tokens_details": {"reasoning_tokens": 7}}


def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "up", "usage": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}


def tool(index: int, arguments: str, call_id: str | None = None, name: str | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if call_id:
        call.update(id=call_id, type="function")
        call["function"]["name"] = name
    return call


CHUNKS = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"reasoning_content": "User wants "}),
    chunk({"reasoning_content": "weather."}),
    chunk({"content": "Checking "}),
    chunk({"content": "both."}),
    chunk({"tool_calls": [tool(0, "", "call_a", "get_weather")]}),
    chunk({"tool_calls": [tool(0, '{"city": "Par')]}),
    chunk({"tool_calls": [tool(0, 'is"}')]}),
    chunk({"tool_calls": [tool(1, '{"city": "Rome"}', "call_b", "get_weather")]}),
    chunk({}, "tool_calls"),
]


def parse(frames: list[bytes]) -> list[tuple[str, dict[str, Any]]]:
    """SSE bytes -> (event name, data), checking the framing of each event."""
    out = []
    for frame in frames:
        assert frame.endswith(b"\n\n") and frame.count(b"\n") == 3
        name, data = frame[:-2].split(b"\n")
        out.append((name.removeprefix(b"event: ").decode(), orjson.loads(data.removeprefix(b"data: "))))
    return out


def render(chunks: list[dict[str, Any]], usage: dict[str, Any] | None = USAGE) -> tuple[MessagesStream, list[bytes]]:
    stream = MessagesStream(CTX)
    frames = stream.start()
    for item in chunks:
        frames += stream.chunk(item)
    frames += stream.end(usage)
    return stream, frames


def accumulate(events: list[tuple[str, dict[str, Any]]]) -> Message:
    snapshot, bufs = None, {}
    for name, data in events:
        assert name == data["type"]
        if name == "ping":
            continue
        snapshot = accumulate_event(event=EVENTS.validate_python(data), current_snapshot=snapshot, json_bufs=bufs)
    assert snapshot is not None
    return snapshot


def same_message(accumulated: Message, result: dict[str, Any]) -> None:
    """The accumulator's message equals result(), except the gateway's `cost` (an extra the
    accumulator does not carry over from message_delta)."""
    expected = Message.model_validate(result).model_dump()
    expected["usage"].pop("cost", None)
    assert accumulated.model_dump() == expected


def test_events_validate_and_the_accumulator_builds_result() -> None:
    stream, frames = render(CHUNKS)
    events = parse(frames)
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == ["message_delta", "message_stop"]
    message = accumulate(events)
    same_message(message, stream.result())
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert message.content[0].thinking == "User wants weather."
    assert message.content[1].text == "Checking both."
    assert (message.content[2].id, message.content[2].input) == ("call_a", {"city": "Paris"})
    assert (message.content[3].id, message.content[3].input) == ("call_b", {"city": "Rome"})
    assert message.stop_reason == "tool_use"
    assert message.usage.input_tokens == 20 and message.usage.cache_read_input_tokens == 100
    assert message.usage.output_tokens == 42 and message.usage.output_tokens_details.thinking_tokens == 7
    assert stream.result()["usage"]["cost"] == 0.0042
    assert events[-2][1]["usage"]["cost"] == 0.0042


def test_block_indexes_starts_and_stops_pair_up() -> None:
    _, frames = render([*CHUNKS[:-1], chunk({"content": "Done."}), chunk({}, "stop")])
    open_block = None
    seen = []
    for name, data in parse(frames):
        if name == "content_block_start":
            assert open_block is None
            open_block = data["index"]
            seen.append(open_block)
        elif name == "content_block_delta":
            assert data["index"] == open_block
        elif name == "content_block_stop":
            assert data["index"] == open_block
            open_block = None
    assert open_block is None and seen == [0, 1, 2, 3, 4]


def test_message_start_is_an_empty_message() -> None:
    _, frames = render([])
    (start_name, start), (ping_name, _), *_ = parse(frames)
    assert (start_name, ping_name) == ("message_start", "ping")
    assert start["message"]["content"] == [] and start["message"]["id"] == "msg_01stream"
    assert start["message"]["model"] == "claude-sonnet-4-5" and start["message"]["stop_reason"] is None
    assert start["message"]["usage"]["input_tokens"] == 0


@pytest.mark.parametrize(("finish", "stop"), [("stop", "end_turn"), ("length", "max_tokens"),
                                              ("content_filter", "refusal"), (None, "end_turn")])
def test_stop_reason(finish: str | None, stop: str) -> None:
    stream, frames = render([chunk({"content": "x"}, finish)])
    assert accumulate(parse(frames)).stop_reason == stop == stream.result()["stop_reason"]


def test_unknown_usage() -> None:
    stream, frames = render([chunk({"content": "x"}, "stop")], usage=None)
    events = parse(frames)
    assert events[-2][1]["usage"] == {"output_tokens": 0}
    same_message(accumulate(events), stream.result())


def test_refusal_and_reasoning_field() -> None:
    stream, frames = render([chunk({"reasoning": "hmm"}), chunk({"refusal": "No."}), chunk({}, "stop")])
    message = accumulate(parse(frames))
    same_message(message, stream.result())
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.stop_reason == "refusal"


def test_interleaved_tool_arguments_reach_their_own_block() -> None:
    chunks = [
        chunk({"tool_calls": [tool(0, '{"a":', "c0", "f"), tool(1, '{"b":', "c1", "g")]}),
        chunk({"tool_calls": [tool(0, "1}"), tool(1, "2}")]}),
        chunk({}, "tool_calls"),
    ]
    stream, frames = render(chunks)
    message = accumulate(parse(frames))
    same_message(message, stream.result())
    assert [block.input for block in message.content] == [{"a": 1}, {"b": 2}]


def test_tool_calls_without_index_or_id() -> None:
    chunks = [
        chunk({"tool_calls": [{"id": "x1", "function": {"name": "f", "arguments": '{"n"'}}]}),
        chunk({"tool_calls": [{"function": {"arguments": ": 1}"}}]}),
        chunk({"tool_calls": [{"id": "x2", "function": {"name": "g", "arguments": "{}"}}]}),
        chunk({"tool_calls": [{"index": 5, "function": {"arguments": ""}}]}),
    ]
    stream, frames = render(chunks)
    message = accumulate(parse(frames))
    same_message(message, stream.result())
    assert [(block.id, block.input) for block in message.content[:2]] == [("x1", {"n": 1}), ("x2", {})]
    assert message.content[2].id.startswith("toolu_") and message.content[2].input == {}


def test_other_choices_and_junk_chunks_are_ignored() -> None:
    stream = MessagesStream(CTX)
    stream.start()
    for junk in ({}, {"choices": None}, {"choices": [None, 3]}, {"choices": [{"index": 1, "delta": {"content": "x"}}]},
                 {"choices": [{"delta": "x", "finish_reason": 7}]}, chunk({"content": 5, "tool_calls": "x"})):
        assert stream.chunk(junk) == []


def test_anthropic_upstream_round_trip() -> None:
    """Anthropic events -> (the gateway's upstream translator) chat chunks -> this face: the client
    gets the text and tool inputs the upstream sent."""
    translator = AnthropicStreamTranslator(model="claude", include_usage=True)
    chunks = [c for name, data in STREAM_EVENTS for c in translator.feed(name, data)]
    stream, frames = render([c for c in chunks if c["choices"]], usage=translator.usage)
    message = accumulate(parse(frames))
    same_message(message, stream.result())
    assert message.content[0].text == "Okay, let's check both cities:"
    assert [(b.id, b.name, b.input) for b in message.content[1:]] == [
        ("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", {"location": "San Francisco, CA"}),
        ("toolu_02B", "get_time", {"tz": "PST"}),
    ]
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens, message.usage.output_tokens) == (
        472, 28, 89)


def _client(frames: list[bytes]) -> Anthropic:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=b"".join(frames), headers={"content-type": "text/event-stream"})

    return Anthropic(api_key="k", base_url="http://gateway.test", max_retries=0,
                     http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))


def test_the_sdk_client_streams_to_the_same_final_message() -> None:
    stream, frames = render(CHUNKS)
    with _client(frames).messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]) as s:
        texts = list(s.text_stream)
        final = s.get_final_message()
    assert "".join(texts) == "Checking both."
    same_message(final, stream.result())


def test_fail_is_an_error_event_the_sdk_raises() -> None:
    stream = MessagesStream(CTX)
    frames = stream.start() + stream.chunk(chunk({"content": "partial"}))
    frames += stream.fail("Upstream provider p broke off mid-stream.", "server_error", "upstream_error")
    name, data = parse(frames)[-1]
    assert name == "error"
    ErrorResponse.model_validate(data)
    assert data["error"] == {"type": "api_error", "message": "Upstream provider p broke off mid-stream."}
    with pytest.raises(APIStatusError) as caught:
        with _client(frames).messages.stream(model="m", max_tokens=1, messages=[{"role": "user", "content": "x"}]) as s:
            s.get_final_message()
    assert caught.value.type == "api_error"
    assert stream.result()["content"] == [{"type": "text", "text": "partial"}]


def test_fail_timeout_maps_to_timeout_error() -> None:
    (name, data), = parse(MessagesStream(CTX).fail("timed out", "server_error", "upstream_timeout"))
    assert name == "error" and data["error"]["type"] == "timeout_error"


CHUNK_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["content", "reasoning_content", "reasoning", "refusal", "tool_calls", "index", "id",
                         "function", "name", "arguments", "role"]), children, max_size=4),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(deltas=st.lists(CHUNK_VALUES, max_size=6), finish=st.none() | st.text(max_size=12))
def test_fuzz_any_chunks_give_valid_events(deltas: list[Any], finish: str | None) -> None:
    chunks = [{"choices": [{"index": 0, "delta": delta}]} for delta in deltas]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    stream = MessagesStream(CTX)
    frames = stream.start()
    for item in chunks:
        frames += stream.chunk(item)
    frames += stream.end(USAGE)
    events = parse(frames)
    try:
        message = accumulate(events)
    except ValueError as exc:  # the SDK refuses tool arguments that are not JSON; result() keeps them raw
        assert "Unable to parse tool parameter JSON" in str(exc)
        Message.model_validate(stream.result())
        return
    same_message(message, stream.result())


# -- passthrough ---------------------------------------------------------------------------------


NATIVE = [
    ("message_start", {"type": "message_start", "message": {
        "id": "msg_up", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 50, "cache_creation_input_tokens": 10, "cache_read_input_tokens": 0,
                  "output_tokens": 1}}}),
    ("ping", {"type": "ping"}),
    ("content_block_start", {"type": "content_block_start", "index": 0,
                             "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "thinking_delta", "thinking": "Let me think."}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("content_block_start", {"type": "content_block_start", "index": 1,
                             "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1,
                             "delta": {"type": "text_delta", "text": "Hi there"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                       "usage": {"output_tokens": 30}}),
    ("message_stop", {"type": "message_stop"}),
]  # fmt: skip


def test_passthrough_re_emits_events_and_holds_the_end_for_the_cost() -> None:
    passthrough = MessagesPassthrough(CTX)
    assert passthrough.start() == [] and passthrough.chunk(chunk({"content": "x"})) == []
    before_end = []
    for name, data in json.loads(json.dumps(NATIVE)):
        before_end += passthrough.native(name, data)
    assert parse(before_end) == NATIVE[:-2]  # everything but message_delta and message_stop, unchanged
    frames = before_end + passthrough.end({"prompt_tokens": 60, "completion_tokens": 30, "cost": 0.25})
    events = parse(frames)
    assert events[-2] == ("message_delta", {**NATIVE[-2][1], "usage": {"output_tokens": 30, "cost": 0.25}})
    assert events[-1] == NATIVE[-1]
    message = accumulate(events)
    assert message.content[0].signature == "EqQBCgIYAhIM" and message.content[1].text == "Hi there"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (50, 30)
    assert passthrough.result() == {}


def test_passthrough_without_cost_or_end_events() -> None:
    passthrough = MessagesPassthrough()
    passthrough.native(None, dict(NATIVE[-2][1]))  # the name falls back to data["type"]
    events = parse(passthrough.end(None))
    assert events == [NATIVE[-2], NATIVE[-1]]
    assert parse(MessagesPassthrough().end({"cost": 1})) == [("message_stop", {"type": "message_stop"})]
    assert MessagesPassthrough().native(None, {"no": "type"}) == []


def test_passthrough_error_is_not_doubled() -> None:
    passthrough = MessagesPassthrough()
    upstream_error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert parse(passthrough.native("error", upstream_error)) == [("error", upstream_error)]
    assert passthrough.fail("Upstream provider p failed mid-stream: Overloaded", "server_error", "upstream_error") == []
    (name, data), = parse(MessagesPassthrough().fail("cut", "server_error", "upstream_timeout"))
    assert name == "error" and data["error"]["type"] == "timeout_error"


def test_passthrough_writes_data_nested_deeper_than_orjson_does() -> None:
    deep: Any = {}
    for _ in range(300):
        deep = {"a": deep}
    data = {"type": "content_block_start", "index": 0,
            "content_block": {"type": "tool_use", "id": "t", "name": "n", "input": deep}}
    ((name, parsed),) = parse(MessagesPassthrough().native("content_block_start", data))
    assert name == "content_block_start" and parsed == data
