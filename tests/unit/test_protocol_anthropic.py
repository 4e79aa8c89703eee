"""OpenAI ⇄ Anthropic Messages translation, checked against payloads shaped like Anthropic's docs."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from gatewayz.providers.protocols.anthropic import (
    AnthropicStreamTranslator,
    UpstreamStreamError,
    error_from_anthropic,
    from_anthropic_response,
    to_anthropic_request,
)

MODEL = "claude-sonnet-4-5"
ALIAS = "claude"
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string", "description": "City and state"}},
            "required": ["location"],
        },
    },
}


def _req(**extra: Any) -> dict[str, Any]:
    return {"model": ALIAS, "messages": [{"role": "user", "content": "Hello, Claude"}], **extra}


# -- request --------------------------------------------------------------------------------


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


# -- response -------------------------------------------------------------------------------

TEXT_RESPONSE = {
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Hi! My name is Claude."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 2095,
        "output_tokens": 503,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 1000,
    },
}

TOOL_RESPONSE = {
    "id": "msg_01Aq9w938a90dw8q",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {"type": "text", "text": "I'll check the weather."},
        {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
         "input": {"location": "San Francisco, CA", "unit": "celsius"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 472, "output_tokens": 89},
}  # fmt: skip


def test_text_response_translates_to_chat_completion() -> None:
    out = from_anthropic_response(TEXT_RESPONSE, model=ALIAS)
    assert out["object"] == "chat.completion"
    assert out["id"] == "msg_013Zva2CMHLNnXjNJJKqJ2EF"
    assert out["model"] == ALIAS
    assert isinstance(out["created"], int)
    assert out["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hi! My name is Claude."},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert out["usage"] == {
        "prompt_tokens": 2095 + 1000 + 100,
        "completion_tokens": 503,
        "total_tokens": 2095 + 1000 + 100 + 503,
        "prompt_tokens_details": {"cached_tokens": 1000},
    }


def test_tool_use_response_translates_to_tool_calls() -> None:
    choice = from_anthropic_response(TOOL_RESPONSE, model=ALIAS)["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "I'll check the weather."
    (call,) = choice["message"]["tool_calls"]
    assert call["id"] == "toolu_01A09q90qw90lq917835lq9"
    assert call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"location": "San Francisco, CA", "unit": "celsius"}


def test_tool_only_response_has_null_content() -> None:
    data = {**TOOL_RESPONSE, "content": TOOL_RESPONSE["content"][1:]}
    message = from_anthropic_response(data, model=ALIAS)["choices"][0]["message"]
    assert message["content"] is None
    assert len(message["tool_calls"]) == 1


def test_thinking_blocks_become_reasoning_content() -> None:
    data = {
        **TEXT_RESPONSE,
        "content": [{"type": "thinking", "thinking": "Let me think.", "signature": "sig"}, *TEXT_RESPONSE["content"]],
    }
    message = from_anthropic_response(data, model=ALIAS)["choices"][0]["message"]
    assert message["reasoning_content"] == "Let me think."
    assert message["content"] == "Hi! My name is Claude."


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_finish_reason_mapping(stop_reason: str, finish_reason: str) -> None:
    out = from_anthropic_response({**TEXT_RESPONSE, "stop_reason": stop_reason}, model=ALIAS)
    assert out["choices"][0]["finish_reason"] == finish_reason


def test_response_round_trips_back_into_an_identical_request_turn() -> None:
    message = from_anthropic_response(TOOL_RESPONSE, model=ALIAS)["choices"][0]["message"]
    body = {"messages": [{"role": "user", "content": "Weather?"}, message]}
    replayed = to_anthropic_request(body, MODEL, stream=False)["messages"][1]
    assert replayed == {"role": "assistant", "content": TOOL_RESPONSE["content"]}


# -- streaming ------------------------------------------------------------------------------

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


# -- errors ---------------------------------------------------------------------------------


def test_error_from_anthropic_reads_error_body() -> None:
    body = {"type": "error", "error": {"type": "not_found_error", "message": "The requested resource was not found."}}
    assert error_from_anthropic(404, body) == ("The requested resource was not found.", "not_found_error")


@pytest.mark.parametrize(
    ("status", "data", "expected_type"),
    [
        (529, None, "overloaded_error"),
        (429, {"unexpected": True}, "rate_limit_error"),
        (502, {"error": {"message": 5}}, "api_error"),
        (400, {"error": []}, "invalid_request_error"),
    ],
)
def test_error_from_anthropic_is_robust_to_junk(status: int, data: Any, expected_type: str) -> None:
    message, error_type = error_from_anthropic(status, data)
    assert error_type == expected_type
    assert str(status) in message


def test_error_from_anthropic_accepts_string_error() -> None:
    assert error_from_anthropic(401, {"error": "invalid x-api-key"}) == ("invalid x-api-key", "authentication_error")
