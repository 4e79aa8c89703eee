"""OpenAI chat completions ⇄ Anthropic Messages API.

The gateway speaks OpenAI to clients; this module lets it call Claude through Anthropic's
native ``/v1/messages`` endpoint instead of a compatibility shim, which is the only way to get
prompt caching, exact usage and native tool use. Everything here is pure dict → dict.

Response and stream translation live in sibling modules and are re-exported here so callers
have one import path per upstream protocol.
"""

from __future__ import annotations

from typing import Any

from ._common import (
    JSONDict,
    content_parts,
    image_url_of,
    is_http_url,
    parse_data_url,
    parse_tool_arguments,
    text_of,
)
from .anthropic_response import from_anthropic_response
from .anthropic_stream import AnthropicStreamTranslator
from .errors import UpstreamStreamError

__all__ = [
    "AnthropicStreamTranslator",
    "UpstreamStreamError",
    "error_from_anthropic",
    "from_anthropic_response",
    "to_anthropic_request",
]

# Anthropic accepts only these image types; "image/jpg" is a common client typo for JPEG.
_IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
_MEDIA_ALIASES = {"image/jpg": "image/jpeg"}

_STATUS_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def to_anthropic_request(
    body: JSONDict, upstream_model: str, *, stream: bool, default_max_tokens: int = 4096
) -> JSONDict:
    """Translate an OpenAI chat completion request body into an Anthropic Messages body.

    Raises ValueError for requests Anthropic cannot honour (``n > 1``, audio input, unknown
    tool types); the caller turns that into an OpenAI-style 400 rather than sending a request
    that would silently behave differently.
    """
    _reject_unsupported(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty array")
    system_messages = [m for m in messages if isinstance(m, dict) and m.get("role") in ("system", "developer")]
    chat_messages = [m for m in messages if isinstance(m, dict) and m.get("role") not in ("system", "developer")]

    out: JSONDict = {
        "model": upstream_model,
        "max_tokens": _max_tokens(body, default_max_tokens),
        "messages": _merge_turns([_convert_message(m) for m in chat_messages]),
    }
    system = _system_prompt(system_messages)
    if system:
        out["system"] = system
    out.update(_sampling_params(body))
    out.update(_tool_params(body))
    _add_thinking(out, body.get("reasoning_effort"))
    user_id = body.get("user") or body.get("safety_identifier")
    if isinstance(user_id, str) and user_id:
        out["metadata"] = {"user_id": user_id}
    if stream:
        out["stream"] = True
    return out


def _reject_unsupported(body: JSONDict) -> None:
    """Fail fast on OpenAI features with no Anthropic equivalent."""
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        raise ValueError("n > 1 is not supported by Anthropic models; request one choice per call")


def _max_tokens(body: JSONDict, default: int) -> int:
    """Anthropic requires ``max_tokens``; OpenAI has two spellings and makes both optional."""
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return default


def _system_prompt(messages: list[JSONDict]) -> str | list[JSONDict]:
    """Concatenate system/developer messages into Anthropic's top-level ``system``.

    Stays a plain string unless a part carries ``cache_control``: then it becomes text blocks
    so the client's prompt-caching breakpoint survives the translation.
    """
    parts = [p for m in messages for p in content_parts(m.get("content"))]
    if not any("cache_control" in p for p in parts):
        return "\n\n".join(t for t in (text_of(m.get("content")) for m in messages) if t)
    blocks: list[JSONDict] = []
    for part in parts:
        if part.get("type") == "text" and part.get("text"):
            blocks.append(_with_cache_control({"type": "text", "text": part["text"]}, part))
    return blocks


def _with_cache_control(block: JSONDict, part: JSONDict) -> JSONDict:
    """Carry an explicit ``cache_control`` marker from an OpenAI part onto the Anthropic block."""
    if isinstance(part.get("cache_control"), dict):
        block["cache_control"] = part["cache_control"]
    return block


def _convert_message(message: JSONDict) -> JSONDict:
    """One OpenAI message → one Anthropic turn (before merging same-role neighbours)."""
    role = message.get("role")
    if role == "assistant":
        return {"role": "assistant", "content": _assistant_blocks(message)}
    if role == "tool":
        return {"role": "user", "content": [_tool_result_block(message)]}
    if role == "user":
        return {"role": "user", "content": _user_blocks(message.get("content"))}
    raise ValueError(f"unsupported message role for Anthropic: {role!r}")


def _user_blocks(content: Any) -> list[JSONDict]:
    """User content (string or parts) → Anthropic content blocks; empty text is dropped."""
    blocks: list[JSONDict] = []
    for part in content_parts(content):
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                blocks.append(_with_cache_control({"type": "text", "text": str(part["text"])}, part))
        elif kind == "image_url":
            blocks.append(_with_cache_control(_image_block(image_url_of(part)), part))
        elif kind == "file":
            blocks.append(_file_block(part))
        elif kind == "input_audio":
            raise ValueError("audio input is not supported by Anthropic models")
        else:
            raise ValueError(f"unsupported content part type for Anthropic: {kind!r}")
    return blocks


def _image_block(url: str) -> JSONDict:
    """An OpenAI image URL → an Anthropic image (or PDF document) block."""
    if is_http_url(url):
        return {"type": "image", "source": {"type": "url", "url": url}}
    parsed = parse_data_url(url)
    if parsed is None:
        raise ValueError("image_url must be an http(s) URL or a base64 data: URL")
    media_type, data = parsed
    media_type = _MEDIA_ALIASES.get(media_type, media_type)
    if media_type == "application/pdf":
        return {"type": "document", "source": {"type": "base64", "media_type": media_type, "data": data}}
    if media_type not in _IMAGE_TYPES:
        raise ValueError(f"unsupported image type for Anthropic: {media_type}")
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _file_block(part: JSONDict) -> JSONDict:
    """OpenAI ``file`` parts carry inline ``file_data``; uploaded ``file_id``s cannot be resolved."""
    file = part.get("file") if isinstance(part.get("file"), dict) else {}
    data = file.get("file_data")
    if not isinstance(data, str) or not data:
        raise ValueError("file parts need inline 'file_data' for Anthropic models")
    url = data if data.startswith("data:") else f"data:application/pdf;base64,{data}"
    return _image_block(url)


def _assistant_blocks(message: JSONDict) -> list[JSONDict]:
    """Assistant text plus ``tool_calls`` → text and ``tool_use`` blocks."""
    blocks: list[JSONDict] = []
    for part in content_parts(message.get("content")):
        text = part.get("text") if part.get("type") == "text" else part.get("refusal")
        if isinstance(text, str) and text:
            blocks.append(_with_cache_control({"type": "text", "text": text}, part))
    for call in message.get("tool_calls") or []:
        if not isinstance(call, dict):
            continue
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        blocks.append(
            {
                "type": "tool_use",
                "id": str(call.get("id") or ""),
                "name": str(function.get("name") or ""),
                "input": parse_tool_arguments(function.get("arguments")),
            }
        )
    return blocks


def _tool_result_block(message: JSONDict) -> JSONDict:
    """An OpenAI ``tool`` message → a ``tool_result`` block (sent inside a user turn)."""
    block: JSONDict = {"type": "tool_result", "tool_use_id": str(message.get("tool_call_id") or "")}
    text = text_of(message.get("content"))
    if text:
        block["content"] = text
    return block


def _merge_turns(turns: list[JSONDict]) -> list[JSONDict]:
    """Merge consecutive same-role turns, because Anthropic requires strictly alternating roles.

    Parallel tool results arrive as several OpenAI ``tool`` messages but must form a single user
    turn, with every ``tool_result`` ahead of any other content in it.
    """
    merged: list[JSONDict] = []
    for turn in turns:
        if not turn["content"]:
            continue
        if merged and merged[-1]["role"] == turn["role"]:
            merged[-1]["content"].extend(turn["content"])
        else:
            merged.append({"role": turn["role"], "content": list(turn["content"])})
    for turn in merged:
        if turn["role"] == "user":
            turn["content"].sort(key=lambda block: block.get("type") != "tool_result")
    return merged


def _sampling_params(body: JSONDict) -> JSONDict:
    """temperature / top_p / top_k / stop → Anthropic's equivalents."""
    out: JSONDict = {}
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and not isinstance(temperature, bool):
        # OpenAI allows 0-2, Anthropic 0-1: clamp instead of letting the upstream 400.
        out["temperature"] = min(max(float(temperature), 0.0), 1.0)
    top_p = body.get("top_p")
    if isinstance(top_p, int | float) and not isinstance(top_p, bool):
        out["top_p"] = float(top_p)
    top_k = body.get("top_k")
    if isinstance(top_k, int) and not isinstance(top_k, bool) and top_k > 0:
        out["top_k"] = top_k
    stops = _stop_sequences(body.get("stop"))
    if stops:
        out["stop_sequences"] = stops
    return out


# OpenAI's reasoning_effort as an extended-thinking budget (Anthropic's minimum is 1,024 tokens).
_THINKING_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768}


def _add_thinking(out: JSONDict, effort: Any) -> None:
    """`reasoning_effort` → `thinking` with a budget below `max_tokens` (as Anthropic requires).

    Too small a `max_tokens` for the minimum budget, or a forced tool choice (which Anthropic
    refuses with thinking), means no thinking; with it, Anthropic refuses `temperature`, `top_k`
    and a `top_p` below 0.95, so those go."""
    budget = _THINKING_BUDGETS.get(effort) if isinstance(effort, str) else None
    forced = (out.get("tool_choice") or {}).get("type") in ("any", "tool")
    if budget is None or out["max_tokens"] <= 1024 or forced:
        return
    out["thinking"] = {"type": "enabled", "budget_tokens": min(budget, out["max_tokens"] - 1)}
    out.pop("temperature", None)
    out.pop("top_k", None)
    if out.get("top_p", 1.0) < 0.95:
        out.pop("top_p")


def _stop_sequences(stop: Any) -> list[str]:
    """OpenAI ``stop`` (string or list) → ``stop_sequences``.

    Anthropic rejects whitespace-only sequences ("each stop sequence must contain
    non-whitespace"), which OpenAI clients commonly send (``"\\n"``), so those are dropped.
    """
    values = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    return [s for s in values if isinstance(s, str) and s.strip()]


def _tool_params(body: JSONDict) -> JSONDict:
    """``tools`` / ``tool_choice`` / ``parallel_tool_calls`` → Anthropic ``tools`` + ``tool_choice``."""
    tools = [_convert_tool(t) for t in body.get("tools") or [] if isinstance(t, dict)]
    if not tools:
        return {}  # Anthropic rejects tool_choice without tools.
    out: JSONDict = {"tools": tools}
    choice = _tool_choice(body.get("tool_choice"))
    if body.get("parallel_tool_calls") is False:
        choice = choice or {"type": "auto"}
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
    if choice:
        out["tool_choice"] = choice
    return out


def _convert_tool(tool: JSONDict) -> JSONDict:
    """An OpenAI function tool → an Anthropic custom tool with ``input_schema``."""
    if tool.get("type", "function") != "function" or not isinstance(tool.get("function"), dict):
        raise ValueError(f"unsupported tool type for Anthropic: {tool.get('type')!r}")
    function = tool["function"]
    schema = function.get("parameters")
    if not isinstance(schema, dict) or not schema:
        schema = {"type": "object", "properties": {}}
    out: JSONDict = {"name": str(function.get("name") or ""), "input_schema": schema}
    if function.get("description"):
        out["description"] = str(function["description"])
    return out


def _tool_choice(choice: Any) -> JSONDict | None:
    """OpenAI ``tool_choice`` → Anthropic ``tool_choice`` (``required`` is Anthropic's ``any``)."""
    if choice is None:
        return None
    if isinstance(choice, str):
        mapped = {"auto": "auto", "none": "none", "required": "any"}.get(choice)
        if mapped is None:
            raise ValueError(f"unsupported tool_choice: {choice!r}")
        return {"type": mapped}
    if isinstance(choice, dict) and choice.get("type") == "function":
        function = choice.get("function") if isinstance(choice.get("function"), dict) else {}
        if function.get("name"):
            return {"type": "tool", "name": str(function["name"])}
    raise ValueError("unsupported tool_choice: expected 'auto', 'none', 'required' or a function")


def error_from_anthropic(status: int, data: JSONDict | None) -> tuple[str, str]:
    """(message, Anthropic error type) from an error body, tolerating non-JSON or odd shapes.

    Anthropic errors look like ``{"type": "error", "error": {"type": ..., "message": ...}}``;
    proxies in front of it sometimes return HTML or a bare string, hence the fallbacks.
    """
    fallback_type = _STATUS_ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    fallback_message = f"Anthropic upstream returned HTTP {status}"
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str) and error:
        return error, fallback_type
    if not isinstance(error, dict):
        message = data.get("message") if isinstance(data, dict) else None
        return (message if isinstance(message, str) and message else fallback_message), fallback_type
    message = error.get("message")
    error_type = error.get("type")
    return (
        message if isinstance(message, str) and message else fallback_message,
        error_type if isinstance(error_type, str) and error_type else fallback_type,
    )
