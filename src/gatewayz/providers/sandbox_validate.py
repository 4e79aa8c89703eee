"""Request validation for the sandbox, rejecting input the way OpenAI would (400 + ``param``).

The sandbox is where developers first wire up their client, so it should fail loudly on malformed
requests instead of cheerfully answering them and letting the bug surface against a paid provider.
"""

from __future__ import annotations

import re
from typing import Any

from gatewayz.providers.sandbox_common import content_text, invalid

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_N = 128
_MAX_EMBED_INPUTS = 2048
MAX_DIMENSIONS = 4096


def _is_int(value: Any) -> bool:
    """JSON integers only; ``bool`` is an ``int`` subclass in Python but not on the wire."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(body: dict[str, Any], key: str, low: int, high: int | None = None) -> None:
    """Reject a present, non-null field that is not an integer in [low, high]."""
    value = body.get(key)
    if value is None:
        return
    if not _is_int(value) or value < low or (high is not None and value > high):
        upper = f" and at most {high}" if high is not None else ""
        raise invalid(f"'{key}' must be an integer of at least {low}{upper}, got {value!r}.", key)


def _check_content(content: Any, param: str, *, required: bool) -> None:
    """Message content is a string or a non-empty list of typed parts (text parts need text)."""
    if content is None:
        if required:
            raise invalid(f"Missing required parameter: '{param}'.", param)
        return
    if isinstance(content, str):
        return
    if not isinstance(content, list) or not content:
        raise invalid(f"Invalid '{param}': expected a string or a non-empty array of content parts.", param)
    for j, part in enumerate(content):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise invalid(f"Invalid '{param}[{j}]': each content part needs a 'type'.", f"{param}[{j}].type")
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            raise invalid(f"Missing required parameter: '{param}[{j}].text'.", f"{param}[{j}].text")


def _check_message(message: Any, i: int) -> None:
    """Validate one chat message according to its role's requirements."""
    param = f"messages[{i}]"
    if not isinstance(message, dict):
        raise invalid(f"Invalid '{param}': expected an object.", param)
    role = message.get("role")
    if role is None:
        raise invalid(f"Missing required parameter: '{param}.role'.", f"{param}.role")
    if role not in _ROLES:
        raise invalid(f"Invalid value: {role!r}. Supported values are: {', '.join(sorted(_ROLES))}.", f"{param}.role")
    content = message.get("content")
    if role == "assistant":
        has_calls = bool(message.get("tool_calls")) or bool(message.get("function_call"))
        _check_content(content, f"{param}.content", required=not has_calls)
        return
    _check_content(content, f"{param}.content", required=True)
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        raise invalid(f"Missing required parameter: '{param}.tool_call_id'.", f"{param}.tool_call_id")
    if role == "function" and not isinstance(message.get("name"), str):
        raise invalid(f"Missing required parameter: '{param}.name'.", f"{param}.name")


def _check_tools(body: dict[str, Any]) -> list[str]:
    """Validate ``tools`` and return the names of the function tools, in order."""
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise invalid("Invalid 'tools': expected an array.", "tools")
    names: list[str] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise invalid(f"Missing required parameter: 'tools[{i}].type'.", f"tools[{i}].type")
        if tool["type"] != "function":
            continue
        function = tool.get("function")
        if not isinstance(function, dict):
            raise invalid(f"Missing required parameter: 'tools[{i}].function'.", f"tools[{i}].function")
        name = function.get("name")
        if not isinstance(name, str) or not _FUNCTION_NAME.match(name):
            raise invalid(
                f"Invalid 'tools[{i}].function.name': expected 1-64 characters of a-z, A-Z, 0-9, _ or -.",
                f"tools[{i}].function.name",
            )
        if function.get("parameters") is not None and not isinstance(function["parameters"], dict):
            raise invalid(
                f"Invalid 'tools[{i}].function.parameters': expected a JSON Schema object.",
                f"tools[{i}].function.parameters",
            )
        names.append(name)
    return names


def _check_tool_choice(body: dict[str, Any], names: list[str]) -> None:
    """``tool_choice`` needs tools, and a named function must be one of them."""
    choice = body.get("tool_choice")
    if choice is None:
        return
    if body.get("tools") is None:
        raise invalid("Invalid value for 'tool_choice': only allowed when 'tools' are specified.", "tool_choice")
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise invalid(f"Invalid value for 'tool_choice': {choice!r}.", "tool_choice")
        if choice == "required" and not names:
            raise invalid("'tool_choice' is 'required' but no function tools were given.", "tool_choice")
        return
    function = choice.get("function") if isinstance(choice, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str):
        raise invalid("Invalid 'tool_choice': expected a string or {'type': 'function', ...}.", "tool_choice")
    if name not in names:
        raise invalid(f"Invalid 'tool_choice': function {name!r} is not among the tools.", "tool_choice")


def _check_response_format(body: dict[str, Any]) -> None:
    """Validate ``response_format``; json_object mode needs the word JSON in the prompt, as upstream."""
    fmt = body.get("response_format")
    if fmt is None:
        return
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
        raise invalid("Invalid 'response_format.type': expected text, json_object or json_schema.", "response_format")
    if fmt["type"] == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise invalid("Missing required parameter: 'response_format.json_schema.name'.", "response_format")
        if spec.get("schema") is not None and not isinstance(spec["schema"], dict):
            raise invalid("Invalid 'response_format.json_schema.schema': expected an object.", "response_format")
    if fmt["type"] == "json_object":
        texts = " ".join(content_text(m.get("content")) for m in body["messages"])
        if "json" not in texts.lower():
            raise invalid(
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                "messages",
            )


def validate_chat(body: Any) -> None:
    """Raise ``SandboxError(400, ...)`` for a chat request OpenAI would reject."""
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.", None)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("You must provide a model parameter.", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("'messages' must be a non-empty array.", "messages")
    for i, message in enumerate(messages):
        _check_message(message, i)
    _check_int(body, "n", 1, _MAX_N)
    _check_int(body, "max_tokens", 1)
    _check_int(body, "max_completion_tokens", 1)
    _check_int(body, "top_logprobs", 0, 20)
    if body.get("seed") is not None and not _is_int(body["seed"]):
        raise invalid("'seed' must be an integer.", "seed")
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str):
        if not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) and s for s in stop):
            raise invalid("'stop' must be a string or an array of at most 4 non-empty strings.", "stop")
    for flag in ("logprobs", "parallel_tool_calls", "stream"):
        if body.get(flag) is not None and not isinstance(body[flag], bool):
            raise invalid(f"'{flag}' must be a boolean.", flag)
    if body.get("top_logprobs") is not None and body.get("logprobs") is not True:
        raise invalid("'top_logprobs' requires 'logprobs' to be true.", "top_logprobs")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise invalid("'stream_options' must be an object.", "stream_options")
    names = _check_tools(body)
    _check_tool_choice(body, names)
    _check_response_format(body)


def validate_embeddings(body: Any) -> list[str | list[int]]:
    """Validate an embeddings request and return its inputs as a list (strings or token arrays)."""
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.", None)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("You must provide a model parameter.", "model")
    _check_int(body, "dimensions", 1, MAX_DIMENSIONS)
    if body.get("encoding_format") not in (None, "float", "base64"):
        raise invalid("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
    raw = body.get("input")
    inputs: list[Any]
    if isinstance(raw, str):
        inputs = [raw]
    elif isinstance(raw, list) and raw and all(_is_int(t) for t in raw):
        inputs = [raw]
    elif isinstance(raw, list) and raw:
        inputs = raw
    else:
        raise invalid("'input' must be a non-empty string or array.", "input")
    if len(inputs) > _MAX_EMBED_INPUTS:
        raise invalid(f"'input' may contain at most {_MAX_EMBED_INPUTS} items.", "input")
    for i, item in enumerate(inputs):
        ok_text = isinstance(item, str) and item != ""
        ok_tokens = isinstance(item, list) and bool(item) and all(_is_int(t) and t >= 0 for t in item)
        if not (ok_text or ok_tokens):
            raise invalid(
                f"Invalid 'input[{i}]': expected a non-empty string or a non-empty array of token ids.",
                "input",
            )
    return inputs
