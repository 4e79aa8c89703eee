"""Shared constants and request builders for the OpenAI ⇄ Gemini generateContent translation tests."""

from __future__ import annotations

from typing import Any

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
