"""Field checks for Responses request bodies, worded like OpenAI's own 400s (message, `param`, `code`).

Clients written against OpenAI branch on `code` and show `message`, so a refusal here reads the
way OpenAI's would: "Invalid type for 'input[2].content': expected a string or an array of
content parts, but got an integer instead." (`invalid_type`). `param` is the dotted path OpenAI
uses (`input[2].content[0].text`).

The `*_error` style helpers (`invalid_type`, `invalid_value`, `missing`) return the error for the
caller to raise; the others return the checked value. On the accepted path no `param` string is
built: the checks run once per item and content part of every request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.providers.json_wording import json_type_name

JSON = dict[str, Any]


def invalid_type(param: str, expected: str, value: Any) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid type for '{param}': expected {expected}, but got {json_type_name(value)} instead.",
        param=param,
        code="invalid_type",
    )


def invalid_value(param: str, value: Any, supported: tuple[str, ...]) -> InvalidRequest:
    listed = ", ".join(f"'{option}'" for option in supported)
    shown = value[:100] if isinstance(value, str) else json_type_name(value)
    return InvalidRequest(
        f"Invalid value: '{shown}'. Supported values are: {listed}.", param=param, code="invalid_value"
    )


def invalid_choice(param: str, value: Any, supported: tuple[str, ...]) -> InvalidRequest:
    """A field that takes one of `supported` strings: `invalid_value` for another string,
    `invalid_type` for anything that is not a string."""
    if isinstance(value, str):
        return invalid_value(param, value, supported)
    return invalid_type(param, "a string", value)


def objects(values: list[Any], param: str) -> Iterator[tuple[JSON, str]]:
    """Each element of an array that holds objects, with its param (`input[2].content[0]`)."""
    for position, value in enumerate(values):
        where = f"{param}[{position}]"
        if not isinstance(value, dict):
            raise invalid_type(where, "an object", value)
        yield value, where


def missing(param: str) -> InvalidRequest:
    return InvalidRequest(f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def string(obj: JSON, name: str, parent: str, *, non_empty: bool = False) -> str:
    """The required string field `name` of `obj` (at `parent`); empty refused when `non_empty`."""
    value = obj.get(name)
    if isinstance(value, str) and (value or not non_empty):
        return value
    param = f"{parent}.{name}"
    if value is None:
        raise missing(param)
    if not isinstance(value, str):
        raise invalid_type(param, "a string", value)
    raise InvalidRequest(
        f"Invalid '{param}': empty string. Expected a string with minimum length 1.",
        param=param,
        code="empty_string",
    )


def string_or_none(obj: JSON, name: str, parent: str | None = None) -> str | None:
    value = obj.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid_type(f"{parent}.{name}" if parent else name, "a string", value)
    return value


def bool_or_none(obj: JSON, name: str, parent: str | None = None) -> bool | None:
    value = obj.get(name)
    if value is not None and not isinstance(value, bool):
        raise invalid_type(f"{parent}.{name}" if parent else name, "a boolean", value)
    return value


def int_in_range(obj: JSON, name: str, low: int, high: int) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_type(name, "an integer", value)
    if value < low:
        raise InvalidRequest(
            f"Invalid '{name}': integer below minimum value. Expected a value >= {low}, but got {value} instead.",
            param=name,
            code="integer_below_min_value",
        )
    if value > high:
        raise InvalidRequest(
            f"Invalid '{name}': integer above maximum value. Expected a value <= {high}, but got {value} instead.",
            param=name,
            code="integer_above_max_value",
        )
    return value


def number_in_range(obj: JSON, name: str, low: float, high: float) -> float | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise invalid_type(name, "a number", value)
    if not low <= value <= high:
        side = "below minimum" if value < low else "above maximum"
        bound = f">= {low}" if value < low else f"<= {high}"
        raise InvalidRequest(
            f"Invalid '{name}': decimal {side} value. Expected a value {bound}, but got {value} instead.",
            param=name,
            code="decimal_below_min_value" if value < low else "decimal_above_max_value",
        )
    return value
