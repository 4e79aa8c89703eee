"""Messages face, requests: an Anthropic Messages body -> a chat completions body, checked block by
block and by round trips through the gateway's own chat -> Anthropic translator (what the Anthropic
upstream receives must be what the client sent). Hostile input: test_face_messages_hostile.py."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gatewayz.inference.faces.messages_request import check_count_tokens, to_chat
from gatewayz.inference.request import check_chat
from gatewayz.providers.protocols.anthropic import to_anthropic_request
from tests.unit.messages_bodies import EPHEMERAL, PDF, PNG, WEATHER_TOOL, minimal, refused, rich_body

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


