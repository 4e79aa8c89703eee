"""Tests for the sandbox simulator: determinism, OpenAI wire fidelity (checked with the official SDK
types and stream accumulator), structured outputs, tools, streaming, embeddings, errors and validation.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import re
import struct
from collections.abc import Iterator
from typing import Any, Literal

import httpx
import openai
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from gatewayz.providers.sandbox import (
    DEFAULT_DIMENSIONS,
    MAX_DELAY_MS,
    SANDBOX_PROVIDER,
    SandboxError,
    requested_delay_ms,
    sandbox_models,
    simulate_chat,
    simulate_chat_stream,
    simulate_embeddings,
)
from gatewayz.providers.sandbox_common import tokenize

# ---------------------------------------------------------------------------------------------
# helpers


def chat(body: dict[str, Any], rid: str = "chatcmpl-test", created: int = 1_700_000_000) -> dict[str, Any]:
    """Run ``simulate_chat`` and check the result against the SDK's ``ChatCompletion`` model."""
    result = simulate_chat(body, response_id=rid, created=created)
    ChatCompletion.model_validate(result)
    json.dumps(result)  # must be plain JSON
    return result


def stream(body: dict[str, Any], rid: str = "chatcmpl-test", created: int = 1_700_000_000) -> list[dict[str, Any]]:
    """Run ``simulate_chat_stream`` and check every chunk against the SDK's ``ChatCompletionChunk``."""
    chunks = simulate_chat_stream(body, response_id=rid, created=created)
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    json.dumps(chunks)
    return chunks


def sdk_assemble(chunks: list[dict[str, Any]]) -> Any:
    """Feed chunks through the SDK's own stream accumulator and return its final completion."""
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    return state.get_final_completion()


def user(text: str, model: str = "sandbox/chat", **extra: Any) -> dict[str, Any]:
    """A one-message chat body."""
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def reassemble_tool_calls(chunks: list[dict[str, Any]], choice_index: int = 0) -> list[dict[str, Any]]:
    """Rebuild tool calls from deltas the way a hand-written client would (by index)."""
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            if choice["index"] != choice_index:
                continue
            for delta in choice["delta"].get("tool_calls") or []:
                call = calls.setdefault(
                    delta["index"], {"id": None, "type": None, "function": {"name": None, "arguments": ""}}
                )
                if delta.get("id"):
                    call["id"] = delta["id"]
                if delta.get("type"):
                    call["type"] = delta["type"]
                function = delta.get("function") or {}
                if function.get("name"):
                    call["function"]["name"] = function["name"]
                call["function"]["arguments"] += function.get("arguments") or ""
    return [calls[i] for i in sorted(calls)]


_FORMATS = {
    "date-time": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "email": re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    "uuid": re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
    "uri": re.compile(r"^[a-z][a-z0-9+.-]*://\S+$"),
}


def check_schema(value: Any, schema: Any, root: dict[str, Any] | None = None, path: str = "$") -> None:
    """A minimal JSON Schema checker (jsonschema is not installed) covering the generator's subset."""
    root = root if root is not None else schema
    if schema is True or schema == {}:
        return
    assert isinstance(schema, dict), path
    if "$ref" in schema:
        target: Any = root
        for key in schema["$ref"].lstrip("#/").split("/"):
            target = target[key]
        check_schema(value, target, root, path)
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        if rest:
            check_schema(value, rest, root, path)
        return
    if "const" in schema:
        assert value == schema["const"], path
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in enum"
    if "anyOf" in schema:
        errors = 0
        for branch in schema["anyOf"]:
            try:
                check_schema(value, branch, root, path)
            except AssertionError:
                errors += 1
        assert errors < len(schema["anyOf"]), f"{path}: no anyOf branch matched"
    for part in schema.get("allOf", []):
        check_schema(value, part, root, path)
    types = schema.get("type")
    if types is not None:
        allowed = types if isinstance(types, list) else [types]
        checks = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "null": lambda v: v is None,
        }
        assert any(checks[t](value) for t in allowed), f"{path}: {value!r} is not {allowed}"
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            assert key in value, f"{path}: missing required {key!r}"
        for key, item in value.items():
            if key in props:
                check_schema(item, props[key], root, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                raise AssertionError(f"{path}: unexpected property {key!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                check_schema(item, schema["additionalProperties"], root, f"{path}.{key}")
    if isinstance(value, list):
        assert len(value) >= schema.get("minItems", 0), path
        assert len(value) <= schema.get("maxItems", math.inf), path
        if schema.get("uniqueItems"):
            assert len({json.dumps(v, sort_keys=True) for v in value}) == len(value), path
        for i, item in enumerate(value):
            check_schema(item, schema.get("items", {}), root, f"{path}[{i}]")
    if isinstance(value, str):
        assert len(value) >= schema.get("minLength", 0), path
        assert len(value) <= schema.get("maxLength", math.inf), path
        if schema.get("format") in _FORMATS:
            assert _FORMATS[schema["format"]].match(value), f"{path}: {value!r} is not {schema['format']}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        assert value >= schema.get("minimum", -math.inf), path
        assert value <= schema.get("maximum", math.inf), path
        assert value > schema.get("exclusiveMinimum", -math.inf), path
        assert value < schema.get("exclusiveMaximum", math.inf), path
        if "multipleOf" in schema:
            ratio = value / schema["multipleOf"]
            assert abs(ratio - round(ratio)) < 1e-9, f"{path}: {value} not a multiple"


def test_check_schema_rejects_invalid_values() -> None:
    """Guard the test helper itself: a checker that accepts everything would make schema tests vacuous."""
    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 3}}, "required": ["n"]}
    with pytest.raises(AssertionError):
        check_schema({}, schema)
    with pytest.raises(AssertionError):
        check_schema({"n": 4}, schema)
    with pytest.raises(AssertionError):
        check_schema({"n": "1"}, schema)
    check_schema({"n": 3}, schema)


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["location", "unit"],
            "additionalProperties": False,
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "web_search",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "filters": {
                    "type": "object",
                    "properties": {"sites": {"type": "array", "items": {"type": "string", "format": "uri"}}},
                    "required": ["sites"],
                },
            },
            "required": ["query"],
        },
    },
}
CLOCK_TOOL = {"type": "function", "function": {"name": "get_time"}}
TOOLS = [WEATHER_TOOL, SEARCH_TOOL, CLOCK_TOOL]


def schema_of(tool: dict[str, Any]) -> dict[str, Any]:
    """The parameters schema of a tool definition (empty object schema when absent)."""
    return tool["function"].get("parameters") or {"type": "object"}


# ---------------------------------------------------------------------------------------------
# models, determinism, basic shape


def test_provider_name_and_models() -> None:
    models = sandbox_models()
    assert SANDBOX_PROVIDER == "sandbox"
    assert {"sandbox/chat", "sandbox/chat-large", "sandbox/embed"} <= set(models)
    assert all(m.startswith("sandbox/") for m in models)
    models.append("mutated")
    assert "mutated" not in sandbox_models()  # callers get a copy, not the registry


def test_basic_completion_shape_and_echo() -> None:
    result = chat(user("What is the capital of France?", model="openai/gpt-4o"), rid="chatcmpl-abc", created=42)
    assert result["id"] == "chatcmpl-abc"
    assert result["created"] == 42
    assert result["object"] == "chat.completion"
    assert result["model"] == "openai/gpt-4o"  # any model id is accepted and reported back
    [choice] = result["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["logprobs"] is None
    message = choice["message"]
    assert message["role"] == "assistant"
    assert "What is the capital of France?" in message["content"]
    assert "tool_calls" not in message
    assert result["system_fingerprint"].startswith("fp_")


def test_usage_is_consistent() -> None:
    result = chat(user("Count my tokens please."))
    usage = result["usage"]
    content = result["choices"][0]["message"]["content"]
    assert usage["completion_tokens"] == len(tokenize(content))
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] > 0
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0


def test_prompt_tokens_grow_with_text_and_tool_definitions() -> None:
    short = chat(user("hi"))["usage"]["prompt_tokens"]
    long = chat(user("hi " * 400))["usage"]["prompt_tokens"]
    assert long - short >= 250  # ~4 characters per token: 1200 more characters
    with_tools = chat(user("hi", tools=TOOLS, tool_choice="none"))["usage"]["prompt_tokens"]
    assert with_tools - short >= len(json.dumps(TOOLS)) // 5


def test_deterministic_apart_from_id_and_created() -> None:
    body = user("Tell me something deterministic.", n=2, logprobs=True, top_logprobs=3)
    first = simulate_chat(copy.deepcopy(body), response_id="a", created=1)
    second = simulate_chat(copy.deepcopy(body), response_id="b", created=2)
    assert (first["id"], first["created"]) == ("a", 1)
    assert (second["id"], second["created"]) == ("b", 2)
    first.update(id="x", created=0)
    second.update(id="x", created=0)
    assert json.dumps(first) == json.dumps(second)
    assert body == user("Tell me something deterministic.", n=2, logprobs=True, top_logprobs=3)  # not mutated


def test_key_order_of_request_does_not_matter() -> None:
    a = {"model": "sandbox/chat", "seed": 7, "messages": [{"role": "user", "content": "order"}]}
    b = {"messages": [{"content": "order", "role": "user"}], "seed": 7, "model": "sandbox/chat"}
    assert simulate_chat(a, response_id="i", created=0) == simulate_chat(b, response_id="i", created=0)


def test_seed_is_accepted_and_varies_output() -> None:
    contents = {chat(user("Vary me", seed=seed))["choices"][0]["message"]["content"] for seed in range(10)}
    assert len(contents) >= 2
    again = chat(user("Vary me", seed=3))["choices"][0]["message"]["content"]
    assert again == chat(user("Vary me", seed=3))["choices"][0]["message"]["content"]


def test_n_choices() -> None:
    result = chat(user("Give me options", n=3))
    assert [c["index"] for c in result["choices"]] == [0, 1, 2]
    total = sum(len(tokenize(c["message"]["content"])) for c in result["choices"])
    assert result["usage"]["completion_tokens"] == total


def test_multimodal_content_parts_and_markers_are_not_echoed() -> None:
    body = {
        "model": "sandbox/chat",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe this picture [[sandbox:delay_ms=5]]"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                ],
            },
        ],
    }
    result = chat(body)
    content = result["choices"][0]["message"]["content"]
    assert "Describe this picture" in content
    assert "[[sandbox" not in content
    text_only = chat({**body, "messages": [body["messages"][0], user("Describe this picture")["messages"][0]]})
    assert result["usage"]["prompt_tokens"] >= text_only["usage"]["prompt_tokens"] + 85  # image counted


# ---------------------------------------------------------------------------------------------
# max_tokens, stop, logprobs


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_truncates_with_length(field: str) -> None:
    full = chat(user("Please write a long answer"))["choices"][0]["message"]["content"]
    result = chat(user("Please write a long answer", **{field: 5}))
    choice = result["choices"][0]
    assert choice["finish_reason"] == "length"
    assert result["usage"]["completion_tokens"] == 5
    assert full.startswith(choice["message"]["content"])
    assert len(choice["message"]["content"]) < len(full)


def test_max_tokens_larger_than_answer_is_a_normal_stop() -> None:
    result = chat(user("Short", max_tokens=10_000))
    assert result["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("stop", ["sandbox", ["zzz-never", "sandbox"]])
def test_stop_sequence_cuts_before_it(stop: str | list[str]) -> None:
    full = chat(user("Stop early"))["choices"][0]["message"]["content"]
    assert "sandbox" in full
    result = chat(user("Stop early", stop=stop))
    content = result["choices"][0]["message"]["content"]
    assert content == full[: full.index("sandbox")]
    assert result["choices"][0]["finish_reason"] == "stop"
    assert result["usage"]["completion_tokens"] == len(tokenize(content))


def test_logprobs_per_token() -> None:
    result = chat(user("Show logprobs", logprobs=True, top_logprobs=3))
    choice = result["choices"][0]
    entries = choice["logprobs"]["content"]
    assert "".join(e["token"] for e in entries) == choice["message"]["content"]
    assert len(entries) == result["usage"]["completion_tokens"]
    for entry in entries:
        assert entry["logprob"] <= 0
        assert bytes(entry["bytes"]).decode("utf-8") == entry["token"]
        assert len(entry["top_logprobs"]) == 3
        assert entry["top_logprobs"][0]["token"] == entry["token"]
        values = [t["logprob"] for t in entry["top_logprobs"]]
        assert values == sorted(values, reverse=True)
        assert len({t["token"] for t in entry["top_logprobs"]}) == 3
    without_top = chat(user("Show logprobs", logprobs=True))["choices"][0]["logprobs"]["content"]
    assert all(e["top_logprobs"] == [] for e in without_top)


# ---------------------------------------------------------------------------------------------
# structured outputs


def test_json_object_mode_returns_a_json_object() -> None:
    result = chat(user("Reply in JSON please", response_format={"type": "json_object"}))
    parsed = json.loads(result["choices"][0]["message"]["content"])
    assert isinstance(parsed, dict) and parsed


def test_json_object_mode_requires_the_word_json() -> None:
    with pytest.raises(SandboxError) as err:
        simulate_chat(user("Reply please", response_format={"type": "json_object"}), response_id="x", created=0)
    assert err.value.status == 400
    assert err.value.param == "messages"


SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 3, "maxLength": 40},
            "rating": {"type": "integer", "minimum": 1, "maximum": 5},
            "score": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "price": {"type": "number", "multipleOf": 0.25, "minimum": 10, "maximum": 12},
            "mood": {"type": "string", "enum": ["happy", "sad", "neutral"]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 4, "uniqueItems": True},
            "author": {
                "type": "object",
                "properties": {
                    "email": {"type": "string", "format": "email"},
                    "id": {"type": "string", "format": "uuid"},
                    "joined": {"type": "string", "format": "date-time"},
                },
                "required": ["email", "id", "joined"],
                "additionalProperties": False,
            },
            "nickname": {"type": ["string", "null"]},
            "active": {"type": "boolean"},
            "kind": {"const": "review"},
        },
        "required": ["title", "rating", "score", "price", "mood", "tags", "author", "nickname", "active", "kind"],
        "additionalProperties": False,
    },
    {
        "$defs": {
            "Step": {
                "type": "object",
                "properties": {"explanation": {"type": "string"}, "output": {"type": "string"}},
                "required": ["explanation", "output"],
                "additionalProperties": False,
            }
        },
        "type": "object",
        "properties": {
            "steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}, "minItems": 1},
            "final_answer": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["steps", "final_answer"],
        "additionalProperties": False,
    },
    {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
                "required": ["name", "children"],
            }
        },
        "$ref": "#/$defs/Node",
    },
    {"type": "array", "items": {"type": "integer", "multipleOf": 5, "minimum": 7}, "minItems": 2},
    {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}]},
]


def test_degenerate_self_referencing_schema_terminates() -> None:
    schema = {"$defs": {"Loop": {"$ref": "#/$defs/Loop"}}, "$ref": "#/$defs/Loop"}
    response_format = {"type": "json_schema", "json_schema": {"name": "loop", "schema": schema}}
    content = chat(user("loop", response_format=response_format))["choices"][0]["message"]["content"]
    assert content == "null"


@pytest.mark.parametrize("schema", SCHEMAS)
def test_json_schema_output_validates(schema: dict[str, Any]) -> None:
    response_format = {"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": True}}
    for seed in range(5):
        result = chat(user("Fill the schema", response_format=response_format, seed=seed))
        value = json.loads(result["choices"][0]["message"]["content"])
        check_schema(value, schema)


class _Address(pydantic.BaseModel):
    street: str
    postcode: str
    country: Literal["FR", "DE", "US"]


class _Person(pydantic.BaseModel):
    name: str
    age: int = pydantic.Field(ge=0, le=130)
    height_m: float
    addresses: list[_Address]
    nickname: str | None
    verified: bool


def test_json_schema_from_pydantic_model_parses_back() -> None:
    """Mirrors the SDK's ``.parse(response_format=Model)`` flow: pydantic $defs/$ref schemas must work."""
    schema = _Person.model_json_schema()
    response_format = {"type": "json_schema", "json_schema": {"name": "Person", "schema": schema}}
    content = chat(user("Who?", response_format=response_format))["choices"][0]["message"]["content"]
    person = _Person.model_validate_json(content)
    assert 0 <= person.age <= 130
    assert person.addresses and all(a.country in ("FR", "DE", "US") for a in person.addresses)


# ---------------------------------------------------------------------------------------------
# tools


def test_parallel_tool_calls_call_the_first_two_tools() -> None:
    result = chat(user("Weather in Paris and news about it?", tools=TOOLS))
    choice = result["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None
    calls = message["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "web_search"]
    for call, tool in zip(calls, TOOLS, strict=False):
        assert call["type"] == "function"
        assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call["id"])
        check_schema(json.loads(call["function"]["arguments"]), schema_of(tool))
    assert calls[0]["id"] != calls[1]["id"]
    assert json.loads(calls[1]["function"]["arguments"])["query"].startswith("Weather in Paris")
    assert result["usage"]["completion_tokens"] > 0


def test_parallel_tool_calls_false_calls_only_the_first() -> None:
    calls = chat(user("Weather?", tools=TOOLS, parallel_tool_calls=False))["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather"]


def test_single_tool_without_parameters() -> None:
    calls = chat(user("Time?", tools=[CLOCK_TOOL]))["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_time"]
    assert json.loads(calls[0]["function"]["arguments"]) == {}


def test_named_tool_choice_calls_that_function() -> None:
    choice = {"type": "function", "function": {"name": "web_search"}}
    calls = chat(user("Search", tools=TOOLS, tool_choice=choice))["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["web_search"]


def test_tool_choice_none_answers_in_text() -> None:
    result = chat(user("Weather?", tools=TOOLS, tool_choice="none"))
    assert "tool_calls" not in result["choices"][0]["message"]
    assert result["choices"][0]["finish_reason"] == "stop"


def test_tool_result_gets_a_text_answer_mentioning_it() -> None:
    first = chat(user("Weather in Paris?", tools=[WEATHER_TOOL]))
    assistant = first["choices"][0]["message"]
    call = assistant["tool_calls"][0]
    body = {
        "model": "sandbox/chat",
        "tools": [WEATHER_TOOL],
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": assistant["tool_calls"]},
            {"role": "tool", "tool_call_id": call["id"], "content": '{"temp_c": 21, "sky": "sunny"}'},
        ],
    }
    result = chat(body)
    choice = result["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "tool_calls" not in choice["message"]
    assert "get_weather" in choice["message"]["content"]
    assert '"temp_c": 21' in choice["message"]["content"]


def test_tool_calls_respect_max_tokens() -> None:
    result = chat(user("Weather?", tools=[WEATHER_TOOL], max_tokens=4))
    choice = result["choices"][0]
    assert choice["finish_reason"] == "length"
    assert result["usage"]["completion_tokens"] == 4
    arguments = choice["message"]["tool_calls"][0]["function"]["arguments"]
    full = chat(user("Weather?", tools=[WEATHER_TOOL]))["choices"][0]["message"]["tool_calls"][0]
    assert full["function"]["arguments"].startswith(arguments) and arguments != full["function"]["arguments"]


# ---------------------------------------------------------------------------------------------
# streaming


def test_stream_text_matches_non_streaming() -> None:
    body = user("Stream this answer please")
    chunks = stream(body, rid="chatcmpl-s", created=9)
    full = chat(body)
    assert all(c["id"] == "chatcmpl-s" and c["created"] == 9 for c in chunks)
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]]
    assert len(pieces) >= 5 and all(pieces)
    assert "".join(pieces) == full["choices"][0]["message"]["content"]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    last = chunks[-1]["choices"][0]
    assert last["delta"] == {} and last["finish_reason"] == "stop"
    assert all("usage" not in c for c in chunks)  # only present with include_usage


def test_stream_include_usage() -> None:
    body = user("Usage please", stream=True, stream_options={"include_usage": True})
    chunks = stream(body)
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == chat(body)["usage"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


def test_stream_sdk_accumulator_rebuilds_the_completion() -> None:
    body = user("Assemble me", n=2, logprobs=True, top_logprobs=2, stream_options={"include_usage": True})
    final = sdk_assemble(stream(body))
    expected = chat(body)
    assert len(final.choices) == 2
    for got, want in zip(final.choices, expected["choices"], strict=True):
        assert got.message.content == want["message"]["content"]
        assert got.finish_reason == want["finish_reason"]
        assert [t.model_dump() for t in got.logprobs.content] == want["logprobs"]["content"]
    assert final.usage is not None
    assert final.usage.total_tokens == expected["usage"]["total_tokens"]


def test_stream_tool_calls_reassemble_to_the_non_streaming_calls() -> None:
    body = user("Weather and search", tools=TOOLS)
    chunks = stream(body)
    expected = chat(body)["choices"][0]["message"]["tool_calls"]
    assert reassemble_tool_calls(chunks) == expected
    first = chunks[0]["choices"][0]["delta"]
    assert first["role"] == "assistant" and first["content"] is None
    headers = [
        d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls") or [] if "id" in d
    ]  # first delta of each call
    assert [h["index"] for h in headers] == [0, 1]
    for header, call in zip(headers, expected, strict=True):
        assert header == {
            "index": header["index"],
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
    fragments = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls") or [] if "id" not in d]
    assert len(fragments) > 4 and all(set(d) == {"index", "function"} for d in fragments)
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "tool_calls"}
    final = sdk_assemble(chunks)
    got = [c.model_dump(include={"id", "type", "function"}) for c in final.choices[0].message.tool_calls]
    assert [{**g, "function": {k: g["function"][k] for k in ("name", "arguments")}} for g in got] == expected


def test_stream_logprobs_one_entry_per_piece() -> None:
    chunks = stream(user("Logprob stream", logprobs=True))
    for chunk in chunks[1:-1]:
        choice = chunk["choices"][0]
        assert [e["token"] for e in choice["logprobs"]["content"]] == [choice["delta"]["content"]]


def test_stream_is_deterministic() -> None:
    body = user("Same stream twice", tools=TOOLS, stream_options={"include_usage": True})
    assert json.dumps(stream(body)) == json.dumps(stream(copy.deepcopy(body)))


# ---------------------------------------------------------------------------------------------
# errors and delays on request


@pytest.mark.parametrize(
    ("status", "type_", "code"),
    [
        (400, "invalid_request_error", None),
        (401, "authentication_error", "invalid_api_key"),
        (403, "permission_error", "permission_denied"),
        (404, "invalid_request_error", "model_not_found"),
        (429, "rate_limit_error", "rate_limit_exceeded"),
        (500, "server_error", None),
        (503, "server_error", "service_unavailable"),
        (418, "invalid_request_error", None),
        (599, "server_error", None),
    ],
)
def test_error_marker_raises(status: int, type_: str, code: str | None) -> None:
    body = user(f"Please fail [[sandbox:error={status}]]")
    for fn in (simulate_chat, simulate_chat_stream):
        with pytest.raises(SandboxError) as err:
            fn(body, response_id="x", created=0)
        assert (err.value.status, err.value.type, err.value.code) == (status, type_, code)
        assert err.value.to_dict() == {
            "error": {"message": err.value.message, "type": type_, "param": None, "code": code}
        }
        assert str(status) in err.value.message


def test_error_marker_only_counts_in_the_last_user_message() -> None:
    body = {
        "model": "sandbox/chat",
        "messages": [
            {"role": "user", "content": "fail [[sandbox:error=500]]"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "now succeed"},
        ],
    }
    assert chat(body)["choices"][0]["finish_reason"] == "stop"


def test_error_marker_outside_http_error_range_is_a_400() -> None:
    with pytest.raises(SandboxError) as err:
        simulate_chat(user("[[sandbox:error=200]]"), response_id="x", created=0)
    assert err.value.status == 400 and err.value.param == "messages"


def test_validation_runs_before_error_markers() -> None:
    body = {"model": "sandbox/chat", "messages": [{"role": "user", "content": "[[sandbox:error=500]]"}], "n": 0}
    with pytest.raises(SandboxError) as err:
        simulate_chat(body, response_id="x", created=0)
    assert (err.value.status, err.value.param) == (400, "n")


def test_requested_delay_ms() -> None:
    assert requested_delay_ms(user("slow [[sandbox:delay_ms=250]]")) == 250
    assert requested_delay_ms(user("fast")) == 0
    assert requested_delay_ms(user("[[sandbox:delay_ms=99999999]]")) == MAX_DELAY_MS
    assert requested_delay_ms({"model": "sandbox/embed", "input": ["a", "b [[sandbox:delay_ms=40]]"]}) == 40
    assert requested_delay_ms(None) == 0
    assert requested_delay_ms({"messages": "garbage"}) == 0
    earlier = {
        "model": "m",
        "messages": [{"role": "user", "content": "[[sandbox:delay_ms=9]]"}, {"role": "user", "content": "x"}],
    }
    assert requested_delay_ms(earlier) == 0
    # the marker does not change the answer's text apart from the echo, and is never echoed
    content = chat(user("slow [[sandbox:delay_ms=250]]"))["choices"][0]["message"]["content"]
    assert "delay_ms" not in content


# ---------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "sandbox/chat"}, "messages"),
        ({"model": "sandbox/chat", "messages": []}, "messages"),
        ({"model": "sandbox/chat", "messages": "hi"}, "messages"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "sandbox/chat", "messages": [{"content": "hi"}]}, "messages[0].role"),
        ({"model": "sandbox/chat", "messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"model": "sandbox/chat", "messages": ["hi"]}, "messages[0]"),
        ({"model": "sandbox/chat", "messages": [{"role": "user"}]}, "messages[0].content"),
        ({"model": "sandbox/chat", "messages": [{"role": "user", "content": [{"type": "text"}]}]},
         "messages[0].content[0].text"),
        ({"model": "sandbox/chat", "messages": [{"role": "assistant", "content": None}]}, "messages[0].content"),
        ({"model": "sandbox/chat", "messages": [{"role": "tool", "content": "42"}]}, "messages[0].tool_call_id"),
        ({**user("hi"), "n": 0}, "n"),
        ({**user("hi"), "n": True}, "n"),
        ({**user("hi"), "max_tokens": 0}, "max_tokens"),
        ({**user("hi"), "max_completion_tokens": "5"}, "max_completion_tokens"),
        ({**user("hi"), "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({**user("hi"), "top_logprobs": 2}, "top_logprobs"),
        ({**user("hi"), "logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ({**user("hi"), "seed": "7"}, "seed"),
        ({**user("hi"), "tool_choice": "auto"}, "tool_choice"),
        ({**user("hi"), "tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
         "tool_choice"),
        ({**user("hi"), "tools": [{"type": "function", "function": {"name": "bad name!"}}]},
         "tools[0].function.name"),
        ({**user("hi"), "response_format": {"type": "yaml"}}, "response_format"),
        ({**user("hi"), "response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
         "response_format"),
    ],
)  # fmt: skip
def test_invalid_chat_requests_are_400(body: dict[str, Any], param: str) -> None:
    for fn in (simulate_chat, simulate_chat_stream):
        with pytest.raises(SandboxError) as err:
            fn(body, response_id="x", created=0)
        assert err.value.status == 400
        assert err.value.type == "invalid_request_error"
        assert err.value.param == param
        assert err.value.to_dict()["error"]["param"] == param


# ---------------------------------------------------------------------------------------------
# embeddings


def embed(body: dict[str, Any]) -> dict[str, Any]:
    """Run ``simulate_embeddings`` and check it against the SDK's ``CreateEmbeddingResponse``."""
    result = simulate_embeddings(body)
    if body.get("encoding_format") != "base64":
        CreateEmbeddingResponse.model_validate(result)
    json.dumps(result)
    return result


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(v * v for v in vector))


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (norm(a) * norm(b))


@pytest.mark.parametrize(
    ("inputs", "count"),
    [("hello world", 1), (["hello", "world", "hello"], 3), ([[1, 2, 3], [4, 5]], 2), ([101, 102, 103], 1)],
)
def test_embeddings_shapes(inputs: Any, count: int) -> None:
    result = embed({"model": "text-embedding-3-small", "input": inputs})
    assert result["object"] == "list"
    assert result["model"] == "text-embedding-3-small"
    assert [d["index"] for d in result["data"]] == list(range(count))
    for item in result["data"]:
        assert item["object"] == "embedding"
        assert len(item["embedding"]) == DEFAULT_DIMENSIONS == 8
        assert abs(norm(item["embedding"]) - 1.0) < 1e-6
    assert result["usage"]["prompt_tokens"] == result["usage"]["total_tokens"] > 0


def test_embeddings_are_deterministic_per_input() -> None:
    batch = embed({"model": "sandbox/embed", "input": ["alpha", "beta", "alpha"]})["data"]
    alone = embed({"model": "sandbox/embed", "input": "alpha"})["data"][0]["embedding"]
    assert batch[0]["embedding"] == batch[2]["embedding"] == alone
    assert batch[0]["embedding"] != batch[1]["embedding"]


def test_embeddings_similar_texts_are_closer() -> None:
    data = embed(
        {"model": "sandbox/embed", "dimensions": 64, "input": [
            "the cat sat on the mat", "the cat sat on a mat", "quarterly revenue forecast spreadsheet"]}
    )["data"]  # fmt: skip
    a, b, c = (d["embedding"] for d in data)
    assert cosine(a, b) > cosine(a, c) + 0.3


def test_embeddings_dimensions_and_token_usage() -> None:
    result = embed({"model": "sandbox/embed", "input": [[5, 6, 7, 8]], "dimensions": 5})
    vector = result["data"][0]["embedding"]
    assert len(vector) == 5 and abs(norm(vector) - 1.0) < 1e-6
    assert result["usage"]["prompt_tokens"] == 4


def test_embeddings_base64_is_little_endian_float32_of_the_float_vector() -> None:
    body = {"model": "sandbox/embed", "input": ["pack me", "and me"], "dimensions": 12}
    floats = embed(body)["data"]
    encoded = embed({**body, "encoding_format": "base64"})["data"]
    for f, e in zip(floats, encoded, strict=True):
        raw = base64.b64decode(e["embedding"])
        assert len(raw) == 4 * 12
        assert list(struct.unpack("<12f", raw)) == f["embedding"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "sandbox/embed"}, "input"),
        ({"model": "sandbox/embed", "input": ""}, "input"),
        ({"model": "sandbox/embed", "input": []}, "input"),
        ({"model": "sandbox/embed", "input": ["ok", ""]}, "input"),
        ({"model": "sandbox/embed", "input": [[1, -2]]}, "input"),
        ({"model": "sandbox/embed", "input": "x", "dimensions": 0}, "dimensions"),
        ({"model": "sandbox/embed", "input": "x", "encoding_format": "hex"}, "encoding_format"),
        ({"input": "x"}, "model"),
    ],
)
def test_invalid_embedding_requests_are_400(body: dict[str, Any], param: str) -> None:
    with pytest.raises(SandboxError) as err:
        simulate_embeddings(body)
    assert (err.value.status, err.value.param) == (400, param)


def test_embeddings_error_marker() -> None:
    with pytest.raises(SandboxError) as err:
        simulate_embeddings({"model": "sandbox/embed", "input": ["fine", "boom [[sandbox:error=429]]"]})
    assert (err.value.status, err.value.code) == (429, "rate_limit_exceeded")


# ---------------------------------------------------------------------------------------------
# end to end through the official SDK over an in-process transport (no network)


def _sandbox_transport() -> httpx.MockTransport:
    """A minimal HTTP front for the simulator, so the real ``openai`` client parses its output."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        try:
            if request.url.path.endswith("/embeddings"):
                return httpx.Response(200, json=simulate_embeddings(body))
            if body.get("stream"):
                chunks = simulate_chat_stream(body, response_id="chatcmpl-e2e", created=1)
                sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
                return httpx.Response(200, content=sse.encode(), headers={"content-type": "text/event-stream"})
            return httpx.Response(200, json=simulate_chat(body, response_id="chatcmpl-e2e", created=1))
        except SandboxError as exc:
            return httpx.Response(exc.status, json=exc.to_dict())

    return httpx.MockTransport(handler)


@pytest.fixture
def client() -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        api_key="gw_test_example",
        base_url="http://sandbox.invalid/v1",
        max_retries=0,
        http_client=httpx.Client(transport=_sandbox_transport()),
    ) as sdk:
        yield sdk


def test_sdk_round_trip_chat_stream_and_embeddings(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="openai/gpt-4o", messages=[{"role": "user", "content": "Hello sandbox"}]
    )
    assert completion.model == "openai/gpt-4o" and "Hello sandbox" in (completion.choices[0].message.content or "")
    streamed = client.chat.completions.create(
        model="openai/gpt-4o",
        messages=[{"role": "user", "content": "Hello sandbox"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(streamed)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == completion.choices[0].message.content
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == completion.usage.total_tokens
    vectors = client.embeddings.create(model="sandbox/embed", input=["a", "b"])
    assert len(vectors.data) == 2 and len(vectors.data[0].embedding) == 8


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_sdk_maps_simulated_errors(client: openai.OpenAI, status: int, exc: type[openai.APIStatusError]) -> None:
    with pytest.raises(exc) as err:
        client.chat.completions.create(
            model="sandbox/chat", messages=[{"role": "user", "content": f"[[sandbox:error={status}]]"}]
        )
    assert err.value.status_code == status
    assert isinstance(err.value.body, dict) and err.value.body["type"]


# ---------------------------------------------------------------------------------------------
# tokenizer properties


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(max_size=200))
def test_tokenize_round_trips_any_text(text: str) -> None:
    tokens = tokenize(text)
    assert "".join(tokens) == text
    assert all(tokens)
