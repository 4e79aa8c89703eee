"""Anthropic Messages → OpenAI response and error translation, checked against payloads shaped like
Anthropic's docs.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gatewayz.providers.protocols.anthropic import error_from_anthropic, from_anthropic_response, to_anthropic_request
from tests.unit.protocol_anthropic_fixtures import ALIAS, MODEL

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
