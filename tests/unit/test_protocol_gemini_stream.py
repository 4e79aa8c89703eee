"""Gemini streamGenerateContent → OpenAI chat.completion.chunk stream translation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gatewayz.providers.protocols.gemini import GeminiStreamTranslator, UpstreamStreamError
from tests.unit.protocol_gemini_fixtures import ALIAS

STREAM = [
    {"candidates": [{"content": {"role": "model", "parts": [{"text": "Let me check"}]}, "index": 0}],
     "usageMetadata": {"promptTokenCount": 50, "totalTokenCount": 50},
     "modelVersion": "gemini-2.5-flash", "responseId": "resp-abc"},
    {"candidates": [{"content": {"role": "model", "parts": [{"text": " both."}]}, "index": 0}],
     "modelVersion": "gemini-2.5-flash", "responseId": "resp-abc"},
    {"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"location": "Boston"}}},
        {"functionCall": {"name": "get_time", "args": {"tz": "EST"}}}]},
        "finishReason": "STOP", "index": 0}],
     "usageMetadata": {"promptTokenCount": 50, "candidatesTokenCount": 20, "cachedContentTokenCount": 32,
                       "totalTokenCount": 70},
     "modelVersion": "gemini-2.5-flash", "responseId": "resp-abc"},
]  # fmt: skip


def _run(translator: GeminiStreamTranslator) -> list[dict[str, Any]]:
    return [chunk for data in STREAM for chunk in translator.feed(data)] + translator.finish()


def test_stream_with_text_and_two_function_calls() -> None:
    translator = GeminiStreamTranslator(model=ALIAS, include_usage=True)
    chunks = _run(translator)

    assert {c["id"] for c in chunks} == {"resp-abc"}
    assert len({c["created"] for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == ALIAS for c in chunks)
    deltas = [c["choices"][0]["delta"] for c in chunks[:-1]]
    assert deltas[0] == {"role": "assistant", "content": "Let me check"}
    assert deltas[1] == {"content": " both."}
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert [(c["index"], c["type"], c["function"]["name"]) for c in calls] == [
        (0, "function", "get_weather"),
        (1, "function", "get_time"),
    ]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [{"location": "Boston"}, {"tz": "EST"}]
    assert all(c["id"].startswith("call_") for c in calls)
    assert sum("role" in d for d in deltas) == 1
    assert chunks[-2]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "tool_calls"}

    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 50,
        "completion_tokens": 20,
        "total_tokens": 70,
        "prompt_tokens_details": {"cached_tokens": 32},
    }
    assert all(c["usage"] is None for c in chunks[:-1])


def test_stream_without_include_usage_keeps_usage_for_billing() -> None:
    translator = GeminiStreamTranslator(ALIAS, False)
    chunks = _run(translator)
    assert all(c["choices"] and "usage" not in c for c in chunks)
    assert translator.finish() == []
    assert translator.usage is not None
    assert translator.usage["completion_tokens"] == 20


def test_finish_emits_usage_once() -> None:
    translator = GeminiStreamTranslator(model=ALIAS, include_usage=True)
    assert translator.usage is None
    assert translator.finish() == []  # nothing known yet
    for data in STREAM:
        translator.feed(data)
    assert len(translator.finish()) == 1
    assert translator.finish() == []


def test_stream_safety_stop_and_multiple_candidates() -> None:
    translator = GeminiStreamTranslator(model=ALIAS, include_usage=False)
    chunks = translator.feed(
        {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": "Sure"}]}, "finishReason": "STOP", "index": 0},
                {"finishReason": "SAFETY", "index": 1},
            ]
        }
    )
    summary = [(c["choices"][0]["index"], c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks]
    assert summary == [
        (0, {"role": "assistant", "content": "Sure"}, None),
        (0, {}, "stop"),
        (1, {"role": "assistant"}, "content_filter"),
    ]


def test_stream_blocked_prompt() -> None:
    translator = GeminiStreamTranslator(model=ALIAS, include_usage=False)
    (chunk,) = translator.feed({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}})
    assert chunk["choices"][0]["finish_reason"] == "content_filter"


def test_stream_error_raises() -> None:
    translator = GeminiStreamTranslator(model=ALIAS, include_usage=False)
    data = {"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}}
    with pytest.raises(UpstreamStreamError) as info:
        translator.feed(data)
    assert (info.value.message, info.value.type) == ("Resource has been exhausted", "RESOURCE_EXHAUSTED")
