"""Responses face, answers: chat answer -> Response (and the input items the SDK lists). The official
`openai` SDK's pydantic types, in strict mode, judge every object produced here."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from hypothesis import given, settings
from openai.types.responses import Response

from gatewayz.inference.faces.responses_answer import failed_response, render_response, usage_from_chat
from gatewayz.inference.faces.responses_request import input_items, to_chat
from tests.unit.responses_bodies import ITEMS, JSON_VALUES, WEATHER, completion, context, rich_body

# --- input items ----------------------------------------------------------------------------------


def test_input_items_are_what_the_sdk_lists() -> None:
    items = ITEMS.validate_python(input_items(rich_body()), strict=True)
    assert [(i.type, getattr(i, "role", None)) for i in items] == [
        ("message", "developer"), ("message", "user"), ("reasoning", None), ("message", "assistant"),
        ("function_call", None), ("function_call", None), ("function_call_output", None),
        ("function_call_output", None), ("message", "assistant"), ("message", "user"),
    ]  # fmt: skip
    assert items[1].content[2].detail == "original" and items[1].content[3].detail == "auto"
    assert items[3].id == "msg_1" and items[4].id == "fc_1"  # the client's own ids are kept
    assert all(i.id for i in items) and len({i.id for i in items}) == len(items)
    assert items[0].content[0].text == "Answer in French."
    assert input_items({"model": "m", "input": "hi"})[0]["content"] == [{"type": "input_text", "text": "hi"}]


def test_listed_items_replay_to_the_same_chat_messages() -> None:
    body = rich_body()
    direct = to_chat(body)["messages"]
    direct[2]["content"][3]["image_url"]["detail"] = "auto"  # the listing spells out the default detail
    replayed = to_chat({"model": "m", "instructions": body["instructions"], "input": []}, input_items(body))
    assert replayed["messages"] == direct


# --- answers --------------------------------------------------------------------------------------


def valid(obj: dict[str, Any]) -> Response:
    return Response.model_validate(obj, strict=True)


def test_text_answer_renders_with_openai_defaults() -> None:
    usage = {
        "prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18, "cost": 0.00042,
        "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 2},
    }  # fmt: skip
    obj = render_response(completion("Bonjour", usage=usage), context({"model": "gpt-4o", "input": "hi"}))
    response = valid(obj)
    assert response.output_text == "Bonjour"
    assert (response.id, response.object, response.created_at, response.model) == (
        "resp_" + "0" * 48, "response", 1_750_000_000, "gpt-4o")  # fmt: skip
    assert response.status == "completed" and response.completed_at is not None and response.error is None
    message = response.output[0]
    assert message.type == "message" and message.id.startswith("msg_") and message.status == "completed"
    assert obj["usage"] == {
        "input_tokens": 11, "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
        "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 18, "cost": 0.00042,
    }  # fmt: skip
    assert (response.tool_choice, response.tools, response.parallel_tool_calls) == ("auto", [], True)
    assert (response.temperature, response.top_p, response.truncation, response.metadata) == (1.0, 1.0, "disabled", {})
    assert response.text.format.type == "text" and response.text.verbosity == "medium"
    assert obj["store"] is True and response.previous_response_id is None and response.service_tier == "default"


def test_the_request_settings_are_echoed() -> None:
    body = rich_body()
    to_chat(body)
    response = valid(render_response(completion('{"t":1}'), context(body, previous_response_id="resp_prev")))
    assert response.instructions == "You are terse." and response.previous_response_id == "resp_prev"
    assert response.tools[0].name == "get_weather" and response.tools[0].strict is True
    assert response.tool_choice.name == "get_weather" and response.parallel_tool_calls is False
    assert response.text.format.type == "json_schema" and response.text.format.name == "forecast"
    assert (response.max_output_tokens, response.temperature, response.top_p) == (500, 0.3, 0.9)
    assert (response.reasoning.effort, response.reasoning.summary) == ("low", "auto")
    assert (response.user, response.safety_identifier, response.prompt_cache_key) == ("u-1", "s-1", "k-1")
    assert (response.service_tier, response.metadata, response.truncation) == ("flex", {"team": "a"}, "auto")


def test_reasoning_refusal_and_tool_calls_become_items_in_order() -> None:
    calls = [{"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}},
             {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]  # fmt: skip
    done = completion("Let me check.", finish="tool_calls", reasoning_content="Weather needs a tool.", tool_calls=calls)
    done["choices"][0]["message"]["refusal"] = "Not the exact time."
    response = valid(render_response(done, context({"model": "m", "input": "x", "tools": [WEATHER]})))
    reasoning, message, first, second = response.output
    assert reasoning.type == "reasoning" and reasoning.content[0].text == "Weather needs a tool."
    assert reasoning.summary == [] and reasoning.id.startswith("rs_")
    assert [part.type for part in message.content] == ["output_text", "refusal"]
    assert message.content[1].refusal == "Not the exact time."
    assert (first.call_id, first.name, first.arguments, first.status) == ("call_a", "get_weather",
                                                                           '{"city":"Oslo"}', "completed")  # fmt: skip
    assert second.call_id != "call_a" and second.id.startswith("fc_")  # a repeated id is made unique
    assert response.output_text == "Let me check."


def test_tool_calls_alone_have_no_message_item() -> None:
    calls = [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    response = valid(render_response(completion(None, finish="tool_calls", tool_calls=calls), context({})))
    assert [item.type for item in response.output] == ["function_call"]
    assert response.output_text == ""


@pytest.mark.parametrize(("finish", "reason"), [("length", "max_output_tokens"), ("content_filter", "content_filter")])
def test_cut_answers_are_incomplete(finish: str, reason: str) -> None:
    response = valid(render_response(completion("Once upon", finish=finish), context({})))
    assert response.status == "incomplete" and response.incomplete_details.reason == reason
    assert response.output[0].status == "incomplete" and response.completed_at is None


def test_status_override_and_missing_usage() -> None:
    done = completion("x")
    del done["usage"]
    response = valid(render_response(done, context({}), status_override="cancelled"))
    assert response.status == "cancelled" and response.usage is None


def test_logprobs_and_citations_are_carried() -> None:
    done = completion("Hi", annotations=[
        {"type": "url_citation", "url_citation": {"start_index": 0, "end_index": 2, "url": "https://a", "title": "A"}},
        {"type": "url_citation", "url_citation": {"start_index": "0"}},
    ])  # fmt: skip
    done["choices"][0]["logprobs"] = {"content": [
        {"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": [{"token": "Hi", "logprob": -0.1,
                                                                                "bytes": None}]},
    ]}  # fmt: skip
    part = valid(render_response(done, context({}))).output[0].content[0]
    assert part.annotations[0].url == "https://a" and len(part.annotations) == 1
    assert part.logprobs[0].token == "Hi" and part.logprobs[0].bytes == [72, 105]
    assert part.logprobs[0].top_logprobs[0].bytes == [72, 105]


@settings(max_examples=300, deadline=None)
@given(answer=JSON_VALUES, usage=JSON_VALUES)
def test_any_chat_answer_renders_a_valid_response(answer: Any, usage: Any) -> None:
    done = completion("x")
    done["choices"][0]["message"] = answer
    done["usage"] = usage
    assert valid(render_response(done, context({}))).object == "response"
    done["choices"] = [answer]
    assert valid(render_response(done, context({}))).object == "response"


def test_failed_response_uses_a_code_the_spec_allows() -> None:
    response = valid(failed_response(context({}), "upstream timed out", "upstream_timeout"))
    assert response.status == "failed" and response.error.code == "server_error"
    assert response.error.message == "upstream timed out" and response.output == []
    assert valid(failed_response(context({}), "slow down", "rate_limit_exceeded")).error.code == "rate_limit_exceeded"


def test_usage_from_nothing_is_zero() -> None:
    assert usage_from_chat(None) == {
        "input_tokens": 0, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 0, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 0,
    }  # fmt: skip


def test_round_trip_input_to_chat_to_an_echoing_answer() -> None:
    """What a client sends comes back: the echo model repeats the last user message."""
    body = {"model": "m", "input": [{"role": "user", "content": [{"type": "input_text", "text": "ping"}]}]}
    chat = to_chat(body)
    echoed = completion(chat["messages"][-1]["content"])
    assert valid(render_response(echoed, context(body))).output_text == "ping"


def test_render_is_cheap() -> None:
    """Every non-streamed Responses answer passes here: no pydantic, no copies. A loose bound (best
    of several batches, so a busy machine does not fail it) that still catches a validating or
    deep-copying renderer, which costs well over 100 µs on this body."""
    body, done = rich_body(), completion("Hello there", reasoning_content="hm")
    ctx = context(body)
    best = float("inf")
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(300):
            render_response(done, ctx)
        best = min(best, (time.perf_counter() - started) / 300)
    assert best < 100e-6, f"{best * 1e6:.1f} µs per render"


def test_rendering_does_not_change_its_inputs() -> None:
    body, done = rich_body(), completion("x", tool_calls=[{"id": "c", "function": {"name": "f", "arguments": "{}"}}])
    before = copy.deepcopy((body, done))
    render_response(done, context(body))
    assert (body, done) == before
