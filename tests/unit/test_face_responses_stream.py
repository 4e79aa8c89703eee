"""Responses face, streams: chat chunks -> Responses SSE events.

Every event is validated with the SDK's `ResponseStreamEvent` union in strict mode, and the SDK's
own stream accumulator (`client.responses.stream`, fed our bytes through an httpx transport) must
assemble the same final Response that `end()` emits.
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import orjson
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.lib.streaming.responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent

from gatewayz.inference.faces.base import FaceContext
from gatewayz.inference.faces.responses_answer import render_response
from gatewayz.inference.faces.responses_stream import ResponsesStream

EVENT = pydantic.TypeAdapter(ResponseStreamEvent)
REQUEST = {"model": "gpt-4o", "input": "hi", "stream": True,
           "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]}  # fmt: skip
USAGE = {
    "prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29, "cost": 0.0001,
    "prompt_tokens_details": {"cached_tokens": 8}, "completion_tokens_details": {"reasoning_tokens": 3},
}  # fmt: skip


def context(request: dict[str, Any] | None = None) -> FaceContext:
    return FaceContext("resp_stream1", "gpt-4o", 1_750_000_000, request or REQUEST, {})


def delta(**fields: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
            "choices": [{"index": 0, "delta": fields, "finish_reason": None, "logprobs": None}]}  # fmt: skip


def finish(reason: str) -> dict[str, Any]:
    chunk = delta()
    chunk["choices"][0]["finish_reason"] = reason
    return chunk


def call(index: int, *, id: str | None = None, name: str | None = None, arguments: str | None = None) -> dict:
    function = {k: v for k, v in (("name", name), ("arguments", arguments)) if v is not None}
    entry: dict[str, Any] = {"index": index, "function": function}
    if id is not None:
        entry.update(id=id, type="function")
    return delta(tool_calls=[entry])


def run(chunks: list[dict[str, Any]], usage: Any = USAGE, request: dict | None = None) -> tuple[ResponsesStream, bytes]:
    stream = ResponsesStream(context(request))
    frames = stream.start()
    for chunk in chunks:
        frames += stream.chunk(chunk)
    frames += stream.end(usage)
    return stream, b"".join(frames)


def parse(body: bytes) -> list[dict[str, Any]]:
    """The SSE frames as payloads; each is checked: named as its type, numbered in order, valid."""
    payloads = []
    for frame in body.split(b"\n\n")[:-1]:
        head, data = frame.split(b"\n", 1)
        payload = orjson.loads(data.removeprefix(b"data: "))
        assert head == b"event: " + payload["type"].encode()
        assert payload["sequence_number"] == len(payloads)
        EVENT.validate_python(payload, strict=True)
        payloads.append(payload)
    return payloads


def types(body: bytes) -> list[str]:
    return [payload["type"].removeprefix("response.") for payload in parse(body)]


def sdk(body: bytes) -> tuple[list[Any], Any]:
    """Our bytes through the official client's `responses.stream()`: its events and final Response."""
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
    )
    client = openai.OpenAI(api_key="k", base_url="http://gateway/v1", http_client=httpx.Client(transport=transport))
    with client.responses.stream(model="gpt-4o", input="hi") as stream:
        seen = list(stream)
        try:
            final = stream.get_final_response()
        except RuntimeError:
            final = None
    return seen, final


def test_text_events_come_in_openai_order() -> None:
    _, body = run([delta(role="assistant", content=""), delta(content="Hel"), delta(content="lo"), finish("stop")])
    assert types(body) == [
        "created", "in_progress", "output_item.added", "content_part.added", "output_text.delta",
        "output_text.delta", "output_text.done", "content_part.done", "output_item.done", "completed",
    ]  # fmt: skip
    payloads = parse(body)
    assert payloads[0]["response"]["status"] == "in_progress" and payloads[0]["response"]["output"] == []
    assert payloads[6]["text"] == "Hello" and payloads[4]["logprobs"] == []
    assert payloads[-1]["response"]["output"][0]["content"][0]["text"] == "Hello"


def test_the_sdk_assembles_the_response_end_emits() -> None:
    stream, body = run([
        delta(reasoning_content="Need the "), delta(reasoning_content="weather."),
        delta(content="Checking "), delta(content="both."),
        call(0, id="call_a", name="get_weather", arguments='{"city":'), call(0, arguments='"Oslo"}'),
        call(1, id="call_b", name="get_weather"), call(1, arguments='{"city":"Rome"}'),
        finish("tool_calls"),
    ])  # fmt: skip
    assert types(body) == [
        "created", "in_progress",
        "output_item.added", "content_part.added", "reasoning_text.delta", "reasoning_text.delta",
        "reasoning_text.done", "content_part.done", "output_item.done",
        "output_item.added", "content_part.added", "output_text.delta", "output_text.delta", "output_text.done",
        "content_part.done", "output_item.done",
        "output_item.added", "function_call_arguments.delta", "function_call_arguments.delta",
        "function_call_arguments.done", "output_item.done",
        "output_item.added", "function_call_arguments.delta", "function_call_arguments.done", "output_item.done",
        "completed",
    ]  # fmt: skip
    emitted = Response.model_validate(parse(body)[-1]["response"], strict=True)
    seen, final = sdk(body)
    assert final is not None and seen[-1].type == "response.completed"
    assert final.output_text == "Checking both." == emitted.output_text
    assert [item.type for item in final.output] == ["reasoning", "message", "function_call", "function_call"]
    assert [(c.call_id, c.arguments) for c in final.output[2:]] == [("call_a", '{"city":"Oslo"}'),
                                                                    ("call_b", '{"city":"Rome"}')]  # fmt: skip
    assert final.output[0].content[0].text == "Need the weather."
    assert [item.id for item in final.output] == [item.id for item in emitted.output]
    assert final.usage.model_dump() == emitted.usage.model_dump()
    assert (final.usage.input_tokens, final.usage.input_tokens_details.cached_tokens) == (20, 8)
    assert final.usage.output_tokens_details.reasoning_tokens == 3 and final.usage.model_extra == {"cost": 0.0001}
    text_deltas = [e.snapshot for e in seen if e.type == "response.output_text.delta"]
    assert text_deltas == ["Checking ", "Checking both."]  # the SDK found our content part by index
    assert stream.result() == parse(body)[-1]["response"]


def test_the_stream_result_is_what_a_plain_render_gives() -> None:
    calls = [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]
    stream, _ = run([delta(reasoning_content="hm"), delta(content="Hi"), delta(tool_calls=calls), finish("tool_calls")])
    message = {"role": "assistant", "content": "Hi", "reasoning_content": "hm", "tool_calls": calls}
    answer = {"choices": [{"index": 0, "finish_reason": "tool_calls", "message": message}], "usage": USAGE}
    rendered = render_response(answer, context())

    def shape(obj: dict[str, Any]) -> dict[str, Any]:
        items = [{k: v for k, v in item.items() if k != "id"} for item in obj["output"]]
        return {**{k: v for k, v in obj.items() if k != "completed_at"}, "output": items}

    assert shape(stream.result()) == shape(rendered)


def test_interleaved_tool_calls_keep_every_argument() -> None:
    stream, body = run([
        call(0, id="call_a", name="get_weather", arguments='{"ci'), call(1, id="call_b", name="get_weather"),
        call(0, arguments='ty":"Oslo"}'), call(1, arguments='{"city":"Rome"}'), finish("tool_calls"),
    ])  # fmt: skip
    parse(body)
    _, final = sdk(body)
    assert [c.arguments for c in final.output] == ['{"city":"Oslo"}', '{"city":"Rome"}']
    assert [c.arguments for c in Response.model_validate(stream.result(), strict=True).output] == [
        '{"city":"Oslo"}', '{"city":"Rome"}']  # fmt: skip


def test_providers_that_number_every_call_zero_still_get_two_calls() -> None:
    _, body = run([call(0, id="call_a", name="f", arguments="{}"), call(0, id="call_b", name="g", arguments="{}")])
    _, final = sdk(body)
    assert [(c.call_id, c.name) for c in final.output] == [("call_a", "f"), ("call_b", "g")]


def test_a_call_is_announced_once_named_and_a_nameless_one_at_the_end() -> None:
    _, body = run([call(0, id="call_a", arguments='{"a":'), call(0, name="f", arguments="1}"), call(1, arguments="{}")])
    payloads = parse(body)
    added = [p for p in payloads if p["type"] == "response.output_item.added"]
    assert added[0]["item"]["name"] == "f" and added[0]["item"]["arguments"] == ""
    first_deltas = [p["delta"] for p in payloads if p.get("item_id") == added[0]["item"]["id"] and "delta" in p]
    assert first_deltas == ['{"a":1}']  # what came before the name goes out with the announcement
    _, final = sdk(body)
    assert [(c.name, c.arguments) for c in final.output] == [("f", '{"a":1}'), ("", "{}")]
    assert final.output[1].call_id.startswith("call_")


def test_text_after_a_tool_call_is_a_new_message() -> None:
    _, body = run([delta(content="a"), call(0, id="c", name="f", arguments="{}"), delta(content="b")])
    _, final = sdk(body)
    assert [item.type for item in final.output] == ["message", "function_call", "message"]
    assert final.output_text == "ab"


@pytest.mark.parametrize(("reason", "why"), [("length", "max_output_tokens"), ("content_filter", "content_filter")])
def test_cut_streams_end_incomplete(reason: str, why: str) -> None:
    stream, body = run([delta(content="Once upon"), finish(reason)])
    assert types(body)[-1] == "incomplete"
    result = Response.model_validate(stream.result(), strict=True)
    assert result.status == "incomplete" and result.incomplete_details.reason == why
    assert result.output[0].status == "incomplete"
    seen, final = sdk(body)
    # The SDK's get_final_response() only accepts response.completed; the event itself is relayed.
    assert final is None and seen[-1].type == "response.incomplete" and seen[-1].response.output_text == "Once upon"


def test_refusals_are_their_own_part() -> None:
    _, body = run([delta(content="Well, "), delta(refusal="I can't "), delta(refusal="help.")])
    assert types(body)[3:12] == [
        "content_part.added", "output_text.delta", "output_text.done", "content_part.done",
        "content_part.added", "refusal.delta", "refusal.delta", "refusal.done", "content_part.done",
    ]  # fmt: skip
    _, final = sdk(body)
    assert [(p.type, getattr(p, "text", None) or p.refusal) for p in final.output[0].content] == [
        ("output_text", "Well, "), ("refusal", "I can't help.")]  # fmt: skip
    assert [p["content_index"] for p in parse(body) if p["type"].startswith("response.refusal")] == [1, 1, 1]


def test_logprobs_ride_on_the_deltas_and_the_final_part() -> None:
    chunk = delta(content="Hi")
    chunk["choices"][0]["logprobs"] = {"content": [{"token": "Hi", "logprob": -0.5, "bytes": [72, 105],
                                                    "top_logprobs": [{"token": "Yo", "logprob": -2.0}]}]}  # fmt: skip
    _, body = run([chunk])
    payloads = parse(body)
    text_delta = next(p for p in payloads if p["type"] == "response.output_text.delta")
    assert text_delta["logprobs"] == [
        {"token": "Hi", "logprob": -0.5, "top_logprobs": [{"token": "Yo", "logprob": -2.0}]}
    ]
    part = Response.model_validate(payloads[-1]["response"], strict=True).output[0].content[0]
    assert part.logprobs[0].bytes == [72, 105] and part.logprobs[0].top_logprobs[0].bytes == list(b"Yo")


def test_an_empty_answer_still_has_one_message() -> None:
    stream, body = run([delta(role="assistant"), finish("stop")], usage=None)
    assert types(body)[2:-1] == ["output_item.added", "content_part.added", "output_text.done", "content_part.done",
                                 "output_item.done"]  # fmt: skip
    result = Response.model_validate(stream.result(), strict=True)
    assert result.output_text == "" and result.usage is None and result.status == "completed"


def test_a_cut_stream_reports_error_then_failed_with_what_was_relayed() -> None:
    stream = ResponsesStream(context())
    frames = (
        stream.start() + stream.chunk(delta(content="Hel")) + stream.chunk(call(0, id="c", name="f", arguments="{"))
    )
    failure = stream.fail("The upstream provider closed the stream.", "server_error", "upstream_stream_error")
    body = b"".join(frames + failure)
    assert types(body)[-2:] == ["error", "failed"]
    error = parse(body)[-2]
    assert (error["code"], error["message"], error["param"]) == (
        "upstream_stream_error", "The upstream provider closed the stream.", None)  # fmt: skip
    result = Response.model_validate(stream.result(), strict=True)
    assert result.status == "failed" and result.error.code == "server_error" and result.error.type == "server_error"
    assert result.output[0].status == "completed"  # closed (and relayed as done) when the call began
    assert result.output[1].arguments == "{" and result.output[1].status == "incomplete"
    cut_text = ResponsesStream(context())
    cut_text.start(), cut_text.chunk(delta(content="Hel")), cut_text.fail("cut", "server_error", "server_error")
    message = Response.model_validate(cut_text.result(), strict=True).output[0]
    assert message.status == "incomplete" and message.content[0].text == "Hel"
    # The SDK does not raise on a Responses `error` event (it has no nested "error" object): it is
    # yielded like any other event, then response.failed; get_final_response() finds no completion.
    seen, final = sdk(body)
    assert [e.type for e in seen[-2:]] == ["error", "response.failed"] and final is None
    assert stream.chunk(delta(content="late")) == [] and stream.end(USAGE) == [] and stream.fail("x", "y", "z") == []


def test_after_the_end_nothing_more_is_sent() -> None:
    stream, _ = run([delta(content="x")])
    assert stream.chunk(delta(content="y")) == [] and stream.end(USAGE) == []
    assert Response.model_validate(stream.result(), strict=True).output_text == "x"


def test_result_before_the_end_is_in_progress() -> None:
    stream = ResponsesStream(context())
    stream.start()
    stream.chunk(delta(content="x"))
    assert Response.model_validate(stream.result(), strict=True).status == "in_progress"


JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 3) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=5), inner, max_size=2),
    max_leaves=5,
)
CHUNKS = st.one_of(
    st.builds(lambda t: delta(content=t), st.text(max_size=4)),
    st.builds(lambda t: delta(reasoning_content=t), st.text(max_size=4)),
    st.builds(lambda t: delta(refusal=t), st.text(max_size=4)),
    st.builds(
        lambda i, id_, name, args: call(i, id=id_, name=name, arguments=args),
        st.integers(0, 2), st.none() | st.sampled_from(["c1", "c2", ""]), st.none() | st.sampled_from(["f", "g"]),
        st.none() | st.text(max_size=4),
    ),
    st.sampled_from(["stop", "length", "tool_calls", "content_filter"]).map(finish),
    st.builds(lambda j: delta(tool_calls=j), JUNK),
    st.builds(lambda j: {"choices": j}, JUNK),
    st.builds(lambda j: delta(**{"content": j, "reasoning": j}), JUNK),
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=st.lists(CHUNKS, max_size=12), cut=st.booleans())
def test_any_chunk_sequence_gives_valid_events_the_sdk_can_assemble(chunks: list[dict], cut: bool) -> None:
    stream = ResponsesStream(context())
    frames = stream.start()
    for chunk in chunks:
        frames += stream.chunk(chunk)
    frames += stream.fail("cut", "server_error", "server_error") if cut else stream.end(USAGE)
    payloads = parse(b"".join(frames))
    state = ResponseStreamState(input_tools=REQUEST["tools"], text_format=openai.omit)
    for payload in payloads:
        state.handle_event(EVENT.validate_python(payload))
    final = Response.model_validate(stream.result(), strict=True)
    assert final.model_dump() == Response.model_validate(payloads[-1]["response"]).model_dump()
    if not cut:
        assembled = state._completed_response  # what get_final_response() returns
        if final.status == "completed":
            assert assembled is not None and assembled.output_text == final.output_text
            assert [getattr(i, "arguments", None) for i in assembled.output] == [
                getattr(i, "arguments", None) for i in final.output]  # fmt: skip
