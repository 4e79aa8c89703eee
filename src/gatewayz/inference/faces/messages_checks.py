"""Field checks for Messages request bodies, worded like Anthropic's own 400s.

Anthropic names the field by its dotted path and says what was expected, pydantic style:
"messages.1.content.0.source: Field required", "max_tokens: Input should be a valid integer".
The error helpers return the `InvalidRequest` for the caller to raise; `param` carries the same
path and `code` the OpenAI-style code the gateway's error body uses everywhere.
"""

from __future__ import annotations

from typing import Any

from gatewayz.errors import InvalidRequest

JSON = dict[str, Any]


def fail(param: str, problem: str, code: str = "invalid_value") -> InvalidRequest:
    return InvalidRequest(f"{param}: {problem}", param=param, code=code)


def field_missing(param: str) -> InvalidRequest:
    return fail(param, "Field required", "missing_required_parameter")


def wrong_type(param: str, expected: str) -> InvalidRequest:
    """`expected` as Anthropic words it: "a valid integer", "a non-empty string"."""
    return fail(param, f"Input should be {expected}", "invalid_type")


def bad_field(param: str, value: Any, expected: str) -> InvalidRequest:
    """A required field that is absent (None) or not `expected`."""
    return field_missing(param) if value is None else wrong_type(param, expected)


def require_str(block: JSON, name: str, path: str) -> str:
    value = block.get(name)
    if not isinstance(value, str):
        raise bad_field(f"{path}.{name}", value, "a valid string")
    return value


def is_int(value: Any) -> bool:
    """A JSON integer: `bool` is an `int` in Python but not on the wire."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
