"""POST /v1/responses bodies -> Chat Completions bodies (the pipeline's one internal request shape).

The Responses API names things differently (`input` items instead of `messages`, flat function
tools, `text.format` instead of `response_format`, `max_output_tokens`), but everything it can
express for a plain model call has a Chat Completions twin. What has none (hosted tools, stored
prompts, conversations, background runs, uploaded-file ids, several outputs via `n`) is refused
here with a 400 naming the Responses parameter, in OpenAI's wording, instead of being dropped
silently.

This module handles the top-level parameters, tools and `text`; `responses_items` turns the
instructions and input items into chat messages (its docstring lists the translation choices),
and `responses_checks` holds the OpenAI-worded field checks both use. Fields this module does not
know pass through to the chat body unchanged, so provider-specific parameters (and the gateway's
own `provider`/`models` routing fields) keep working.
"""

from __future__ import annotations

import re
from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.inference.faces.responses_checks import (
    bool_or_none,
    int_in_range,
    invalid_choice,
    invalid_type,
    invalid_value,
    missing,
    number_in_range,
    objects,
    string,
    string_or_none,
)
from gatewayz.inference.faces.responses_items import chat_messages
from gatewayz.inference.faces.responses_listing import input_items
from gatewayz.inference.request import MAX_TOKENS, require_model

__all__ = ["input_items", "to_chat"]  # input_items lives with the other Responses item shapes

JSON = dict[str, Any]

# Responses fields consumed here; every other top-level field passes through to the chat body.
_HANDLED = frozenset(
    {
        "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "text",
        "max_output_tokens", "temperature", "top_p", "reasoning", "user", "safety_identifier",
        "prompt_cache_key", "service_tier", "top_logprobs", "metadata", "store", "stream",
        "stream_options", "previous_response_id", "conversation", "background", "prompt", "include",
        "truncation", "max_tool_calls", "n",
    }
)  # fmt: skip
_UNSUPPORTED = {
    "conversation": "Conversations are not supported by this gateway; chain turns with 'previous_response_id'.",
    "prompt": "Stored prompt templates ('prompt') are not supported by this gateway; send 'instructions' and 'input'.",
}
_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
_SUMMARIES = ("auto", "concise", "detailed")
_SERVICE_TIERS = ("auto", "default", "flex", "scale", "priority", "fast", "ultrafast")
_VERBOSITY = ("low", "medium", "high")
_SCHEMA_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LOGPROBS_INCLUDE = "message.output_text.logprobs"


def to_chat(body: JSON, earlier: list[JSON] | None = None) -> JSON:
    """Validate a Responses request and return the equivalent Chat Completions body.

    `earlier` holds the stored items of the turns `previous_response_id` continues (oldest
    first); they follow the instructions and precede this request's input. Instructions of
    earlier turns are deliberately not carried over, as OpenAI documents.
    """
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    model = require_model(body)
    _refuse_unsupported(body)
    chat: JSON = {"model": model}
    for key, value in body.items():
        if key not in _HANDLED:
            chat[key] = value
    chat["messages"] = chat_messages(body, earlier)
    _options(body, chat)
    tools = _tools(body.get("tools"))
    names = {tool["function"]["name"] for tool in tools}
    if tools:
        chat["tools"] = tools
        parallel = bool_or_none(body, "parallel_tool_calls")
        if parallel is not None:
            chat["parallel_tool_calls"] = parallel
    else:
        bool_or_none(body, "parallel_tool_calls")
    choice = _tool_choice(body.get("tool_choice"), names)
    if choice is not None:
        chat["tool_choice"] = choice
    _text(body.get("text"), chat)
    if bool_or_none(body, "stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def _refuse_unsupported(body: JSON) -> None:
    for name, message in _UNSUPPORTED.items():
        if body.get(name) is not None:
            raise InvalidRequest(message, param=name, code="unsupported_parameter")
    if bool_or_none(body, "background"):
        raise InvalidRequest(
            "Background responses ('background': true) are not supported by this gateway.",
            param="background",
            code="unsupported_parameter",
        )
    n = body.get("n")  # a chat parameter, not a Responses one: several choices have nowhere to go
    if n is not None and (type(n) is not int or n != 1):
        raise InvalidRequest(
            "'n' is not supported by the Responses API, whose response carries one answer: leave it out "
            "(or set it to 1) and make one request per answer.",
            param="n",
            code="unsupported_parameter",
        )


def _options(body: JSON, chat: JSON) -> None:
    """Scalar parameters: checked so the echo in the Response object stays well-typed."""
    limit = int_in_range(body, "max_output_tokens", 1, MAX_TOKENS)
    if limit is not None:
        chat["max_tokens"] = limit
    for name, high in (("temperature", 2), ("top_p", 1)):
        value = number_in_range(body, name, 0, high)
        if value is not None:
            chat[name] = value
    for name in ("user", "safety_identifier", "prompt_cache_key"):
        value = string_or_none(body, name)
        if value is not None:
            chat[name] = value
    tier = body.get("service_tier")
    if tier is not None:
        if tier not in _SERVICE_TIERS:
            raise invalid_value("service_tier", tier, _SERVICE_TIERS)
        chat["service_tier"] = tier
    reasoning = body.get("reasoning")
    if reasoning is not None:
        if not isinstance(reasoning, dict):
            raise invalid_type("reasoning", "an object", reasoning)
        effort = reasoning.get("effort")
        if effort is not None:
            if effort not in _EFFORTS:
                raise invalid_value("reasoning.effort", effort, _EFFORTS)
            chat["reasoning_effort"] = effort
        for name in ("summary", "generate_summary"):
            value = reasoning.get(name)
            if value is not None and value not in _SUMMARIES:
                raise invalid_value(f"reasoning.{name}", value, _SUMMARIES)
    include = body.get("include")
    if include is not None and (not isinstance(include, list) or not all(isinstance(i, str) for i in include)):
        raise invalid_type("include", "an array of strings", include)
    top = int_in_range(body, "top_logprobs", 0, 20)
    if (include and _LOGPROBS_INCLUDE in include) or top:
        chat["logprobs"] = True
        if top is not None:
            chat["top_logprobs"] = top
    _metadata(body.get("metadata"))
    for name in ("store",):
        bool_or_none(body, name)
    string_or_none(body, "previous_response_id")
    truncation = body.get("truncation")
    if truncation is not None and truncation not in ("auto", "disabled"):
        raise invalid_value("truncation", truncation, ("auto", "disabled"))
    if body.get("stream_options") is not None and not isinstance(body["stream_options"], dict):
        raise invalid_type("stream_options", "an object", body["stream_options"])
    int_in_range(body, "max_tool_calls", 1, MAX_TOKENS)


def _metadata(value: Any) -> None:
    """OpenAI's limits: at most 16 pairs, keys up to 64 characters, string values up to 512."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise invalid_type("metadata", "an object", value)
    if len(value) > 16:
        raise InvalidRequest(
            f"Invalid 'metadata': too many properties. Expected an object with at most 16 properties, "
            f"but got {len(value)} instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for key, item in value.items():
        if not isinstance(key, str) or len(key) > 64:
            raise InvalidRequest(
                f"Invalid 'metadata': key too long. Expected a key with maximum length 64, "
                f"but got a key with length {len(str(key))} instead.",
                param="metadata",
                code="invalid_value",
            )
        if not isinstance(item, str):
            raise invalid_type(f"metadata.{key}", "a string", item)
        if len(item) > 512:
            raise InvalidRequest(
                f"Invalid 'metadata.{key}': string too long. Expected a string with maximum length 512, "
                f"but got a string with length {len(item)} instead.",
                param=f"metadata.{key}",
                code="string_above_max_length",
            )


def _tools(value: Any) -> list[JSON]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_type("tools", "an array", value)
    tools = []
    for tool, param in objects(value, "tools"):
        kind = tool.get("type")
        if kind != "function":
            if kind is None:
                raise missing(f"{param}.type")
            if not isinstance(kind, str):
                raise invalid_type(f"{param}.type", "a string", kind)
            raise InvalidRequest(
                f"Tools of type '{kind}' are not supported by this gateway; only 'function' tools are.",
                param=f"{param}.type",
                code="unsupported_tool",
            )
        if "name" not in tool and isinstance(tool.get("function"), dict):
            raise InvalidRequest(
                f"Missing required parameter: '{param}.name'. Responses function tools are flat "
                '({"type": "function", "name", "parameters"}), not nested under \'function\'.',
                param=f"{param}.name",
                code="missing_required_parameter",
            )
        function: JSON = {"name": string(tool, "name", param, non_empty=True)}
        description = string_or_none(tool, "description", param)
        if description is not None:
            function["description"] = description
        parameters = tool.get("parameters")
        if parameters is not None:
            if not isinstance(parameters, dict):
                raise invalid_type(f"{param}.parameters", "an object", parameters)
            function["parameters"] = parameters
        strict = bool_or_none(tool, "strict", param)
        if strict is not None:
            function["strict"] = strict
        tools.append({"type": "function", "function": function})
    return tools


def _tool_choice(value: Any, names: set[str]) -> Any:
    """Chat forms of `tool_choice`; without tools only 'auto'/'none' make sense and are dropped."""
    if value is None:
        return None
    if isinstance(value, str):
        if value not in ("auto", "none", "required"):
            raise invalid_value("tool_choice", value, ("auto", "none", "required"))
        if value == "required" and not names:
            raise InvalidRequest(
                "Tool choice 'required' must be specified with 'tools' parameter.",
                param="tool_choice",
                code="invalid_value",
            )
        return value if names else None
    if not isinstance(value, dict):
        raise invalid_type("tool_choice", "a string or an object", value)
    kind = value.get("type")
    if kind == "function":
        name = string(value, "name", "tool_choice", non_empty=True)
        if name not in names:
            raise InvalidRequest(
                f"Tool choice 'function' names '{name}', which is not among the function tools in 'tools'.",
                param="tool_choice.name",
                code="invalid_value",
            )
        return {"type": "function", "function": {"name": name}}
    if kind is None:
        raise missing("tool_choice.type")
    raise InvalidRequest(
        f"tool_choice of type {kind!r} is not supported by this gateway; use 'auto', 'none', 'required' "
        'or {"type": "function", "name": ...}.',
        param="tool_choice.type",
        code="unsupported_value",
    )


def _text(value: Any, chat: JSON) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise invalid_type("text", "an object", value)
    fmt = value.get("format")
    if fmt is not None:
        if not isinstance(fmt, dict):
            raise invalid_type("text.format", "an object", fmt)
        kind = fmt.get("type")
        if kind == "json_object":
            chat["response_format"] = {"type": "json_object"}
        elif kind == "json_schema":
            name = string(fmt, "name", "text.format", non_empty=True)
            if not _SCHEMA_NAME.fullmatch(name):
                raise InvalidRequest(
                    f"Invalid 'text.format.name': {name!r} must be 1 to 64 characters of a-z, A-Z, 0-9, '_' or '-'.",
                    param="text.format.name",
                    code="invalid_value",
                )
            schema = fmt.get("schema")
            if schema is None:
                raise missing("text.format.schema")
            if not isinstance(schema, dict):
                raise invalid_type("text.format.schema", "an object", schema)
            spec: JSON = {"name": name, "schema": schema}
            description = string_or_none(fmt, "description", "text.format")
            if description is not None:
                spec["description"] = description
            strict = bool_or_none(fmt, "strict", "text.format")
            if strict is not None:
                spec["strict"] = strict
            chat["response_format"] = {"type": "json_schema", "json_schema": spec}
        elif kind is None:
            raise missing("text.format.type")
        elif kind != "text":
            raise invalid_choice("text.format.type", kind, ("text", "json_schema", "json_object"))
    verbosity = value.get("verbosity")
    if verbosity is not None:
        if verbosity not in _VERBOSITY:
            raise invalid_value("text.verbosity", verbosity, _VERBOSITY)
        chat["verbosity"] = verbosity
