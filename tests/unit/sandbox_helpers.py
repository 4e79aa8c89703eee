"""Shared helpers for the sandbox simulator tests: SDK-validated runners, a tiny JSON Schema checker and
sample tool definitions.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from gatewayz.providers.sandbox import simulate_chat, simulate_chat_stream


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
