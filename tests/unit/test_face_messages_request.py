"""Messages face, requests: an Anthropic Messages body -> a chat completions body.

Checked three ways: each block type's translation, round trips through the gateway's own
chat -> Anthropic translator (what the Anthropic upstream receives must be what the client sent),
and hostile input (every malformed body is an `InvalidRequest` naming the field, never a crash).
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewayz.errors import InvalidRequest
from gatewayz.inference.faces.messages_request import check_count_tokens, to_chat
from gatewayz.inference.request import check_chat
from gatewayz.providers.protocols.anthropic import to_anthropic_request

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
PDF = "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK"
EPHEMERAL = {"type": "ephemeral"}

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather at a place",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def rich_body() -> dict[str, Any]:
    """A Messages request using every block type the face translates."""
    return {
        "model": "claude-test-model",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "You are terse.", "cache_control": EPHEMERAL}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Look at these."},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
                 "title": "report.pdf", "cache_control": EPHEMERAL},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain doc"}},
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "The user wants weather.", "signature": "sig"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_02", "name": "get_weather", "input": {"city": "Rome"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "toolu_02", "is_error": True,
                 "content": [{"type": "text", "text": "station offline"}]},
                {"type": "text", "text": "And tomorrow?"},
            ]},
        ],
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "stop_sequences": ["END", "\n\nHuman:"],
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "metadata": {"user_id": "user-123"},
        "thinking": {"type": "enabled", "budget_tokens": 8000},
        "stream": True,
        "service_tier": "auto",
        "provider": {"order": ["anthropic"]},
        "models": ["claude-haiku-4-5"],
    }


def refused(body: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        to_chat(body)
    return caught.value


def minimal(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    body.update(overrides)
    return body


# -- translation --------------------------------------------------------------------------------


def test_every_block_type_translates_to_its_chat_counterpart() -> None:
    chat = to_chat(rich_body())
    system, look, assistant, tool_1, tool_2, tomorrow = chat["messages"]
    assert system == {"role": "system", "content": [{"type": "text", "text": "You are terse.",
                                                     "cache_control": EPHEMERAL}]}
    assert look == {"role": "user", "content": [
        {"type": "text", "text": "Look at these."},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "file", "file": {"filename": "report.pdf", "file_data": f"data:application/pdf;base64,{PDF}"},
         "cache_control": EPHEMERAL},
        {"type": "text", "text": "plain doc"},
    ]}
    # thinking and redacted_thinking are dropped; tool_use ids are kept, input becomes JSON arguments
    assert assistant == {"role": "assistant", "content": "Checking.", "tool_calls": [
        {"id": "toolu_01", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
        {"id": "toolu_02", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
    ]}
    assert tool_1 == {"role": "tool", "tool_call_id": "toolu_01", "content": "18C"}
    assert tool_2 == {"role": "tool", "tool_call_id": "toolu_02", "content": "Error: station offline"}
    assert tomorrow == {"role": "user", "content": "And tomorrow?"}


def test_top_level_parameters_map_to_chat_names() -> None:
    chat = to_chat(rich_body())
    assert chat["model"] == "claude-test-model"
    assert chat["max_tokens"] == 1024
    assert chat["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "parameters": WEATHER_TOOL["input_schema"], "description": "Weather at a place"}}]
    assert chat["tool_choice"] == "auto"
    assert chat["parallel_tool_calls"] is False
    assert chat["stop"] == ["END", "\n\nHuman:"]
    assert (chat["temperature"], chat["top_p"], chat["top_k"]) == (0.5, 0.9, 40)
    assert chat["user"] == "user-123"
    assert chat["reasoning_effort"] == "medium"
    assert chat["stream"] is True and chat["stream_options"] == {"include_usage": True}
    assert chat["service_tier"] == "auto"
    # the gateway's routing fields pass through; Anthropic-only names do not linger
    assert chat["provider"] == {"order": ["anthropic"]} and chat["models"] == ["claude-haiku-4-5"]
    for name in ("system", "stop_sequences", "metadata", "thinking"):
        assert name not in chat


def test_the_chat_body_passes_the_pipelines_own_check() -> None:
    assert check_chat(to_chat(rich_body())) == "claude-test-model"


def test_unknown_top_level_fields_pass_through_untouched() -> None:
    marker = {"nested": [1, 2]}
    chat = to_chat(minimal(output_config={"effort": "low"}, x_custom=marker))
    assert chat["output_config"] == {"effort": "low"}
    assert chat["x_custom"] is marker  # not copied


@pytest.mark.parametrize(("choice", "expected"), [
    ({"type": "auto"}, "auto"),
    ({"type": "any"}, "required"),
    ({"type": "none"}, "none"),
    ({"type": "tool", "name": "get_weather"}, {"type": "function", "function": {"name": "get_weather"}}),
])  # fmt: skip
def test_tool_choice(choice: dict[str, Any], expected: Any) -> None:
    chat = to_chat(minimal(tools=[WEATHER_TOOL], tool_choice=choice))
    assert chat["tool_choice"] == expected
    assert "parallel_tool_calls" not in chat


def test_disable_parallel_tool_use_applies_to_every_choice_but_none() -> None:
    for kind, expected in (("any", False), ("tool", False), ("none", None)):
        choice = {"type": kind, "name": "get_weather", "disable_parallel_tool_use": True}
        assert to_chat(minimal(tools=[WEATHER_TOOL], tool_choice=choice)).get("parallel_tool_calls") is expected


def test_tool_choice_without_tools() -> None:
    assert "tool_choice" not in to_chat(minimal(tool_choice={"type": "auto"}))
    assert refused(minimal(tool_choice={"type": "any"})).param == "tool_choice"


@pytest.mark.parametrize(("budget", "effort"), [(1024, "low"), (4095, "low"), (4096, "medium"),
                                                (16383, "medium"), (16384, "high"), (64000, "high")])
def test_thinking_budget_sets_reasoning_effort(budget: int, effort: str) -> None:
    assert to_chat(minimal(thinking={"type": "enabled", "budget_tokens": budget}))["reasoning_effort"] == effort


def test_thinking_disabled_or_adaptive_sets_nothing() -> None:
    for kind in ("disabled", "adaptive"):
        assert "reasoning_effort" not in to_chat(minimal(thinking={"type": kind}))


def test_stream_false_and_service_tier_standard_only() -> None:
    chat = to_chat(minimal(stream=False, service_tier="standard_only"))
    assert "stream" not in chat and "stream_options" not in chat
    assert chat["service_tier"] == "default"


def test_string_system_and_content() -> None:
    chat = to_chat(minimal(system="Be brief."))
    assert chat["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]


def test_system_role_message_is_a_chat_system_message() -> None:
    body = minimal(messages=[{"role": "user", "content": "a"}, {"role": "system", "content": "later rule"},
                             {"role": "user", "content": "b"}])
    assert to_chat(body)["messages"][1] == {"role": "system", "content": "later rule"}


def test_cache_control_stays_on_parts() -> None:
    body = minimal(messages=[{"role": "user", "content": [{"type": "text", "text": "big", "cache_control": {
        "type": "ephemeral", "ttl": "1h"}}]}])
    assert to_chat(body)["messages"][0]["content"] == [
        {"type": "text", "text": "big", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]


def test_tool_result_images_follow_in_the_user_turn() -> None:
    body = minimal(messages=[
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "shot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [
            {"type": "text", "text": "screenshot:"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}},
        ]}]},
    ])
    assert to_chat(body)["messages"][1:] == [
        {"role": "tool", "tool_call_id": "t1", "content": "screenshot:"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}]},
    ]


def test_tool_result_edge_cases() -> None:
    body = minimal(messages=[{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "a"},
        {"type": "tool_result", "tool_use_id": "b", "is_error": True},
        {"type": "tool_result", "tool_use_id": "c", "content": "x", "cache_control": EPHEMERAL},
    ]}])
    assert to_chat(body)["messages"] == [
        {"role": "tool", "tool_call_id": "a", "content": ""},
        {"role": "tool", "tool_call_id": "b", "content": "Error"},
        {"role": "tool", "tool_call_id": "c", "content": [{"type": "text", "text": "x", "cache_control": EPHEMERAL}]},
    ]


def test_document_with_content_source_and_text_title() -> None:
    body = minimal(messages=[{"role": "user", "content": [
        {"type": "document", "title": "Notes", "context": "from the wiki",
         "source": {"type": "text", "media_type": "text/plain", "data": "body"}},
        {"type": "document", "cache_control": EPHEMERAL, "source": {"type": "content", "content": [
            {"type": "text", "text": "chunk 1"},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}]}},
    ]}])
    assert to_chat(body)["messages"][0]["content"] == [
        {"type": "text", "text": "Notes\n\nfrom the wiki\n\nbody"},
        {"type": "text", "text": "chunk 1"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}, "cache_control": EPHEMERAL},
    ]


def test_empty_final_assistant_prefill_is_allowed_and_dropped() -> None:
    body = minimal(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": []}])
    assert to_chat(body)["messages"] == [{"role": "user", "content": "hi"}]


def test_count_tokens_needs_no_max_tokens_and_never_streams() -> None:
    body = rich_body()
    del body["max_tokens"]
    chat = check_count_tokens(body)
    assert "max_tokens" not in chat and "stream" not in chat
    assert chat["messages"] == to_chat(rich_body())["messages"]
    assert refused(minimal(max_tokens=None)).param == "max_tokens"


def test_the_input_body_is_not_modified() -> None:
    body = rich_body()
    before = copy.deepcopy(body)
    to_chat(body)
    assert body == before


# -- round trips through the Anthropic upstream translator ---------------------------------------


def _blocks(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _round_trip(body: dict[str, Any]) -> dict[str, Any]:
    return to_anthropic_request(to_chat(body), body["model"], stream=False)


def test_round_trip_keeps_text_tools_tool_use_results_images_and_sampling() -> None:
    body = {
        "model": "claude-test-model",
        "max_tokens": 512,
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Weather here?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/sky.jpg"}},
            ]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris", "n": [1, 2]}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18C"},
                {"type": "text", "text": "Thanks"},
            ]},
        ],
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        "stop_sequences": ["END"],
        "temperature": 0.3,
        "top_p": 0.8,
        "top_k": 5,
        "metadata": {"user_id": "u-1"},
    }
    back = _round_trip(body)
    assert back["system"] == body["system"]
    assert back["messages"] == [{"role": m["role"], "content": _blocks(m["content"])} for m in body["messages"]]
    assert back["tools"] == body["tools"]
    assert back["tool_choice"] == body["tool_choice"]
    for name in ("max_tokens", "stop_sequences", "temperature", "top_p", "top_k", "metadata"):
        assert back[name] == body[name], name


@pytest.mark.parametrize("choice", [{"type": "auto"}, {"type": "any"}, {"type": "none"},
                                    {"type": "any", "disable_parallel_tool_use": True}])
def test_round_trip_tool_choice(choice: dict[str, Any]) -> None:
    assert _round_trip(minimal(tools=[WEATHER_TOOL], tool_choice=choice))["tool_choice"] == choice


def test_round_trip_cached_system_blocks_and_parts() -> None:
    system = [{"type": "text", "text": "rules", "cache_control": EPHEMERAL}]
    content = [{"type": "text", "text": "q1"}, {"type": "text", "text": "long doc", "cache_control": EPHEMERAL}]
    back = _round_trip(minimal(system=system, messages=[{"role": "user", "content": content}]))
    assert back["system"] == system
    assert back["messages"] == [{"role": "user", "content": content}]


def test_round_trip_pdf_document_and_error_result() -> None:
    body = minimal(messages=[
        {"role": "user", "content": [
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "boom", "is_error": True}]},
    ])
    back = _round_trip(body)["messages"]
    assert back[0]["content"] == [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}}]
    assert back[2]["content"] == [{"type": "tool_result", "tool_use_id": "t", "content": "Error: boom"}]


# -- hostile input -------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "param"), [
    ({"max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}, "model"),
    (minimal(max_tokens=None), "max_tokens"),
    (minimal(max_tokens="10"), "max_tokens"),
    (minimal(max_tokens=True), "max_tokens"),
    (minimal(max_tokens=0), "max_tokens"),
    (minimal(max_tokens=2**31), "max_tokens"),
    (minimal(messages=[]), "messages"),
    (minimal(messages="hi"), "messages"),
    (minimal(messages=None), "messages"),
    (minimal(messages=[5]), "messages.0"),
    (minimal(messages=[{"role": "bot", "content": "x"}]), "messages.0.role"),
    (minimal(messages=[{"role": "user"}]), "messages.0.content"),
    (minimal(messages=[{"role": "user", "content": ""}]), "messages.0"),
    (minimal(messages=[{"role": "user", "content": []}]), "messages.0"),
    (minimal(messages=[{"role": "assistant", "content": ""}, {"role": "user", "content": "x"}]), "messages.0"),
    (minimal(messages=[{"role": "user", "content": 7}]), "messages.0.content"),
    (minimal(messages=[{"role": "user", "content": [{"text": "no type"}]}]), "messages.0.content.0.type"),
    (minimal(messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}]),
     "messages.0.content.0.text"),
    (minimal(messages=[{"role": "user", "content": [{"type": "text", "text": 3}]}]), "messages.0.content.0.text"),
    (minimal(messages=[{"role": "user", "content": [{"type": "text", "text": "x", "cache_control": {"type": "x"}}]}]),
     "messages.0.content.0.cache_control"),
    (minimal(messages=[{"role": "user", "content": [{"type": "image"}]}]), "messages.0.content.0.source"),
    (minimal(messages=[{"role": "user", "content": [{"type": "image", "source": {
        "type": "base64", "media_type": "image/bmp", "data": "AA"}}]}]), "messages.0.content.0.source.media_type"),
    (minimal(messages=[{"role": "user", "content": [{"type": "image", "source": {
        "type": "base64", "media_type": "image/png"}}]}]), "messages.0.content.0.source.data"),
    (minimal(messages=[{"role": "user", "content": [{"type": "image", "source": {
        "type": "url", "url": "file:///etc/passwd"}}]}]), "messages.0.content.0.source.url"),
    (minimal(messages=[{"role": "user", "content": [{"type": "image", "source": {
        "type": "file", "file_id": "file_1"}}]}]), "messages.0.content.0.source"),
    (minimal(messages=[{"role": "user", "content": [{"type": "document", "source": {
        "type": "url", "url": "https://example.com/a.pdf"}}]}]), "messages.0.content.0.source"),
    (minimal(messages=[{"role": "user", "content": [{"type": "document", "source": {
        "type": "base64", "media_type": "image/png", "data": "AA"}}]}]), "messages.0.content.0.source.media_type"),
    (minimal(messages=[{"role": "user", "content": [{"type": "search_result", "source": "s", "title": "t",
                                                     "content": []}]}]), "messages.0.content.0.type"),
    (minimal(messages=[{"role": "user", "content": [{"type": "tool_use", "id": "a", "name": "b", "input": {}}]}]),
     "messages.0.content.0.type"),
    (minimal(messages=[{"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "a"}]}]),
     "messages.0.content.0.type"),
    (minimal(messages=[{"role": "assistant", "content": [{"type": "tool_use", "name": "b", "input": {}}]}]),
     "messages.0.content.0.id"),
    (minimal(messages=[{"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "b",
                                                          "input": "{}"}]}]), "messages.0.content.0.input"),
    (minimal(messages=[{"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "b",
                                                          "input": {"n": 2**70}}]}]), "messages.0.content.0.input"),
    (minimal(messages=[{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a",
                                                     "is_error": "yes"}]}]), "messages.0.content.0.is_error"),
    (minimal(messages=[{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": [
        {"type": "tool_reference", "tool_name": "x"}]}]}]), "messages.0.content.0.content.0.type"),
    (minimal(system=5), "system"),
    (minimal(system=[{"type": "image"}]), "system.0.type"),
    (minimal(tools={"name": "x"}), "tools"),
    (minimal(tools=[{"type": "web_search_20250305", "name": "web_search"}]), "tools.0.type"),
    (minimal(tools=[{"type": "bash_20250124", "name": "bash"}]), "tools.0.type"),
    (minimal(tools=[{"type": ["custom"], "name": "x"}]), "tools.0.type"),
    (minimal(tools=[{"name": "x"}]), "tools.0.input_schema"),
    (minimal(tools=[{"input_schema": {}}]), "tools.0.name"),
    (minimal(tools=[{"name": "x", "input_schema": {}, "description": 3}]), "tools.0.description"),
    (minimal(tool_choice="auto"), "tool_choice"),
    (minimal(tools=[WEATHER_TOOL], tool_choice={"type": "required"}), "tool_choice.type"),
    (minimal(tools=[WEATHER_TOOL], tool_choice={"type": "tool"}), "tool_choice.name"),
    (minimal(tools=[WEATHER_TOOL], tool_choice={"type": "auto", "disable_parallel_tool_use": 1}),
     "tool_choice.disable_parallel_tool_use"),
    (minimal(stop_sequences="END"), "stop_sequences"),
    (minimal(stop_sequences=["a", 1]), "stop_sequences.1"),
    (minimal(temperature=1.5), "temperature"),
    (minimal(temperature="hot"), "temperature"),
    (minimal(top_p=-0.1), "top_p"),
    (minimal(top_k=1.5), "top_k"),
    (minimal(top_k=-1), "top_k"),
    (minimal(metadata="u"), "metadata"),
    (minimal(metadata={"user_id": 5}), "metadata.user_id"),
    (minimal(thinking={"type": "enabled"}), "thinking.budget_tokens"),
    (minimal(thinking={"type": "enabled", "budget_tokens": 100}), "thinking.budget_tokens"),
    (minimal(thinking={"type": "on"}), "thinking.type"),
    (minimal(stream="yes"), "stream"),
    (minimal(service_tier="priority"), "service_tier"),
    (minimal(service_tier=[]), "service_tier"),  # unhashable values where a name is looked up (found by fuzzing)
    (minimal(messages=[{"role": "user", "content": [{"type": "image", "source": {
        "type": "base64", "media_type": [], "data": "AA"}}]}]), "messages.0.content.0.source.media_type"),
])  # fmt: skip
def test_malformed_bodies_are_400s_naming_the_field(body: Any, param: str) -> None:
    error = refused(body)
    assert error.status == 400
    assert error.param == param
    assert error.message.startswith(f"'{param}'" if param == "model" else f"{param}: ")


def test_server_tool_error_names_the_type() -> None:
    error = refused(minimal(tools=[{"type": "computer_20250124", "name": "computer"}]))
    assert "computer_20250124" in error.message and error.code == "unsupported_value"


def test_non_object_bodies() -> None:
    for body in ([], "x", None, 3):
        assert refused(body).status == 400


def test_deeply_nested_tool_input_is_a_400() -> None:
    deep: Any = {}
    for _ in range(400):
        deep = {"a": deep}
    body = minimal(messages=[{"role": "assistant", "content": [
        {"type": "tool_use", "id": "a", "name": "b", "input": deep}]}, {"role": "user", "content": "x"}])
    assert refused(body).param == "messages.0.content.0.input"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats(allow_nan=False)
    | st.text(max_size=8) | st.sampled_from(["text", "image", "document", "tool_use", "tool_result", "base64",
                                             "url", "user", "assistant", "custom", "tool", "any", "enabled"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "text", "source", "content", "role", "data", "media_type", "url", "id", "name",
                         "input", "tool_use_id", "is_error", "cache_control", "input_schema"]) | st.text(max_size=4),
        children, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.extend(_paths(child, (*prefix, index)))
    return out


def _replace(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


def _survives(body: Any) -> bool:
    """The only failure allowed is an InvalidRequest; a success is a body the pipeline accepts.
    True once both translators have either answered or refused (any other exception escapes)."""
    for translate in (to_chat, check_count_tokens):
        try:
            chat = translate(body)
        except InvalidRequest as exc:
            assert exc.status == 400 and exc.message
            continue
        assert isinstance(chat, dict) and chat["messages"]
        if translate is to_chat:
            try:
                check_chat(chat)
            except InvalidRequest as exc:  # only the pass-through routing fields may still be refused
                assert exc.message
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_mutated_bodies_never_crash(data: st.DataObject) -> None:
    body = copy.deepcopy(rich_body())  # shared constants (the tool) must not be mutated
    path = data.draw(st.sampled_from(_paths(body)))
    assert _survives(_replace(body, path, data.draw(JSON_VALUES)))


@settings(max_examples=300, deadline=None)
@given(body=JSON_VALUES)
def test_fuzz_arbitrary_bodies_never_crash(body: Any) -> None:
    assert _survives(body)


@settings(max_examples=300, deadline=None)
@given(messages=st.lists(JSON_VALUES, min_size=1, max_size=4))
def test_fuzz_arbitrary_messages_never_crash(messages: list[Any]) -> None:
    assert _survives(minimal(messages=messages))


def test_what_the_sdk_sends_is_accepted() -> None:
    """The body the official SDK builds (captured at its transport) translates without complaint."""
    import httpx2
    from anthropic import Anthropic

    sent: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(orjson.loads(request.content))
        return httpx2.Response(400, json={"type": "error", "error": {"type": "invalid_request_error", "message": "x"}})

    client = Anthropic(api_key="k", base_url="http://gateway.test", max_retries=0,
                       http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    body = rich_body()
    # SDK 2.x no longer offers the sampling parameters (newer models refuse them); they still go as extras
    extra = ("provider", "models", "temperature", "top_p", "top_k")
    with pytest.raises(Exception, match="Error code: 400"):
        client.messages.create(**{k: v for k, v in body.items() if k not in extra},
                               extra_body={k: body[k] for k in extra})
    assert to_chat(sent[0]) == to_chat(body)
