"""OpenAI ⇄ Gemini generateContent translation, checked against payloads shaped like Google's docs."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from gatewayz.providers.protocols.gemini import (
    GeminiStreamTranslator,
    UpstreamStreamError,
    error_from_gemini,
    from_gemini_response,
    gemini_path,
    to_gemini_request,
)

ALIAS = "gemini"
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather",
        "parameters": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "location": {"type": "string", "format": "uri-reference", "description": "City"},
                "unit": {"type": ["string", "null"], "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                                    "properties": {"d": {"type": "integer"}}}},
            },
            "required": ["location"],
        },
    },
}  # fmt: skip


def _req(**extra: Any) -> dict[str, Any]:
    return {"model": ALIAS, "messages": [{"role": "user", "content": "Hello"}], **extra}


def _tool_call(call_id: str, name: str, args: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


# -- request --------------------------------------------------------------------------------


def test_minimal_request_and_system_instruction() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "You are a cat."},
            {"role": "developer", "content": "Your name is Neko."},
            {"role": "user", "content": "Hello there"},
            {"role": "assistant", "content": "Meow."},
            {"role": "user", "content": [{"type": "text", "text": "Good cat"}]},
        ]
    }
    assert to_gemini_request(body) == {
        "systemInstruction": {"parts": [{"text": "You are a cat.\n\nYour name is Neko."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Hello there"}]},
            {"role": "model", "parts": [{"text": "Meow."}]},
            {"role": "user", "parts": [{"text": "Good cat"}]},
        ],
    }


def test_image_parts_map_to_inline_and_file_data() -> None:
    content = [
        {"type": "text", "text": "Describe"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/photo.png"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/render?id=3"}},
    ]
    parts = to_gemini_request({"messages": [{"role": "user", "content": content}]})["contents"][0]["parts"]
    assert parts == [
        {"text": "Describe"},
        {"inlineData": {"mimeType": "image/png", "data": PNG_B64}},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/photo.png"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/render?id=3"}},
    ]


def test_audio_part_maps_to_inline_audio() -> None:
    part = {"type": "input_audio", "input_audio": {"data": "SUQzBA", "format": "mp3"}}
    parts = to_gemini_request({"messages": [{"role": "user", "content": [part]}]})["contents"][0]["parts"]
    assert parts == [{"inlineData": {"mimeType": "audio/mpeg", "data": "SUQzBA"}}]


def test_tool_calls_and_results_map_to_function_call_and_response() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "Weather in Boston and the time?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    _tool_call("call_1", "get_weather", '{"location": "Boston"}'),
                    _tool_call("call_2", "get_time", "{}"),
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature": 20, "unit": "C"}'},
            {"role": "tool", "tool_call_id": "call_2", "content": "10:42"},
        ]
    }
    contents = to_gemini_request(body)["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[1]["parts"] == [
        {"text": "Checking."},
        {"functionCall": {"name": "get_weather", "args": {"location": "Boston"}}},
        {"functionCall": {"name": "get_time", "args": {}}},
    ]
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"temperature": 20, "unit": "C"}}},
        {"functionResponse": {"name": "get_time", "response": {"output": "10:42"}}},
    ]


def test_non_object_json_tool_output_is_wrapped_and_invalid_args_kept_raw() -> None:
    body = {
        "messages": [
            {"role": "assistant", "tool_calls": [_tool_call("c", "f", '{"a": ')]},
            {"role": "tool", "tool_call_id": "c", "content": "[1, 2]"},
        ]
    }
    contents = to_gemini_request(body)["contents"]
    assert contents[0]["parts"][0]["functionCall"]["args"] == {"_raw": '{"a": '}
    assert contents[1]["parts"][0]["functionResponse"]["response"] == {"output": [1, 2]}


def test_tool_result_for_unknown_call_raises() -> None:
    body = {"messages": [{"role": "tool", "tool_call_id": "call_missing", "content": "x"}]}
    with pytest.raises(ValueError, match="call_missing"):
        to_gemini_request(body)


def test_tools_become_function_declarations_with_cleaned_schema() -> None:
    no_args = {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}
    out = to_gemini_request(_req(tools=[WEATHER_TOOL, no_args]))
    assert out["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Get the current weather",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "location": {"type": "string", "description": "City"},
                            "unit": {"type": "string", "nullable": True, "enum": ["celsius", "fahrenheit"]},
                            "days": {"type": "array", "items": {"type": "object",
                                                                "properties": {"d": {"type": "integer"}}}},
                        },
                        "required": ["location"],
                    },
                },
                {"name": "now"},
            ]
        }
    ]  # fmt: skip
    assert "toolConfig" not in out


def test_schema_refs_and_optional_any_of_are_inlined() -> None:
    schema = {
        "$defs": {"City": {"type": "object", "title": "City", "properties": {"name": {"type": "string"}}}},
        "type": "object",
        "properties": {
            "home": {"$ref": "#/$defs/City", "description": "Where they live"},
            "work": {"anyOf": [{"$ref": "#/$defs/City"}, {"type": "null"}], "default": None},
            "kind": {"const": "person"},
        },
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "Person", "schema": schema, "strict": True}}
    config = to_gemini_request(_req(response_format=fmt))["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    props = config["responseSchema"]["properties"]
    city = {"type": "object", "title": "City", "properties": {"name": {"type": "string"}}}
    assert props["home"] == {**city, "description": "Where they live"}
    assert props["work"] == {**city, "nullable": True, "default": None}
    assert props["kind"] == {"type": "string", "enum": ["person"]}
    assert "$defs" not in config["responseSchema"]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        ({"type": "function", "function": {"name": "get_weather"}},
         {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
    ],
)  # fmt: skip
def test_tool_choice_maps_to_function_calling_config(choice: Any, expected: dict[str, Any]) -> None:
    out = to_gemini_request(_req(tools=[WEATHER_TOOL], tool_choice=choice))
    assert out["toolConfig"] == {"functionCallingConfig": expected}


def test_generation_config_mapping() -> None:
    body = _req(temperature=0.4, top_p=0.8, max_tokens=256, stop=["END", "STOP"], n=2, seed=42)
    assert to_gemini_request(body)["generationConfig"] == {
        "temperature": 0.4,
        "topP": 0.8,
        "seed": 42,
        "maxOutputTokens": 256,
        "stopSequences": ["END", "STOP"],
        "candidateCount": 2,
    }
    assert to_gemini_request(_req(stop="END"))["generationConfig"] == {"stopSequences": ["END"]}


def test_max_tokens_default_and_absent_generation_config() -> None:
    assert "generationConfig" not in to_gemini_request(_req())
    assert to_gemini_request(_req(), default_max_tokens=512)["generationConfig"] == {"maxOutputTokens": 512}
    out = to_gemini_request(_req(max_tokens=10, max_completion_tokens=20), default_max_tokens=512)
    assert out["generationConfig"]["maxOutputTokens"] == 20


def test_json_object_response_format() -> None:
    config = to_gemini_request(_req(response_format={"type": "json_object"}))["generationConfig"]
    assert config == {"responseMimeType": "application/json"}


def test_request_translation_does_not_mutate_input() -> None:
    body = _req(tools=[WEATHER_TOOL], response_format={"type": "json_schema", "json_schema": {"schema": {}}})
    snapshot = copy.deepcopy(body)
    to_gemini_request(body)
    assert body == snapshot


def test_gemini_path() -> None:
    assert gemini_path("gemini-2.5-flash", stream=False) == "models/gemini-2.5-flash:generateContent"
    assert gemini_path("models/gemini-2.5-flash", stream=True) == (
        "models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )


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


# -- streaming ------------------------------------------------------------------------------

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
