"""Responses `instructions` and `input` items (and replayed stored items) -> chat messages.

- `reasoning` items are dropped: chat providers either ignore reasoning on input or reject it
  (`reasoning_content` on an assistant message is a 400 at several of them).
- An assistant message followed by `function_call` items (one model turn in Responses) becomes one
  chat assistant message with `tool_calls`.
- `function_call_output` items become `tool` messages; chat tool messages carry text only, so
  their text parts are joined and image/file parts are refused.
- Item types with no chat equivalent (hosted tool calls, item references) are a 400 naming the
  item's `type`, as are file ids and file URLs (the gateway has no file store).

Most items are plain text messages: `_plain_message` converts those without building the
`input[3].content[0]` paths that only an error message needs.
"""

from __future__ import annotations

from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.inference.faces.responses_checks import (
    invalid_choice,
    invalid_type,
    invalid_value,
    missing,
    objects,
    string,
    string_or_none,
)

JSON = dict[str, Any]

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
_MESSAGE_TYPES = (None, "message")  # a message item's `type` is optional
_ASSISTANT_TEXT = ("output_text", "input_text")
_IMAGE_DETAIL = {"auto": "auto", "low": "low", "high": "high", "original": "high"}  # chat has no "original"


def chat_messages(body: JSON, earlier: list[JSON] | None) -> list[JSON]:
    """The chat `messages` of a Responses body: its instructions, the stored items of earlier
    turns (`earlier`, oldest first), then its own `input`."""
    messages: list[JSON] = []
    instructions = string_or_none(body, "instructions")
    if instructions:
        messages.append({"role": "system", "content": instructions})
    if earlier:
        try:
            _add_items(messages, earlier, "previous_response_id")
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
        _add_items(messages, value, "input")
    elif value is not None:
        raise invalid_type("input", "a string or an array of input items", value)
    if len(messages) == (1 if instructions else 0):
        raise missing("input")
    return messages


def _add_items(messages: list[JSON], items: list[Any], where: str) -> None:
    for position, item in enumerate(items):
        plain = _plain_message(item) if type(item) is dict and item.get("type") in _MESSAGE_TYPES else None
        if plain is not None:
            messages.append(plain)
        else:
            _add_item(messages, item, f"{where}[{position}]")


def _plain_message(item: JSON) -> JSON | None:
    """The common case, a message item (`type` "message" or left out) whose content is a string
    or text parts only, converted without building paths; anything else (None) goes through
    `_add_item` and its checks, which give the same result for what this accepts."""
    role = item.get("role")
    if role not in _ROLES:
        return None
    content = item.get("content")
    if type(content) is str:
        return {"role": role, "content": content}
    if type(content) is not list:
        return None
    if role == "assistant":
        texts = []
        for part in content:
            if type(part) is not dict or part.get("type") not in _ASSISTANT_TEXT:
                return None
            text = part.get("text")
            if type(text) is not str:
                return None
            texts.append(text)
        return {"role": role, "content": "".join(texts)}
    parts = []
    for part in content:
        if type(part) is not dict or part.get("type") != "input_text":
            return None
        text = part.get("text")
        if type(text) is not str:
            return None
        parts.append({"type": "text", "text": text})
    return {"role": role, "content": parts[0]["text"] if len(parts) == 1 else parts}


def _add_item(messages: list[JSON], item: Any, param: str) -> None:
    if not isinstance(item, dict):
        raise invalid_type(param, "an object", item)
    kind = item.get("type")
    if kind is None:  # a message in short form, or an item reference (whose type is optional too)
        kind = "message" if "role" in item else "item_reference" if "id" in item else None
        if kind is None:
            raise missing(f"{param}.type")
    if kind == "message":
        _add_message(messages, item, param)
    elif kind == "function_call":
        call = {
            "id": string(item, "call_id", param, non_empty=True),
            "type": "function",
            "function": {
                "name": string(item, "name", param, non_empty=True),
                "arguments": string(item, "arguments", param),
            },
        }
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant":
            last.setdefault("tool_calls", []).append(call)
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
    elif kind == "function_call_output":
        call_id = string(item, "call_id", param, non_empty=True)
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
    else:
        raise invalid_choice(f"{param}.type", kind, _ITEM_TYPES)


def _add_message(messages: list[JSON], item: JSON, param: str) -> None:
    role = item.get("role")
    if role is None:
        raise missing(f"{param}.role")
    if role not in _ROLES:
        raise invalid_choice(f"{param}.role", role, _ROLES)
    content = item.get("content")
    if content is None:
        raise missing(f"{param}.content")
    if role == "assistant":
        messages.append(_assistant(content, f"{param}.content"))
        return
    if isinstance(content, str):
        messages.append({"role": role, "content": content})
        return
    if not isinstance(content, list):
        raise invalid_type(f"{param}.content", "a string or an array of content parts", content)
    parts = [_part(part, f"{param}.content[{i}]", role) for i, part in enumerate(content)]
    if len(parts) == 1 and parts[0]["type"] == "text":
        messages.append({"role": role, "content": parts[0]["text"]})
    else:
        messages.append({"role": role, "content": parts})


def _part(part: Any, param: str, role: str) -> JSON:
    if not isinstance(part, dict):
        raise invalid_type(param, "an object", part)
    kind = part.get("type")
    if kind == "input_text":
        return {"type": "text", "text": string(part, "text", param)}
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
            raise missing(f"{param}.image_url")
        image: JSON = {"url": string(part, "image_url", param, non_empty=True)}
        detail = part.get("detail")
        if detail is not None:
            if not isinstance(detail, str) or detail not in _IMAGE_DETAIL:
                raise invalid_value(f"{param}.detail", detail, tuple(_IMAGE_DETAIL))
            image["detail"] = _IMAGE_DETAIL[detail]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        if part.get("file_data") is None:
            _refuse_file_reference(part, param, "file_id", "Files by 'file_id'", "'file_data' (a base64 data URL)")
            _refuse_file_reference(part, param, "file_url", "Files by 'file_url'", "'file_data' (a base64 data URL)")
            raise missing(f"{param}.file_data")
        file: JSON = {"file_data": string(part, "file_data", param, non_empty=True)}
        if part.get("filename") is not None:
            file["filename"] = string(part, "filename", param)
        return {"type": "file", "file": file}
    if kind is None:
        raise missing(f"{param}.type")
    raise invalid_choice(f"{param}.type", kind, ("input_text", "input_image", "input_file"))


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
        raise invalid_type(param, "a string or an array of content parts", content)
    texts: list[str] = []
    refusals: list[str] = []
    for part, where in objects(content, param):
        kind = part.get("type")
        if kind in _ASSISTANT_TEXT:
            texts.append(string(part, "text", where))
        elif kind == "refusal":
            refusals.append(string(part, "refusal", where))
        elif kind is None:
            raise missing(f"{where}.type")
        else:
            raise invalid_choice(f"{where}.type", kind, ("output_text", "refusal"))
    message: JSON = {"role": "assistant", "content": "".join(texts)}
    if refusals:
        message["refusal"] = "".join(refusals)
    return message


def _tool_output(item: JSON, param: str) -> str:
    """A function's result: chat tool messages carry text only, so text parts are joined."""
    output = item.get("output")
    if output is None:
        raise missing(f"{param}.output")
    if isinstance(output, str):
        return output
    if not isinstance(output, list):
        raise invalid_type(f"{param}.output", "a string or an array of content parts", output)
    texts = []
    for part, where in objects(output, f"{param}.output"):
        kind = part.get("type")
        if kind == "input_text":
            texts.append(string(part, "text", where))
        elif kind in ("input_image", "input_file"):
            raise InvalidRequest(
                f"'{kind}' parts in a function_call_output are not supported by this gateway "
                "(chat tool results carry text only).",
                param=f"{where}.type",
                code="unsupported_value",
            )
        elif kind is None:
            raise missing(f"{where}.type")
        else:
            raise invalid_choice(f"{where}.type", kind, ("input_text",))
    return "".join(texts)
