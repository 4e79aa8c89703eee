"""Responses face, requests: Responses body -> chat body (every item and part type, formats, tools),
and hostile bodies: each an `InvalidRequest` naming the Responses parameter, never a crash."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.responses import Response

from gatewayz.errors import InvalidRequest
from gatewayz.inference.faces.responses_answer import render_response
from gatewayz.inference.faces.responses_request import input_items, to_chat
from gatewayz.inference.request import check_chat
from tests.unit.responses_bodies import (
    ITEMS,
    JSON_VALUES,
    PDF_DATA,
    PNG_URL,
    WEATHER,
    completion,
    context,
    paths,
    rich_body,
)

# --- requests -------------------------------------------------------------------------------------


def test_every_item_and_part_type_translates() -> None:
    chat = to_chat(rich_body())
    assert chat["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": [
            {"type": "text", "text": "Look at these."},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": PNG_URL, "detail": "high"}},
            {"type": "image_url", "image_url": {"url": PNG_URL}},
            {"type": "file", "file": {"file_data": PDF_DATA, "filename": "report.pdf"}},
        ]},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "station offline"},
        {"role": "assistant", "content": "", "refusal": "I cannot say."},
        {"role": "user", "content": "And tomorrow?"},
    ]  # fmt: skip
    assert chat["tools"] == [
        {"type": "function", "function": {"name": "get_weather", "description": "Weather at a place",
                                          "parameters": WEATHER["parameters"], "strict": True}}
    ]  # fmt: skip
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert chat["parallel_tool_calls"] is False
    assert chat["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "forecast", "schema": {"type": "object"}, "description": "A forecast", "strict": True},
    }
    assert chat["verbosity"] == "low"
    assert chat["max_tokens"] == 500
    assert (chat["temperature"], chat["top_p"], chat["reasoning_effort"]) == (0.3, 0.9, "low")
    assert (chat["user"], chat["safety_identifier"], chat["prompt_cache_key"]) == ("u-1", "s-1", "k-1")
    assert chat["service_tier"] == "flex"
    for name in ("metadata", "store", "truncation", "include", "input", "instructions", "text", "reasoning"):
        assert name not in chat
    assert "stream" not in chat
    assert check_chat(chat) == "gpt-4.1"  # the pipeline's own chat check accepts it


def test_string_input_is_one_user_message_and_stream_asks_for_usage() -> None:
    chat = to_chat({"model": " gpt-4o ", "input": "Hello", "stream": True})
    assert chat == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Hello"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_unknown_fields_and_routing_fields_pass_through() -> None:
    body = {"model": "m", "input": "hi", "provider": {"order": ["openai"]}, "models": ["a", "b"], "seed": 7,
            "prompt_cache_retention": "24h"}  # fmt: skip
    chat = to_chat(body)
    assert (chat["provider"], chat["models"], chat["seed"]) == ({"order": ["openai"]}, ["a", "b"], 7)
    assert chat["prompt_cache_retention"] == "24h"
    assert check_chat(chat) == "m"


def test_previous_turns_follow_the_instructions_and_earlier_instructions_are_not_replayed() -> None:
    first = {"model": "m", "instructions": "old rules", "input": "What is 2+2?"}
    answer = render_response(completion("4"), context(first))
    earlier = input_items(first) + answer["output"]
    chat = to_chat({"model": "m", "instructions": "new rules", "input": "And 3+3?", "previous_response_id": "r"},
                   earlier)  # fmt: skip
    assert chat["messages"] == [
        {"role": "system", "content": "new rules"},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
    ]
    assert "previous_response_id" not in chat


def test_logprobs_are_asked_for_when_included() -> None:
    chat = to_chat({"model": "m", "input": "x", "include": ["message.output_text.logprobs"], "top_logprobs": 3})
    assert (chat["logprobs"], chat["top_logprobs"]) == (True, 3)
    assert "logprobs" not in to_chat({"model": "m", "input": "x", "top_logprobs": 0})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ({"format": {"type": "text"}}, None),
        ({"format": {"type": "json_object"}}, {"type": "json_object"}),
    ],
)
def test_text_formats(text: dict[str, Any], expected: Any) -> None:
    assert to_chat({"model": "m", "input": "x", "text": text}).get("response_format") == expected


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("auto", "auto"), ("none", "none"), ("required", "required"),
     ({"type": "function", "name": "get_weather"}, {"type": "function", "function": {"name": "get_weather"}})],
)  # fmt: skip
def test_tool_choices(choice: Any, expected: Any) -> None:
    assert to_chat({"model": "m", "input": "x", "tools": [WEATHER], "tool_choice": choice})["tool_choice"] == expected


def test_without_tools_auto_and_parallel_are_not_forwarded() -> None:
    chat = to_chat({"model": "m", "input": "x", "tools": [], "tool_choice": "auto", "parallel_tool_calls": True})
    assert {"tools", "tool_choice", "parallel_tool_calls"}.isdisjoint(chat)


def with_(path: str, value: Any) -> dict[str, Any]:
    """rich_body() with the value at a dotted path (list indexes as numbers) replaced."""
    body = copy.deepcopy(rich_body())
    target: Any = body
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return body


def without(path: str) -> dict[str, Any]:
    body = copy.deepcopy(rich_body())
    target: Any = body
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        target = target[key]
    del target[keys[-1]]
    return body


REFUSED = [
    (without("model"), "model", "missing_required_parameter"),
    (with_("input", 5), "input", "invalid_type"),
    (with_("input", []), "input", "missing_required_parameter"),
    ({"model": "m", "instructions": "only rules"}, "input", "missing_required_parameter"),
    (with_("input.0", "text"), "input[0]", "invalid_type"),
    (with_("input.0", {}), "input[0].type", "missing_required_parameter"),
    (with_("input.0", {"id": "msg_x"}), "input[0].type", "unsupported_value"),
    (with_("input.0.role", "tool"), "input[0].role", "invalid_value"),
    (with_("input.0.role", ["user"]), "input[0].role", "invalid_type"),
    (without("input.0.content"), "input[0].content", "missing_required_parameter"),
    (with_("input.0.content", 3), "input[0].content", "invalid_type"),
    (with_("input.1.content.0.text", None), "input[1].content[0].text", "missing_required_parameter"),
    (with_("input.1.content.0.text", 1), "input[1].content[0].text", "invalid_type"),
    (with_("input.1.content.0.type", "text"), "input[1].content[0].type", "invalid_value"),
    (with_("input.1.content.0", {"text": "x"}), "input[1].content[0].type", "missing_required_parameter"),
    (
        with_("input.1.content.1", {"type": "input_image", "file_id": "file-1"}),
        "input[1].content[1].file_id",
        "unsupported_value",
    ),
    (
        with_("input.1.content.1", {"type": "input_image"}),
        "input[1].content[1].image_url",
        "missing_required_parameter",
    ),
    (with_("input.1.content.1.image_url", {"url": "x"}), "input[1].content[1].image_url", "invalid_type"),
    (with_("input.1.content.1.detail", "medium"), "input[1].content[1].detail", "invalid_value"),
    (with_("input.1.content.1.detail", ["low"]), "input[1].content[1].detail", "invalid_value"),
    (
        with_("input.1.content.4", {"type": "input_file", "file_id": "file-1"}),
        "input[1].content[4].file_id",
        "unsupported_value",
    ),
    (
        with_("input.1.content.4", {"type": "input_file", "file_url": "https://x/y.pdf"}),
        "input[1].content[4].file_url",
        "unsupported_value",
    ),
    (with_("input.1.content.4.filename", 9), "input[1].content[4].filename", "invalid_type"),
    (
        with_("input.0.content", [{"type": "input_image", "image_url": PNG_URL}]),
        "input[0].content[0].type",
        "invalid_value",
    ),
    (with_("input.3.content.0.type", "input_image"), "input[3].content[0].type", "invalid_value"),
    (with_("input.3.content", [7]), "input[3].content[0]", "invalid_type"),
    (with_("input.4.call_id", ""), "input[4].call_id", "empty_string"),
    (without("input.4.name"), "input[4].name", "missing_required_parameter"),
    (with_("input.4.arguments", {"city": "Paris"}), "input[4].arguments", "invalid_type"),
    (without("input.6.call_id"), "input[6].call_id", "missing_required_parameter"),
    (without("input.6.output"), "input[6].output", "missing_required_parameter"),
    (
        with_("input.7.output", [{"type": "input_image", "image_url": PNG_URL}]),
        "input[7].output[0].type",
        "unsupported_value",
    ),
    (with_("input.7.output", {"a": 1}), "input[7].output", "invalid_type"),
    (with_("input.2", {"type": "item_reference", "id": "msg_1"}), "input[2].type", "unsupported_value"),
    (with_("input.2", {"type": "web_search_call", "id": "ws_1"}), "input[2].type", "unsupported_value"),
    (with_("input.2", {"type": "bogus"}), "input[2].type", "invalid_value"),
    (with_("input.2", {"type": 3}), "input[2].type", "invalid_type"),
    (with_("instructions", ["x"]), "instructions", "invalid_type"),
    (with_("tools", {"a": 1}), "tools", "invalid_type"),
    (with_("tools.0", {"type": "web_search"}), "tools[0].type", "unsupported_tool"),
    (with_("tools.0", {"type": "mcp", "server_label": "x"}), "tools[0].type", "unsupported_tool"),
    (with_("tools.0", {"type": "function", "function": {"name": "f"}}), "tools[0].name", "missing_required_parameter"),
    (with_("tools.0.parameters", "{}"), "tools[0].parameters", "invalid_type"),
    (with_("tools.0.strict", "yes"), "tools[0].strict", "invalid_type"),
    (with_("tool_choice", "any"), "tool_choice", "invalid_value"),
    (with_("tool_choice", {"type": "function", "name": "other"}), "tool_choice.name", "invalid_value"),
    (with_("tool_choice", {"type": "file_search"}), "tool_choice.type", "unsupported_value"),
    (with_("tool_choice", 1), "tool_choice", "invalid_type"),
    ({"model": "m", "input": "x", "tool_choice": "required"}, "tool_choice", "invalid_value"),
    (with_("parallel_tool_calls", "no"), "parallel_tool_calls", "invalid_type"),
    (with_("text", "json"), "text", "invalid_type"),
    (with_("text.format.type", "yaml"), "text.format.type", "invalid_value"),
    (with_("text.format.name", "has space"), "text.format.name", "invalid_value"),
    (without("text.format.schema"), "text.format.schema", "missing_required_parameter"),
    (with_("text.format.schema", []), "text.format.schema", "invalid_type"),
    (with_("text.verbosity", "loud"), "text.verbosity", "invalid_value"),
    (with_("max_output_tokens", 0), "max_output_tokens", "integer_below_min_value"),
    (with_("max_output_tokens", 2**31), "max_output_tokens", "integer_above_max_value"),
    (with_("max_output_tokens", True), "max_output_tokens", "invalid_type"),
    (with_("max_output_tokens", 1.5), "max_output_tokens", "invalid_type"),
    (with_("temperature", 2.5), "temperature", "decimal_above_max_value"),
    (with_("temperature", "hot"), "temperature", "invalid_type"),
    (with_("top_p", -0.1), "top_p", "decimal_below_min_value"),
    (with_("reasoning", "high"), "reasoning", "invalid_type"),
    (with_("reasoning.effort", "extreme"), "reasoning.effort", "invalid_value"),
    (with_("reasoning.summary", "long"), "reasoning.summary", "invalid_value"),
    (with_("service_tier", "gold"), "service_tier", "invalid_value"),
    (with_("user", 5), "user", "invalid_type"),
    (with_("metadata", {f"k{i}": "v" for i in range(17)}), "metadata", "object_above_max_properties"),
    (with_("metadata", {"k" * 65: "v"}), "metadata", "invalid_value"),
    (with_("metadata", {"k": "v" * 513}), "metadata.k", "string_above_max_length"),
    (with_("metadata", {"k": 1}), "metadata.k", "invalid_type"),
    (with_("metadata", []), "metadata", "invalid_type"),
    (with_("store", "yes"), "store", "invalid_type"),
    (with_("stream", 1), "stream", "invalid_type"),
    (with_("previous_response_id", 5), "previous_response_id", "invalid_type"),
    (with_("truncation", "middle"), "truncation", "invalid_value"),
    (with_("include", "all"), "include", "invalid_type"),
    (with_("top_logprobs", 21), "top_logprobs", "integer_above_max_value"),
    (with_("background", True), "background", "unsupported_parameter"),
    (with_("background", "yes"), "background", "invalid_type"),
    (with_("conversation", "conv_1"), "conversation", "unsupported_parameter"),
    (with_("prompt", {"id": "pmpt_1"}), "prompt", "unsupported_parameter"),
    (with_("n", 2), "n", "unsupported_parameter"),
    (with_("n", 0), "n", "unsupported_parameter"),
    (with_("n", True), "n", "unsupported_parameter"),  # True == 1 in Python, not on the wire
    (with_("n", "1"), "n", "unsupported_parameter"),
]


@pytest.mark.parametrize(("body", "param", "code"), REFUSED, ids=[f"{p}:{c}" for _, p, c in REFUSED])
def test_malformed_bodies_are_a_400_naming_the_parameter(body: dict[str, Any], param: str, code: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        to_chat(body)
    assert (caught.value.param, caught.value.code, caught.value.status) == (param, code, 400)
    assert caught.value.message


def test_n_of_one_is_accepted_and_several_outputs_are_refused() -> None:
    """A response renders one output, so only `n: 1` (the chat default, not forwarded) is taken."""
    assert "n" not in to_chat({"model": "m", "input": "x", "n": 1})
    assert "n" not in to_chat({"model": "m", "input": "x", "n": None})
    with pytest.raises(InvalidRequest) as caught:
        to_chat({"model": "m", "input": "x", "n": 3})
    assert (caught.value.param, caught.value.code, caught.value.status) == ("n", "unsupported_parameter", 400)
    assert "'n'" in caught.value.message


def test_unsupported_tool_names_its_type() -> None:
    with pytest.raises(InvalidRequest, match="'code_interpreter'"):
        to_chat(with_("tools.0", {"type": "code_interpreter", "container": {"type": "auto"}}))


def test_a_stored_turn_that_cannot_be_replayed_names_previous_response_id() -> None:
    with pytest.raises(InvalidRequest) as caught:
        to_chat({"model": "m", "input": "x"}, [{"type": "computer_call", "id": "cu_1"}])
    assert caught.value.param == "previous_response_id"


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_junk_anywhere_in_a_valid_body_is_a_400_or_accepted_never_a_crash(data: st.DataObject) -> None:
    body = copy.deepcopy(rich_body())
    path = data.draw(st.sampled_from(paths(body)[1:]))
    junk = data.draw(JSON_VALUES)
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = junk
    try:
        chat = to_chat(body)
    except InvalidRequest as exc:
        assert exc.status == 400 and exc.message
        return
    check_chat(chat)
    ctx = context(body)
    # Whatever was accepted must echo back as a valid Response and list as valid items.
    Response.model_validate(render_response(completion("ok"), ctx), strict=True)
    ITEMS.validate_python(input_items(body), strict=True)


@settings(max_examples=300, deadline=None)
@given(body=st.dictionaries(st.sampled_from([*sorted(rich_body()), "x"]), JSON_VALUES, max_size=8))
def test_arbitrary_bodies_never_crash(body: dict[str, Any]) -> None:
    body.setdefault("model", "m")
    try:
        chat = to_chat(body)
    except InvalidRequest as exc:
        assert exc.status == 400 and exc.message  # the only failure allowed
    else:
        assert chat["model"] == "m" and isinstance(chat["messages"], list)


@settings(max_examples=200, deadline=None)
@given(earlier=st.lists(JSON_VALUES, max_size=4))
def test_arbitrary_earlier_items_never_crash(earlier: list[Any]) -> None:
    try:
        to_chat({"model": "m", "input": "x"}, earlier)
    except InvalidRequest as exc:
        assert exc.param == "previous_response_id"


