"""OpenAI → Gemini generateContent request translation, checked against payloads shaped like Google's docs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gatewayz.providers.protocols.gemini import gemini_path, to_gemini_request
from tests.unit.protocol_gemini_fixtures import PNG_B64, WEATHER_TOOL, _req, _tool_call


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
