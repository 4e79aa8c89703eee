"""Anthropic Messages request (POST /v1/messages) -> a Chat Completions body.

The inverse of `providers.protocols.anthropic.to_anthropic_request`: the pipeline speaks chat,
so a Messages body is checked the way Anthropic checks it (a 400 naming the field by its dotted
path, `messages.1.content.0.source`, in the style of Anthropic's own messages) and rewritten:

- `system` (string or text blocks) -> a leading system message; `cache_control` stays on parts.
- user blocks: `text` -> text part, `image` -> `image_url` part (base64 -> data URL, url -> url),
  `document` -> a chat `file` part (base64 PDF, as a data URL) or text parts (text/content
  sources); `tool_result` -> a `tool` message ahead of the rest of the turn (its text as one
  string unless a part carries `cache_control`; its images and documents follow in the user
  message, since chat tool messages carry text only; an `is_error` result's text is prefixed
  with "Error: "). URL documents and Files API sources cannot be expressed in chat: 400.
- `system`-role messages (the SDK's `SystemMessageParam`) -> system messages in place.
- assistant blocks: `text` -> content, `tool_use` -> `tool_calls` (id kept, `input` as the JSON
  `arguments`); `thinking`/`redacted_thinking` are dropped: chat has no standard input field for
  them and several upstreams reject `reasoning_content` in requests (Anthropic itself strips
  earlier turns' thinking from the context).
- custom `tools` -> function tools; server tools (web search, bash, code execution...) -> 400.
- `tool_choice` auto/any/tool/none -> auto/required/named function/none,
  `disable_parallel_tool_use` -> `parallel_tool_calls: false`.
- `stop_sequences` -> `stop`, `metadata.user_id` -> `user`, `thinking.budget_tokens` ->
  `reasoning_effort` (< 4096 low, < 16384 medium, else high), `service_tier` auto/standard_only
  -> auto/default (OpenAI's names for the same tiers), `stream` -> `stream` + include_usage.
- every other top-level field (the gateway's `provider`/`models` routing among them) passes
  through untouched.

Input comes straight from `orjson.loads`: every access is type-checked so hostile input is a 400,
never a TypeError. No copies: schemas, `cache_control` objects and lists are reused as they are.

This module handles the top-level fields and tools; `messages_turns` converts `system` and
`messages`, `messages_blocks` the content blocks, and `messages_checks` words the errors.
"""

from __future__ import annotations

from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.inference.faces.messages_checks import (
    bad_field,
    fail,
    field_missing,
    is_int,
    is_number,
    wrong_type,
)
from gatewayz.inference.faces.messages_turns import add_messages, system_messages
from gatewayz.inference.request import MAX_TOKENS, require_model

__all__ = ["check_count_tokens", "to_chat"]

JSON = dict[str, Any]

_HANDLED = frozenset(
    {
        "model", "max_tokens", "messages", "system", "tools", "tool_choice", "stop_sequences", "temperature",
        "top_p", "top_k", "metadata", "thinking", "stream", "service_tier",
    }
)  # fmt: skip
_TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}
_SERVICE_TIERS = {"auto": "auto", "standard_only": "default"}
_THINKING_TYPES = ("enabled", "disabled", "adaptive", "between_tools")


def to_chat(body: JSON) -> JSON:
    """A POST /v1/messages body -> the chat completions body the pipeline runs."""
    return _translate(body, count_tokens=False)


def check_count_tokens(body: JSON) -> JSON:
    """A POST /v1/messages/count_tokens body (no `max_tokens`) -> a chat body to estimate."""
    return _translate(body, count_tokens=True)


def _translate(body: JSON, *, count_tokens: bool) -> JSON:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    model = require_model(body)
    out: JSON = {key: value for key, value in body.items() if key not in _HANDLED}
    out["model"] = model
    if not count_tokens:
        out["max_tokens"] = _max_tokens(body.get("max_tokens"))
    messages = system_messages(body.get("system"))
    add_messages(body.get("messages"), messages)
    out["messages"] = messages
    tools = _tools(body.get("tools"))
    if tools:
        out["tools"] = tools
    _tool_choice(body.get("tool_choice"), bool(tools), out)
    _sampling(body, out)
    _thinking(body.get("thinking"), out)
    if not count_tokens:
        _stream(body, out)
    return out


# -- top-level parameters ------------------------------------------------------------------------


def _max_tokens(value: Any) -> int:
    if value is None:
        raise field_missing("max_tokens")
    if not is_int(value):
        raise wrong_type("max_tokens", "a valid integer")
    if value < 1:
        raise fail("max_tokens", "Input should be greater than or equal to 1")
    if value > MAX_TOKENS:
        raise fail("max_tokens", f"Input should be less than or equal to {MAX_TOKENS}")
    return value


def _unit_interval(body: JSON, name: str, out: JSON, target: str) -> None:
    value = body.get(name)
    if value is None:
        return
    if not is_number(value):
        raise wrong_type(name, "a valid number")
    if not 0 <= value <= 1:
        raise fail(name, "Input should be between 0 and 1")
    out[target] = value


def _sampling(body: JSON, out: JSON) -> None:
    _unit_interval(body, "temperature", out, "temperature")
    _unit_interval(body, "top_p", out, "top_p")
    top_k = body.get("top_k")
    if top_k is not None:
        if not is_int(top_k):
            raise wrong_type("top_k", "a valid integer")
        if top_k < 0:
            raise fail("top_k", "Input should be greater than or equal to 0")
        out["top_k"] = top_k
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list):
            raise wrong_type("stop_sequences", "a valid list")
        for index, stop in enumerate(stops):
            if not isinstance(stop, str):
                raise wrong_type(f"stop_sequences.{index}", "a valid string")
        if stops:
            out["stop"] = stops
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise wrong_type("metadata", "a valid dictionary")
        user_id = metadata.get("user_id")
        if user_id is not None and not isinstance(user_id, str):
            raise wrong_type("metadata.user_id", "a valid string")
        if user_id:
            out["user"] = user_id
    tier = body.get("service_tier")
    if tier is not None:
        if not isinstance(tier, str) or tier not in _SERVICE_TIERS:
            raise fail("service_tier", "Input should be 'auto' or 'standard_only'")
        out["service_tier"] = _SERVICE_TIERS[tier]


def _thinking(value: Any, out: JSON) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise wrong_type("thinking", "a valid dictionary")
    kind = value.get("type")
    if kind not in _THINKING_TYPES:
        raise fail("thinking.type", "Input should be 'enabled', 'disabled', 'adaptive' or 'between_tools'")
    if kind != "enabled":
        return
    budget = value.get("budget_tokens")
    if budget is None:
        raise field_missing("thinking.budget_tokens")
    if not is_int(budget):
        raise wrong_type("thinking.budget_tokens", "a valid integer")
    if budget < 1024:
        raise fail("thinking.budget_tokens", "Input should be greater than or equal to 1024")
    out["reasoning_effort"] = "low" if budget < 4096 else "medium" if budget < 16384 else "high"


def _stream(body: JSON, out: JSON) -> None:
    stream = body.get("stream")
    if stream is None:
        return
    if not isinstance(stream, bool):
        raise wrong_type("stream", "a valid boolean")
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}


# -- tools ---------------------------------------------------------------------------------------


def _tools(value: Any) -> list[JSON]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise wrong_type("tools", "a valid list")
    out = []
    for index, tool in enumerate(value):
        path = f"tools.{index}"
        if not isinstance(tool, dict):
            raise wrong_type(path, "a valid dictionary")
        kind = tool.get("type")
        if kind is not None and kind != "custom":
            shown = kind if isinstance(kind, str) else type(kind).__name__
            raise fail(
                f"{path}.type",
                f"tool type '{shown}' is not supported by this gateway: server tools (web search, web fetch, "
                "code execution, bash, text editor, computer use, memory...) run inside Anthropic's API; "
                "declare custom tools with a name and an input_schema",
                "unsupported_value",
            )
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise bad_field(f"{path}.name", name, "a non-empty string")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise bad_field(f"{path}.input_schema", schema, "a valid dictionary")
        function: JSON = {"name": name, "parameters": schema}
        description = tool.get("description")
        if description is not None:
            if not isinstance(description, str):
                raise wrong_type(f"{path}.description", "a valid string")
            function["description"] = description
        strict = tool.get("strict")
        if strict is not None:
            if not isinstance(strict, bool):
                raise wrong_type(f"{path}.strict", "a valid boolean")
            function["strict"] = strict
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(value: Any, has_tools: bool, out: JSON) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise wrong_type("tool_choice", "a valid dictionary")
    kind = value.get("type")
    if kind == "tool":
        name = value.get("name")
        if not isinstance(name, str) or not name:
            raise field_missing("tool_choice.name")
        choice: Any = {"type": "function", "function": {"name": name}}
    elif isinstance(kind, str) and kind in _TOOL_CHOICES:
        choice = _TOOL_CHOICES[kind]
    else:
        raise fail("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'")
    disable = value.get("disable_parallel_tool_use")
    if disable is not None and not isinstance(disable, bool):
        raise wrong_type("tool_choice.disable_parallel_tool_use", "a valid boolean")
    if not has_tools:
        if kind in ("any", "tool"):
            raise fail("tool_choice", f"tool_choice of type '{kind}' requires 'tools'")
        return  # auto/none without tools: nothing to choose from (chat upstreams refuse it)
    out["tool_choice"] = choice
    if disable and kind != "none":
        out["parallel_tool_calls"] = False
