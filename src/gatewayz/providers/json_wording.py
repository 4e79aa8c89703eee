"""OpenAI's names for JSON value types, as its 400s word them ("but got an integer instead"):
shared by the sandbox's checks and the Responses face's, which must read like OpenAI's own."""

from __future__ import annotations

from typing import Any


def json_type_name(value: Any, *, decimal: str = "a number") -> str:
    """A JSON value's type with its article ("an integer", "an array"). A non-integer number is
    `decimal`: Chat Completions says "a decimal", Responses "a number"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return decimal
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else "an unsupported value"
