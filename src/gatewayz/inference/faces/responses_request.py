"""POST /v1/responses bodies -> Chat Completions bodies (the pipeline's one internal request shape).

The Responses API names things differently (`input` items instead of `messages`, flat function
tools, `text.format` instead of `response_format`, `max_output_tokens`), but everything it can
express for a plain model call has a Chat Completions twin. What has none (hosted tools, stored
prompts, conversations, background runs, uploaded-file ids) is refused here with a 400 naming the
Responses parameter, in OpenAI's wording, instead of being dropped silently.

Translation choices worth knowing:
- `reasoning` input items are dropped: chat providers either ignore reasoning on input or reject
  it (`reasoning_content` on an assistant message is a 400 at several of them).
- An assistant message followed by `function_call` items (one model turn in Responses) becomes one
  chat assistant message with `tool_calls`.
- Fields this module does not know pass through to the chat body unchanged, so provider-specific
  parameters (and the gateway's own `provider`/`models` routing fields) keep working.
"""

from __future__ import annotations

import re
from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.inference.faces.responses_answer import input_items
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
        "truncation", "max_tool_calls",
    }
)  # fmt: skip
_UNSUPPORTED = {
    "conversation": "Conversations are not supported by this gateway; chain turns with 'previous_response_id'.",
    "prompt": "Stored prompt templates ('prompt') are not supported by this gateway; send 'instructions' and 'input'.",
}
# Item types the Responses API defines that have no Chat Completions equivalent.
_FOREIGN_ITEMS = frozenset(
    {
        "file_search_call", "computer_call", "computer_call_output", "web_search_call", "tool_search_call",
        "tool_search_output", "additional_tools", "configuration_update", "compaction", "compaction_trigger",
        "image_generation_call", "code_interpreter_call", "local_shell_call", "local_shell_call_output",
        "shell_call", "shell_call_output", "apply_patch_call", "apply_patch_call_output", "mcp_list_tools",
        "mcp_approval_request", "mcp_approval_response", "mcp_call", "custom_tool_call",
        "custom_tool_call_output", "program", "program_output",
    }
)  # fmt: skip
_ITEM_TYPES = ("message", "function_call", "function_call_output", "reasoning")
_ROLES = ("user", "assistant", "system", "developer")
_IMAGE_DETAIL = {"auto": "auto", "low": "low", "high": "high", "original": "high"}  # chat has no "original"
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
    chat["messages"] = _messages(body, earlier)
    _options(body, chat)
    tools = _tools(body.get("tools"))
    names = {tool["function"]["name"] for tool in tools}
    if tools:
        chat["tools"] = tools
        parallel = _bool_or_none(body, "parallel_tool_calls")
        if parallel is not None:
            chat["parallel_tool_calls"] = parallel
    else:
        _bool_or_none(body, "parallel_tool_calls")
    choice = _tool_choice(body.get("tool_choice"), names)
    if choice is not None:
        chat["tool_choice"] = choice
    _text(body.get("text"), chat)
    if _bool_or_none(body, "stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def _refuse_unsupported(body: JSON) -> None:
    for name, message in _UNSUPPORTED.items():
        if body.get(name) is not None:
            raise InvalidRequest(message, param=name, code="unsupported_parameter")
    if _bool_or_none(body, "background"):
        raise InvalidRequest(
            "Background responses ('background': true) are not supported by this gateway.",
            param="background",
            code="unsupported_parameter",
        )


def _options(body: JSON, chat: JSON) -> None:
    """Scalar parameters: checked so the echo in the Response object stays well-typed."""
    limit = _int_in_range(body, "max_output_tokens", 1, MAX_TOKENS)
    if limit is not None:
        chat["max_tokens"] = limit
    for name, high in (("temperature", 2), ("top_p", 1)):
        value = _number_in_range(body, name, 0, high)
        if value is not None:
            chat[name] = value
    for name in ("user", "safety_identifier", "prompt_cache_key"):
        value = _string_or_none(body, name)
        if value is not None:
            chat[name] = value
    tier = body.get("service_tier")
    if tier is not None:
        if tier not in _SERVICE_TIERS:
            raise _invalid_value("service_tier", tier, _SERVICE_TIERS)
        chat["service_tier"] = tier
    reasoning = body.get("reasoning")
    if reasoning is not None:
        if not isinstance(reasoning, dict):
            raise _invalid_type("reasoning", "an object", reasoning)
        effort = reasoning.get("effort")
        if effort is not None:
            if effort not in _EFFORTS:
                raise _invalid_value("reasoning.effort", effort, _EFFORTS)
            chat["reasoning_effort"] = effort
        for name in ("summary", "generate_summary"):
            value = reasoning.get(name)
            if value is not None and value not in _SUMMARIES:
                raise _invalid_value(f"reasoning.{name}", value, _SUMMARIES)
    include = body.get("include")
    if include is not None and (not isinstance(include, list) or not all(isinstance(i, str) for i in include)):
        raise _invalid_type("include", "an array of strings", include)
    top = _int_in_range(body, "top_logprobs", 0, 20)
    if (include and _LOGPROBS_INCLUDE in include) or top:
        chat["logprobs"] = True
        if top is not None:
            chat["top_logprobs"] = top
    _metadata(body.get("metadata"))
    for name in ("store",):
        _bool_or_none(body, name)
    _string_or_none(body, "previous_response_id")
    truncation = body.get("truncation")
    if truncation is not None and truncation not in ("auto", "disabled"):
        raise _invalid_value("truncation", truncation, ("auto", "disabled"))
    if body.get("stream_options") is not None and not isinstance(body["stream_options"], dict):
        raise _invalid_type("stream_options", "an object", body["stream_options"])
    _int_in_range(body, "max_tool_calls", 1, MAX_TOKENS)


def _metadata(value: Any) -> None:
    """OpenAI's limits: at most 16 pairs, keys up to 64 characters, string values up to 512."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise _invalid_type("metadata", "an object", value)
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
            raise _invalid_type(f"metadata.{key}", "a string", item)
        if len(item) > 512:
            raise InvalidRequest(
                f"Invalid 'metadata.{key}': string too long. Expected a string with maximum length 512, "
                f"but got a string with length {len(item)} instead.",
                param=f"metadata.{key}",
                code="string_above_max_length",
            )


def _messages(body: JSON, earlier: list[JSON] | None) -> list[JSON]:
    messages: list[JSON] = []
    instructions = _string_or_none(body, "instructions")
    if instructions:
        messages.append({"role": "system", "content": instructions})
    if earlier:
        try:
            for position, item in enumerate(earlier):
                _add_item(messages, item, f"previous_response_id[{position}]")
        except InvalidRequest as exc:
            raise InvalidRequest(
                f"The stored conversation of 'previous_response_id' cannot be replayed: {exc.message}",
                param="previous_response_id",
                code="invalid_value",
            ) from None
    value = body.get("input")
    if isinstance(value, str):
        messages.append({"role": "user", "content": value})
    elif isinstance(value, list):
        for position, item in enumerate(value):
            _add_item(messages, item, f"input[{position}]")
    elif value is not None:
        raise _invalid_type("input", "a string or an array of input items", value)
    if len(messages) == (1 if instructions else 0):
        raise _missing("input")
    return messages


def _add_item(messages: list[JSON], item: Any, param: str) -> None:
    if not isinstance(item, dict):
        raise _invalid_type(param, "an object", item)
    kind = item.get("type")
    if kind is None:  # a message in short form, or an item reference (whose type is optional too)
        kind = "message" if "role" in item else "item_reference" if "id" in item else None
        if kind is None:
            raise _missing(f"{param}.type")
    if kind == "message":
        _add_message(messages, item, param)
    elif kind == "function_call":
        call = {
            "id": _string(item, "call_id", param, non_empty=True),
            "type": "function",
            "function": {
                "name": _string(item, "name", param, non_empty=True),
                "arguments": _string(item, "arguments", param),
            },
        }
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant":
            last.setdefault("tool_calls", []).append(call)
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
    elif kind == "function_call_output":
        call_id = _string(item, "call_id", param, non_empty=True)
        messages.append({"role": "tool", "tool_call_id": call_id, "content": _tool_output(item, param)})
    elif kind == "reasoning":
        pass  # see the module docstring: reasoning is not replayed to chat providers
    elif kind == "item_reference":
        raise InvalidRequest(
            "Item references ('item_reference') are not supported by this gateway; send the items themselves, "
            "or continue a stored response with 'previous_response_id'.",
            param=f"{param}.type",
            code="unsupported_value",
        )
    elif isinstance(kind, str) and kind in _FOREIGN_ITEMS:
        raise InvalidRequest(
            f"Input items of type '{kind}' are not supported by this gateway; it accepts "
            "'message', 'function_call', 'function_call_output' and 'reasoning' items.",
            param=f"{param}.type",
            code="unsupported_value",
        )
    elif isinstance(kind, str):
        raise _invalid_value(f"{param}.type", kind, _ITEM_TYPES)
    else:
        raise _invalid_type(f"{param}.type", "a string", kind)


def _add_message(messages: list[JSON], item: JSON, param: str) -> None:
    role = item.get("role")
    if role is None:
        raise _missing(f"{param}.role")
    if role not in _ROLES:
        raise (
            _invalid_value(f"{param}.role", role, _ROLES)
            if isinstance(role, str)
            else _invalid_type(f"{param}.role", "a string", role)
        )
    content = item.get("content")
    if content is None:
        raise _missing(f"{param}.content")
    if role == "assistant":
        messages.append(_assistant(content, f"{param}.content"))
        return
    if isinstance(content, str):
        messages.append({"role": role, "content": content})
        return
    if not isinstance(content, list):
        raise _invalid_type(f"{param}.content", "a string or an array of content parts", content)
    parts = [_part(part, f"{param}.content[{i}]", role) for i, part in enumerate(content)]
    if len(parts) == 1 and parts[0]["type"] == "text":
        messages.append({"role": role, "content": parts[0]["text"]})
    else:
        messages.append({"role": role, "content": parts})


def _part(part: Any, param: str, role: str) -> JSON:
    if not isinstance(part, dict):
        raise _invalid_type(param, "an object", part)
    kind = part.get("type")
    if kind == "input_text":
        return {"type": "text", "text": _string(part, "text", param)}
    if kind in ("input_image", "input_file") and role != "user":
        raise InvalidRequest(
            f"'{kind}' content is only supported in user messages; {role} messages take 'input_text' parts.",
            param=f"{param}.type",
            code="invalid_value",
        )
    if kind == "input_image":
        url = part.get("image_url")
        if url is None:
            _refuse_file_reference(
                part, param, "file_id", "Images by 'file_id'", "'image_url' (an https URL or a data URL)"
            )
            raise _missing(f"{param}.image_url")
        image: JSON = {"url": _string(part, "image_url", param, non_empty=True)}
        detail = part.get("detail")
        if detail is not None:
            if not isinstance(detail, str) or detail not in _IMAGE_DETAIL:
                raise _invalid_value(f"{param}.detail", detail, tuple(_IMAGE_DETAIL))
            image["detail"] = _IMAGE_DETAIL[detail]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        if part.get("file_data") is None:
            _refuse_file_reference(part, param, "file_id", "Files by 'file_id'", "'file_data' (a base64 data URL)")
            _refuse_file_reference(part, param, "file_url", "Files by 'file_url'", "'file_data' (a base64 data URL)")
            raise _missing(f"{param}.file_data")
        file: JSON = {"file_data": _string(part, "file_data", param, non_empty=True)}
        if part.get("filename") is not None:
            file["filename"] = _string(part, "filename", param)
        return {"type": "file", "file": file}
    if kind is None:
        raise _missing(f"{param}.type")
    if not isinstance(kind, str):
        raise _invalid_type(f"{param}.type", "a string", kind)
    raise _invalid_value(f"{param}.type", kind, ("input_text", "input_image", "input_file"))


def _refuse_file_reference(part: JSON, param: str, field: str, what: str, instead: str) -> None:
    if part.get(field) is not None:
        raise InvalidRequest(
            f"{what} are not supported by this gateway (it has no file store); send {instead} instead.",
            param=f"{param}.{field}",
            code="unsupported_value",
        )


def _assistant(content: Any, param: str) -> JSON:
    """An assistant turn: text parts join into `content`, a refusal part becomes `refusal`."""
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    if not isinstance(content, list):
        raise _invalid_type(param, "a string or an array of content parts", content)
    texts: list[str] = []
    refusals: list[str] = []
    for position, part in enumerate(content):
        where = f"{param}[{position}]"
        if not isinstance(part, dict):
            raise _invalid_type(where, "an object", part)
        kind = part.get("type")
        if kind in ("output_text", "input_text"):
            texts.append(_string(part, "text", where))
        elif kind == "refusal":
            refusals.append(_string(part, "refusal", where))
        elif kind is None:
            raise _missing(f"{where}.type")
        elif not isinstance(kind, str):
            raise _invalid_type(f"{where}.type", "a string", kind)
        else:
            raise _invalid_value(f"{where}.type", kind, ("output_text", "refusal"))
    message: JSON = {"role": "assistant", "content": "".join(texts)}
    if refusals:
        message["refusal"] = "".join(refusals)
    return message


def _tool_output(item: JSON, param: str) -> str:
    """A function's result: chat tool messages carry text only, so text parts are joined."""
    output = item.get("output")
    if output is None:
        raise _missing(f"{param}.output")
    if isinstance(output, str):
        return output
    if not isinstance(output, list):
        raise _invalid_type(f"{param}.output", "a string or an array of content parts", output)
    texts = []
    for position, part in enumerate(output):
        where = f"{param}.output[{position}]"
        if not isinstance(part, dict):
            raise _invalid_type(where, "an object", part)
        kind = part.get("type")
        if kind == "input_text":
            texts.append(_string(part, "text", where))
        elif kind in ("input_image", "input_file"):
            raise InvalidRequest(
                f"'{kind}' parts in a function_call_output are not supported by this gateway "
                "(chat tool results carry text only).",
                param=f"{where}.type",
                code="unsupported_value",
            )
        elif kind is None:
            raise _missing(f"{where}.type")
        else:
            raise (
                _invalid_value(f"{where}.type", kind, ("input_text",))
                if isinstance(kind, str)
                else _invalid_type(f"{where}.type", "a string", kind)
            )
    return "".join(texts)


def _tools(value: Any) -> list[JSON]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid_type("tools", "an array", value)
    tools = []
    for position, tool in enumerate(value):
        param = f"tools[{position}]"
        if not isinstance(tool, dict):
            raise _invalid_type(param, "an object", tool)
        kind = tool.get("type")
        if kind != "function":
            if kind is None:
                raise _missing(f"{param}.type")
            if not isinstance(kind, str):
                raise _invalid_type(f"{param}.type", "a string", kind)
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
        function: JSON = {"name": _string(tool, "name", param, non_empty=True)}
        description = _string_or_none(tool, "description", param)
        if description is not None:
            function["description"] = description
        parameters = tool.get("parameters")
        if parameters is not None:
            if not isinstance(parameters, dict):
                raise _invalid_type(f"{param}.parameters", "an object", parameters)
            function["parameters"] = parameters
        strict = _bool_or_none(tool, "strict", param)
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
            raise _invalid_value("tool_choice", value, ("auto", "none", "required"))
        if value == "required" and not names:
            raise InvalidRequest(
                "Tool choice 'required' must be specified with 'tools' parameter.",
                param="tool_choice",
                code="invalid_value",
            )
        return value if names else None
    if not isinstance(value, dict):
        raise _invalid_type("tool_choice", "a string or an object", value)
    kind = value.get("type")
    if kind == "function":
        name = _string(value, "name", "tool_choice", non_empty=True)
        if name not in names:
            raise InvalidRequest(
                f"Tool choice 'function' names '{name}', which is not among the function tools in 'tools'.",
                param="tool_choice.name",
                code="invalid_value",
            )
        return {"type": "function", "function": {"name": name}}
    if kind is None:
        raise _missing("tool_choice.type")
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
        raise _invalid_type("text", "an object", value)
    fmt = value.get("format")
    if fmt is not None:
        if not isinstance(fmt, dict):
            raise _invalid_type("text.format", "an object", fmt)
        kind = fmt.get("type")
        if kind == "json_object":
            chat["response_format"] = {"type": "json_object"}
        elif kind == "json_schema":
            name = _string(fmt, "name", "text.format", non_empty=True)
            if not _SCHEMA_NAME.fullmatch(name):
                raise InvalidRequest(
                    f"Invalid 'text.format.name': {name!r} must be 1 to 64 characters of a-z, A-Z, 0-9, '_' or '-'.",
                    param="text.format.name",
                    code="invalid_value",
                )
            schema = fmt.get("schema")
            if schema is None:
                raise _missing("text.format.schema")
            if not isinstance(schema, dict):
                raise _invalid_type("text.format.schema", "an object", schema)
            spec: JSON = {"name": name, "schema": schema}
            description = _string_or_none(fmt, "description", "text.format")
            if description is not None:
                spec["description"] = description
            strict = _bool_or_none(fmt, "strict", "text.format")
            if strict is not None:
                spec["strict"] = strict
            chat["response_format"] = {"type": "json_schema", "json_schema": spec}
        elif kind is None:
            raise _missing("text.format.type")
        elif kind != "text":
            raise (
                _invalid_value("text.format.type", kind, ("text", "json_schema", "json_object"))
                if isinstance(kind, str)
                else _invalid_type("text.format.type", "a string", kind)
            )
    verbosity = value.get("verbosity")
    if verbosity is not None:
        if verbosity not in _VERBOSITY:
            raise _invalid_value("text.verbosity", verbosity, _VERBOSITY)
        chat["verbosity"] = verbosity


# --- checks, in OpenAI's own error wording ----------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else "an unsupported value"


def _invalid_type(param: str, expected: str, value: Any) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid type for '{param}': expected {expected}, but got {_kind(value)} instead.",
        param=param,
        code="invalid_type",
    )


def _invalid_value(param: str, value: Any, supported: tuple[str, ...]) -> InvalidRequest:
    listed = ", ".join(f"'{option}'" for option in supported)
    shown = value[:100] if isinstance(value, str) else _kind(value)
    return InvalidRequest(
        f"Invalid value: '{shown}'. Supported values are: {listed}.", param=param, code="invalid_value"
    )


def _missing(param: str) -> InvalidRequest:
    return InvalidRequest(f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def _string(obj: JSON, name: str, parent: str, *, non_empty: bool = False) -> str:
    param = f"{parent}.{name}"
    value = obj.get(name)
    if value is None:
        raise _missing(param)
    if not isinstance(value, str):
        raise _invalid_type(param, "a string", value)
    if non_empty and not value:
        raise InvalidRequest(
            f"Invalid '{param}': empty string. Expected a string with minimum length 1.",
            param=param,
            code="empty_string",
        )
    return value


def _string_or_none(obj: JSON, name: str, parent: str | None = None) -> str | None:
    value = obj.get(name)
    if value is not None and not isinstance(value, str):
        raise _invalid_type(f"{parent}.{name}" if parent else name, "a string", value)
    return value


def _bool_or_none(obj: JSON, name: str, parent: str | None = None) -> bool | None:
    value = obj.get(name)
    if value is not None and not isinstance(value, bool):
        raise _invalid_type(f"{parent}.{name}" if parent else name, "a boolean", value)
    return value


def _int_in_range(obj: JSON, name: str, low: int, high: int) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid_type(name, "an integer", value)
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


def _number_in_range(obj: JSON, name: str, low: float, high: float) -> float | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _invalid_type(name, "a number", value)
    if not low <= value <= high:
        side = "below minimum" if value < low else "above maximum"
        bound = f">= {low}" if value < low else f"<= {high}"
        raise InvalidRequest(
            f"Invalid '{name}': decimal {side} value. Expected a value {bound}, but got {value} instead.",
            param=name,
            code="decimal_below_min_value" if value < low else "decimal_above_max_value",
        )
    return value
