"""OpenAI → Anthropic Messages request translation, checked against payloads shaped like Anthropic's docs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gatewayz.providers.protocols.anthropic import to_anthropic_request
from tests.unit.protocol_anthropic_fixtures import MODEL, PNG_B64, WEATHER_TOOL, _req


def test_minimal_request_has_required_fields_and_default_max_tokens() -> None:
    out = to_anthropic_request(_req(), MODEL, stream=False)
    assert out == {
        "model": MODEL,
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello, Claude"}]}],
    }
    assert to_anthropic_request(_req(), MODEL, stream=False, default_max_tokens=1024)["max_tokens"] == 1024


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    assert to_anthropic_request(_req(max_tokens=50), MODEL, stream=False)["max_tokens"] == 50
    out = to_anthropic_request(_req(max_tokens=50, max_completion_tokens=70), MODEL, stream=False)
    assert out["max_tokens"] == 70


def test_system_and_developer_messages_become_top_level_system() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": "Hi"},
        ]
    }
    out = to_anthropic_request(body, MODEL, stream=False)
    assert out["system"] == "You are terse.\n\nAnswer in French."
    assert [m["role"] for m in out["messages"]] == ["user"]


def test_cache_control_on_system_part_keeps_block_form() -> None:
    marker = {"type": "ephemeral"}
    body = {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Long doc", "cache_control": marker}]},
            {"role": "user", "content": "Summarise"},
        ]
    }
    out = to_anthropic_request(body, MODEL, stream=False)
    assert out["system"] == [{"type": "text", "text": "Long doc", "cache_control": marker}]


def test_image_parts_map_to_base64_and_url_sources() -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in these images?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
                    {"type": "image_url", "image_url": {"url": f"data:image/jpg;base64,{PNG_B64}"}},
                ],
            }
        ]
    }
    blocks = to_anthropic_request(body, MODEL, stream=False)["messages"][0]["content"]
    assert blocks[0] == {"type": "text", "text": "What is in these images?"}
    assert blocks[1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}
    assert blocks[2] == {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
    assert blocks[3]["source"]["media_type"] == "image/jpeg"


def test_pdf_file_part_becomes_document_block() -> None:
    part = {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}}
    body = {"messages": [{"role": "user", "content": [part]}]}
    block = to_anthropic_request(body, MODEL, stream=False)["messages"][0]["content"][0]
    assert block == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
    }


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}},
        {"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}},
        {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}},
    ],
)
def test_unsupported_parts_raise_value_error(part: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        to_anthropic_request({"messages": [{"role": "user", "content": [part]}]}, MODEL, stream=False)


def test_tool_conversation_maps_calls_results_and_merges_turns() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "Weather in SF and NYC?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "toolu_01A",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location": "San Francisco, CA"}'},
                    },
                    {
                        "id": "toolu_01B",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location": "New York'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_01A", "content": "15 degrees"},
            {"role": "tool", "tool_call_id": "toolu_01B", "content": [{"type": "text", "text": "22 degrees"}]},
            {"role": "user", "content": "Which is warmer?"},
        ]
    }
    messages = to_anthropic_request(body, MODEL, stream=False)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == [
        {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"location": "San Francisco, CA"}},
        {"type": "tool_use", "id": "toolu_01B", "name": "get_weather", "input": {"_raw": '{"location": "New York'}},
    ]
    assert messages[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "15 degrees"},
        {"type": "tool_result", "tool_use_id": "toolu_01B", "content": "22 degrees"},
        {"type": "text", "text": "Which is warmer?"},
    ]


def test_consecutive_same_role_messages_are_merged_and_empty_ones_dropped() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "one"},
            {"role": "user", "content": "two"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "three"},
            {"role": "assistant", "content": "ok"},
        ]
    }
    messages = to_anthropic_request(body, MODEL, stream=False)["messages"]
    assert messages == [
        {"role": "user", "content": [{"type": "text", "text": t} for t in ("one", "two", "three")]},
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
    ]


def test_tools_map_to_input_schema() -> None:
    no_args = {"type": "function", "function": {"name": "now"}}
    out = to_anthropic_request(_req(tools=[WEATHER_TOOL, no_args]), MODEL, stream=False)
    assert out["tools"] == [
        {
            "name": "get_weather",
            "description": "Get the current weather in a given location",
            "input_schema": WEATHER_TOOL["function"]["parameters"],
        },
        {"name": "now", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in out


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ({"type": "function", "function": {"name": "get_weather"}}, {"type": "tool", "name": "get_weather"}),
    ],
)
def test_tool_choice_mapping(choice: Any, expected: dict[str, Any]) -> None:
    out = to_anthropic_request(_req(tools=[WEATHER_TOOL], tool_choice=choice), MODEL, stream=False)
    assert out["tool_choice"] == expected


def test_parallel_tool_calls_false_disables_parallel_use() -> None:
    out = to_anthropic_request(_req(tools=[WEATHER_TOOL], parallel_tool_calls=False), MODEL, stream=False)
    assert out["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    out = to_anthropic_request(
        _req(tools=[WEATHER_TOOL], tool_choice="required", parallel_tool_calls=False), MODEL, stream=False
    )
    assert out["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


def test_tool_choice_without_tools_is_dropped_and_bad_choice_raises() -> None:
    assert "tool_choice" not in to_anthropic_request(_req(tool_choice="auto"), MODEL, stream=False)
    with pytest.raises(ValueError):
        to_anthropic_request(_req(tools=[WEATHER_TOOL], tool_choice="sometimes"), MODEL, stream=False)


@pytest.mark.parametrize(
    ("stop", "expected"),
    [("END", ["END"]), (["END", "\n", "###"], ["END", "###"]), ("\n", None)],
)
def test_stop_maps_to_stop_sequences_without_whitespace_only_entries(stop: Any, expected: Any) -> None:
    out = to_anthropic_request(_req(stop=stop), MODEL, stream=False)
    assert out.get("stop_sequences") == expected


def test_sampling_user_and_stream_params() -> None:
    out = to_anthropic_request(_req(temperature=0.3, top_p=0.9, user="user-123"), MODEL, stream=True)
    assert out["temperature"] == 0.3
    assert out["top_p"] == 0.9
    assert out["metadata"] == {"user_id": "user-123"}
    assert out["stream"] is True
    assert "stream" not in to_anthropic_request(_req(), MODEL, stream=False)
    assert to_anthropic_request(_req(temperature=1.7), MODEL, stream=False)["temperature"] == 1.0


def test_openai_only_params_are_not_forwarded() -> None:
    body = _req(
        n=1,
        presence_penalty=0.5,
        frequency_penalty=0.5,
        logprobs=True,
        seed=7,
        stream_options={"include_usage": True},
        response_format={"type": "text"},
    )
    out = to_anthropic_request(body, MODEL, stream=True)
    assert set(out) == {"model", "max_tokens", "messages", "stream"}


def test_n_greater_than_one_raises_clear_error() -> None:
    with pytest.raises(ValueError, match="n > 1"):
        to_anthropic_request(_req(n=2), MODEL, stream=False)


def test_request_translation_does_not_mutate_input() -> None:
    body = _req(tools=[WEATHER_TOOL], stop=["x"], messages=[{"role": "user", "content": "a"}] * 2)
    snapshot = copy.deepcopy(body)
    to_anthropic_request(body, MODEL, stream=False)
    assert body == snapshot


def test_reasoning_effort_becomes_a_thinking_budget_below_max_tokens() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4000, "reasoning_effort": "high",
            "temperature": 0.3, "top_k": 5, "top_p": 0.5}
    out = to_anthropic_request(body, "claude", stream=False)
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 3999}
    assert "temperature" not in out and "top_k" not in out and "top_p" not in out
    low = to_anthropic_request({**body, "reasoning_effort": "low", "max_tokens": 8000}, "claude", stream=False)
    assert low["thinking"]["budget_tokens"] == 2048


def test_no_thinking_when_max_tokens_is_below_the_minimum_budget_or_a_tool_is_forced() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1000, "reasoning_effort": "high",
            "temperature": 0.3}
    out = to_anthropic_request(body, "claude", stream=False)
    assert "thinking" not in out and out["temperature"] == 0.3
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    forced = to_anthropic_request({**body, "max_tokens": 5000, "tools": tools, "tool_choice": "required"},
                                  "claude", stream=False)
    assert "thinking" not in forced
