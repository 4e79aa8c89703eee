"""Shared by the Responses face's unit tests: a body using every item and part type, the SDK's item
type adapter, and hypothesis strategies for hostile JSON."""

from __future__ import annotations

from typing import Any

import pydantic
from hypothesis import strategies as st
from openai.types.responses import ResponseItem

from gatewayz.inference.faces.base import FaceContext

PNG_URL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF_DATA = "data:application/pdf;base64,JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather at a place",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": True,
}
ITEMS = pydantic.TypeAdapter(list[ResponseItem])


def rich_body() -> dict[str, Any]:
    """A Responses request using every item and part type the face translates."""
    return {
        "model": "gpt-4.1",
        "instructions": "You are terse.",
        "input": [
            {"role": "developer", "content": "Answer in French."},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "Look at these."},
                {"type": "input_image", "image_url": "https://example.com/cat.jpg", "detail": "low"},
                {"type": "input_image", "image_url": PNG_URL, "detail": "original"},
                {"type": "input_image", "image_url": PNG_URL},
                {"type": "input_file", "file_data": PDF_DATA, "filename": "report.pdf"},
            ]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "weather"}]},
            {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [
                {"type": "output_text", "text": "Checking.", "annotations": []},
            ]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
             "arguments": '{"city":"Paris"}'},
            {"type": "function_call", "call_id": "call_2", "name": "get_weather", "arguments": '{"city":"Rome"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
            {"type": "function_call_output", "call_id": "call_2",
             "output": [{"type": "input_text", "text": "station "}, {"type": "input_text", "text": "offline"}]},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "I cannot say."}]},
            {"role": "user", "content": "And tomorrow?"},
        ],
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "parallel_tool_calls": False,
        "text": {"format": {"type": "json_schema", "name": "forecast", "schema": {"type": "object"}, "strict": True,
                            "description": "A forecast"}, "verbosity": "low"},
        "max_output_tokens": 500,
        "temperature": 0.3,
        "top_p": 0.9,
        "reasoning": {"effort": "low", "summary": "auto"},
        "user": "u-1",
        "safety_identifier": "s-1",
        "prompt_cache_key": "k-1",
        "service_tier": "flex",
        "metadata": {"team": "a"},
        "store": True,
        "truncation": "auto",
        "include": ["reasoning.encrypted_content"],
    }  # fmt: skip




JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position in a JSON value (to plant junk at)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def context(request: dict[str, Any], **extra: Any) -> FaceContext:
    return FaceContext("resp_" + "0" * 48, request.get("model", "m"), 1_750_000_000, request, dict(extra))


def completion(content: Any, *, finish: str = "stop", usage: Any = None, **message: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None, **message},
                     "finish_reason": finish, "logprobs": None}],
        "usage": usage or {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }  # fmt: skip
