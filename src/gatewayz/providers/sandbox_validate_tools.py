"""Sandbox validation of ``tools``, ``tool_choice`` and ``response_format``, the shapes OpenAI documents.

Split from ``sandbox_validate`` because these nested objects carry most of the rules; the messages and
scalar parameters stay there.
"""

from __future__ import annotations

import re
from typing import Any

from gatewayz.providers.sandbox_checks import (
    bad_value,
    check_length,
    content_words,
    fail,
    kind_of,
    missing,
    wrong_type,
)

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_TOOLS = 128
_TOOL_TYPES = ("function", "custom")
_CHOICE_MODES = ("none", "auto", "required")
_CHOICE_TYPES = ("function", "custom", "allowed_tools")
_FORMAT_TYPES = ("text", "json_object", "json_schema")


def _check_name(value: Any, param: str) -> str:
    """Function and schema names: 1-64 characters of a-z, A-Z, 0-9, underscore or dash."""
    if value is None:
        raise missing(param)
    if not isinstance(value, str):
        raise wrong_type(param, "a string", value)
    if not _NAME.match(value):
        raise fail(
            f"Invalid '{param}': string does not match pattern. Expected a string that matches the pattern "
            f"'^[a-zA-Z0-9_-]+$' with at most 64 characters, got {value!r}.",
            param,
            "invalid_value",
        )
    return value


def _check_object(parent: dict[str, Any], key: str, param: str) -> dict[str, Any]:
    """A required nested object."""
    value = parent.get(key)
    if value is None:
        raise missing(param)
    if not isinstance(value, dict):
        raise wrong_type(param, "an object", value)
    return value


def check_tools(body: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Validate ``tools``; return the names of the function tools and of the custom tools, in order."""
    tools = body.get("tools")
    if tools is None:
        return [], []
    if not isinstance(tools, list):
        raise wrong_type("tools", "an array", tools)
    check_length("tools", tools, 1, _MAX_TOOLS)
    functions: list[str] = []
    customs: list[str] = []
    for i, tool in enumerate(tools):
        param = f"tools[{i}]"
        kind = kind_of(tool, param, _TOOL_TYPES)
        if kind == "custom":
            custom = _check_object(tool, "custom", f"{param}.custom")
            customs.append(_check_name(custom.get("name"), f"{param}.custom.name"))
            continue
        function = _check_object(tool, "function", f"{param}.function")
        functions.append(_check_name(function.get("name"), f"{param}.function.name"))
        if function.get("description") is not None and not isinstance(function["description"], str):
            raise wrong_type(f"{param}.function.description", "a string", function["description"])
        if function.get("parameters") is not None and not isinstance(function["parameters"], dict):
            raise wrong_type(f"{param}.function.parameters", "an object", function["parameters"])
        if function.get("strict") is not None and not isinstance(function["strict"], bool):
            raise wrong_type(f"{param}.function.strict", "a boolean", function["strict"])
    return functions, customs


def _named(choice: dict[str, Any], kind: str, names: list[str]) -> None:
    """``{"type": "function", "function": {"name": ...}}``: the name must be one of the tools."""
    target = _check_object(choice, kind, f"tool_choice.{kind}")
    name = target.get("name")
    if name is None:
        raise missing(f"tool_choice.{kind}.name")
    if not isinstance(name, str):
        raise wrong_type(f"tool_choice.{kind}.name", "a string", name)
    if name not in names:
        raise fail(f"Invalid 'tool_choice': {kind} {name!r} is not among the tools.", "tool_choice")


def _allowed_tools(choice: dict[str, Any], functions: list[str], customs: list[str]) -> None:
    """``{"type": "allowed_tools", "allowed_tools": {"mode": ..., "tools": [...]}}`` over declared tools."""
    allowed = _check_object(choice, "allowed_tools", "tool_choice.allowed_tools")
    mode = allowed.get("mode")
    if mode is None:
        raise missing("tool_choice.allowed_tools.mode")
    if mode not in ("auto", "required"):
        raise bad_value("tool_choice.allowed_tools.mode", mode, ("auto", "required"))
    listed = allowed.get("tools")
    if listed is None:
        raise missing("tool_choice.allowed_tools.tools")
    if not isinstance(listed, list):
        raise wrong_type("tool_choice.allowed_tools.tools", "an array", listed)
    for i, entry in enumerate(listed):
        param = f"tool_choice.allowed_tools.tools[{i}]"
        kind = entry.get("type") if isinstance(entry, dict) else None
        if kind not in _TOOL_TYPES:
            raise bad_value(f"{param}.type", kind, _TOOL_TYPES)
        target = entry.get(kind) if isinstance(entry.get(kind), dict) else entry
        name = target.get("name")
        if name not in (functions if kind == "function" else customs):
            raise fail(f"Invalid '{param}': {kind} {name!r} is not among the tools.", param)


def check_tool_choice(body: dict[str, Any], functions: list[str], customs: list[str]) -> None:
    """``tool_choice`` and ``parallel_tool_calls`` need tools, and named tools must exist."""
    if body.get("parallel_tool_calls") is not None and body.get("tools") is None:
        raise fail(
            "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are "
            "specified.",
            "parallel_tool_calls",
        )
    choice = body.get("tool_choice")
    if choice is None:
        return
    if body.get("tools") is None:
        raise fail(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", "tool_choice"
        )
    if isinstance(choice, str):
        if choice not in _CHOICE_MODES:
            raise bad_value("tool_choice", choice, _CHOICE_MODES)
        if choice == "required" and not functions:
            raise fail("'tool_choice' is 'required' but no function tools were given.", "tool_choice")
        return
    if not isinstance(choice, dict):
        raise wrong_type("tool_choice", "one of a string or object", choice)
    kind = kind_of(choice, "tool_choice", _CHOICE_TYPES)
    if kind == "allowed_tools":
        _allowed_tools(choice, functions, customs)
    else:
        _named(choice, kind, functions if kind == "function" else customs)


def check_response_format(body: dict[str, Any]) -> None:
    """``response_format``: text, json_object (the prompt must mention JSON) or json_schema."""
    fmt = body.get("response_format")
    if fmt is None:
        return
    kind = kind_of(fmt, "response_format", _FORMAT_TYPES)
    if kind == "json_schema":
        spec = _check_object(fmt, "json_schema", "response_format.json_schema")
        _check_name(spec.get("name"), "response_format.json_schema.name")
        if spec.get("schema") is not None and not isinstance(spec["schema"], dict):
            raise wrong_type("response_format.json_schema.schema", "an object", spec["schema"])
        if spec.get("strict") is not None and not isinstance(spec["strict"], bool):
            raise wrong_type("response_format.json_schema.strict", "a boolean", spec["strict"])
    if kind == "json_object" and "json" not in content_words(body["messages"]):
        raise fail(
            "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
            "messages",
        )
