"""Gemini generateContent → OpenAI response and error translation, checked against payloads shaped like
Google's docs.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gatewayz.providers.protocols.gemini import error_from_gemini, from_gemini_response, to_gemini_request
from tests.unit.protocol_gemini_fixtures import ALIAS

# -- response -------------------------------------------------------------------------------

TEXT_RESPONSE = {
    "candidates": [
        {
            "content": {"parts": [{"text": "AI learns patterns from data."}], "role": "model"},
            "finishReason": "STOP",
            "avgLogprobs": -0.21,
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 120,
        "candidatesTokenCount": 8,
        "cachedContentTokenCount": 100,
        "thoughtsTokenCount": 30,
        "totalTokenCount": 158,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 120}],
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "mAitaLmkHPPlz7IPvtfUqQ4",
}

FUNCTION_RESPONSE = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"location": "Boston"}}},
                    {"functionCall": {"name": "get_time", "args": {}}},
                ],
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {"promptTokenCount": 50, "candidatesTokenCount": 12, "totalTokenCount": 62},
    "modelVersion": "gemini-2.5-flash",
}


def test_text_response_translates_to_chat_completion() -> None:
    out = from_gemini_response(TEXT_RESPONSE, model=ALIAS)
    assert out["object"] == "chat.completion"
    assert out["id"] == "mAitaLmkHPPlz7IPvtfUqQ4"
    assert out["model"] == ALIAS
    assert isinstance(out["created"], int)
    assert out["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "AI learns patterns from data."},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert out["usage"] == {
        "prompt_tokens": 120,
        "completion_tokens": 38,
        "total_tokens": 158,
        "prompt_tokens_details": {"cached_tokens": 100},
        "completion_tokens_details": {"reasoning_tokens": 30},
    }


def test_function_calls_become_tool_calls() -> None:
    out = from_gemini_response(FUNCTION_RESPONSE, model=ALIAS)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"location": "Boston"}
    assert calls[1]["function"]["arguments"] == "{}"
    assert all(c["id"].startswith("call_") and c["type"] == "function" for c in calls)
    assert calls[0]["id"] != calls[1]["id"]
    assert out["id"].startswith("chatcmpl-")
    assert out["usage"]["total_tokens"] == 62


def test_multiple_candidates_become_multiple_choices() -> None:
    data = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "A"}]}, "finishReason": "STOP", "index": 0},
            {"content": {"role": "model", "parts": [{"text": "B"}]}, "finishReason": "MAX_TOKENS", "index": 1},
        ]
    }
    choices = from_gemini_response(data, model=ALIAS)["choices"]
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in choices] == [
        (0, "A", "stop"),
        (1, "B", "length"),
    ]


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("OTHER", "stop"),
    ],
)
def test_finish_reason_mapping(reason: str, expected: str) -> None:
    data = {"candidates": [{**TEXT_RESPONSE["candidates"][0], "finishReason": reason}]}
    assert from_gemini_response(data, model=ALIAS)["choices"][0]["finish_reason"] == expected


def test_blocked_prompt_yields_content_filter_choice() -> None:
    data = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 7}}
    out = from_gemini_response(data, model=ALIAS)
    assert out["choices"][0]["finish_reason"] == "content_filter"
    assert out["choices"][0]["message"]["content"] is None
    assert out["usage"]["prompt_tokens"] == 7


def test_thought_parts_become_reasoning_content() -> None:
    parts = [{"text": "Pondering...", "thought": True}, {"text": "42"}]
    data = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}]}
    message = from_gemini_response(data, model=ALIAS)["choices"][0]["message"]
    assert message["content"] == "42"
    assert message["reasoning_content"] == "Pondering..."


def test_response_round_trip_resolves_function_names_from_generated_ids() -> None:
    message = from_gemini_response(FUNCTION_RESPONSE, model=ALIAS)["choices"][0]["message"]
    results = [{"role": "tool", "tool_call_id": c["id"], "content": "ok"} for c in message["tool_calls"]]
    contents = to_gemini_request({"messages": [{"role": "user", "content": "go"}, message, *results]})["contents"]
    assert contents[1]["parts"] == FUNCTION_RESPONSE["candidates"][0]["content"]["parts"]
    assert [p["functionResponse"]["name"] for p in contents[2]["parts"]] == ["get_weather", "get_time"]


# -- errors ---------------------------------------------------------------------------------


def test_error_from_gemini_reads_error_body() -> None:
    body = {"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}}
    assert error_from_gemini(400, body) == ("API key not valid.", "INVALID_ARGUMENT")
    assert error_from_gemini(400, [body]) == ("API key not valid.", "INVALID_ARGUMENT")


@pytest.mark.parametrize(
    ("status", "data", "expected"),
    [(503, None, "UNAVAILABLE"), (429, "<html>", "RESOURCE_EXHAUSTED"), (500, {"error": 3}, "INTERNAL")],
)
def test_error_from_gemini_is_robust_to_junk(status: int, data: Any, expected: str) -> None:
    message, code = error_from_gemini(status, data)
    assert code == expected
    assert str(status) in message
