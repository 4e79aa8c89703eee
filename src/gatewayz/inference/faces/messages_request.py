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
"""

from __future__ import annotations

from typing import Any

import orjson

from gatewayz.errors import InvalidRequest
from gatewayz.inference.request import MAX_TOKENS, require_model

JSON = dict[str, Any]

MAX_MESSAGES = 100_000  # Anthropic's limit per request
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_CACHE_TTLS = (None, "5m", "1h")
_HANDLED = frozenset({
    "model", "max_tokens", "messages", "system", "tools", "tool_choice", "stop_sequences", "temperature",
    "top_p", "top_k", "metadata", "thinking", "stream", "service_tier",
})
_TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}
_SERVICE_TIERS = {"auto": "auto", "standard_only": "default"}
_THINKING_TYPES = ("enabled", "disabled", "adaptive", "between_tools")
_EMPTY = "all messages must have non-empty content except for the optional final assistant message"


def to_chat(body: JSON) -> JSON:
    """A POST /v1/messages body -> the chat completions body the pipeline runs."""
    return _translate(body, count_tokens=False)


def check_count_tokens(body: JSON) -> JSON:
    """A POST /v1/messages/count_tokens body (no `max_tokens`) -> a chat body to estimate."""
    return _translate(body, count_tokens=True)


def _fail(param: str, problem: str, code: str = "invalid_value") -> InvalidRequest:
    return InvalidRequest(f"{param}: {problem}", param=param, code=code)


def _translate(body: JSON, *, count_tokens: bool) -> JSON:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    model = require_model(body)
    out: JSON = {key: value for key, value in body.items() if key not in _HANDLED}
    out["model"] = model
    if not count_tokens:
        out["max_tokens"] = _max_tokens(body.get("max_tokens"))
    messages = _system(body.get("system"))
    _messages(body.get("messages"), messages)
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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _max_tokens(value: Any) -> int:
    if value is None:
        raise _fail("max_tokens", "Field required", "missing_required_parameter")
    if not _is_int(value):
        raise _fail("max_tokens", "Input should be a valid integer", "invalid_type")
    if value < 1:
        raise _fail("max_tokens", "Input should be greater than or equal to 1")
    if value > MAX_TOKENS:
        raise _fail("max_tokens", f"Input should be less than or equal to {MAX_TOKENS}")
    return value


def _unit_interval(body: JSON, name: str, out: JSON, target: str) -> None:
    value = body.get(name)
    if value is None:
        return
    if not _is_number(value):
        raise _fail(name, "Input should be a valid number", "invalid_type")
    if not 0 <= value <= 1:
        raise _fail(name, "Input should be between 0 and 1")
    out[target] = value


def _sampling(body: JSON, out: JSON) -> None:
    _unit_interval(body, "temperature", out, "temperature")
    _unit_interval(body, "top_p", out, "top_p")
    top_k = body.get("top_k")
    if top_k is not None:
        if not _is_int(top_k):
            raise _fail("top_k", "Input should be a valid integer", "invalid_type")
        if top_k < 0:
            raise _fail("top_k", "Input should be greater than or equal to 0")
        out["top_k"] = top_k
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list):
            raise _fail("stop_sequences", "Input should be a valid list", "invalid_type")
        for index, stop in enumerate(stops):
            if not isinstance(stop, str):
                raise _fail(f"stop_sequences.{index}", "Input should be a valid string", "invalid_type")
        if stops:
            out["stop"] = stops
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise _fail("metadata", "Input should be a valid dictionary", "invalid_type")
        user_id = metadata.get("user_id")
        if user_id is not None and not isinstance(user_id, str):
            raise _fail("metadata.user_id", "Input should be a valid string", "invalid_type")
        if user_id:
            out["user"] = user_id
    tier = body.get("service_tier")
    if tier is not None:
        if not isinstance(tier, str) or tier not in _SERVICE_TIERS:
            raise _fail("service_tier", "Input should be 'auto' or 'standard_only'")
        out["service_tier"] = _SERVICE_TIERS[tier]


def _thinking(value: Any, out: JSON) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _fail("thinking", "Input should be a valid dictionary", "invalid_type")
    kind = value.get("type")
    if kind not in _THINKING_TYPES:
        raise _fail("thinking.type", "Input should be 'enabled', 'disabled', 'adaptive' or 'between_tools'")
    if kind != "enabled":
        return
    budget = value.get("budget_tokens")
    if budget is None:
        raise _fail("thinking.budget_tokens", "Field required", "missing_required_parameter")
    if not _is_int(budget):
        raise _fail("thinking.budget_tokens", "Input should be a valid integer", "invalid_type")
    if budget < 1024:
        raise _fail("thinking.budget_tokens", "Input should be greater than or equal to 1024")
    out["reasoning_effort"] = "low" if budget < 4096 else "medium" if budget < 16384 else "high"


def _stream(body: JSON, out: JSON) -> None:
    stream = body.get("stream")
    if stream is None:
        return
    if not isinstance(stream, bool):
        raise _fail("stream", "Input should be a valid boolean", "invalid_type")
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}


# -- tools ---------------------------------------------------------------------------------------


def _tools(value: Any) -> list[JSON]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail("tools", "Input should be a valid list", "invalid_type")
    out = []
    for index, tool in enumerate(value):
        path = f"tools.{index}"
        if not isinstance(tool, dict):
            raise _fail(path, "Input should be a valid dictionary", "invalid_type")
        kind = tool.get("type")
        if kind is not None and kind != "custom":
            shown = kind if isinstance(kind, str) else type(kind).__name__
            raise _fail(
                f"{path}.type",
                f"tool type '{shown}' is not supported by this gateway: server tools (web search, web fetch, "
                "code execution, bash, text editor, computer use, memory...) run inside Anthropic's API; "
                "declare custom tools with a name and an input_schema",
                "unsupported_value",
            )
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise _fail(f"{path}.name", "Field required" if name is None else "Input should be a non-empty string",
                        "missing_required_parameter" if name is None else "invalid_type")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise _fail(f"{path}.input_schema", "Field required" if schema is None else
                        "Input should be a valid dictionary",
                        "missing_required_parameter" if schema is None else "invalid_type")
        function: JSON = {"name": name, "parameters": schema}
        description = tool.get("description")
        if description is not None:
            if not isinstance(description, str):
                raise _fail(f"{path}.description", "Input should be a valid string", "invalid_type")
            function["description"] = description
        strict = tool.get("strict")
        if strict is not None:
            if not isinstance(strict, bool):
                raise _fail(f"{path}.strict", "Input should be a valid boolean", "invalid_type")
            function["strict"] = strict
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(value: Any, has_tools: bool, out: JSON) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _fail("tool_choice", "Input should be a valid dictionary", "invalid_type")
    kind = value.get("type")
    if kind == "tool":
        name = value.get("name")
        if not isinstance(name, str) or not name:
            raise _fail("tool_choice.name", "Field required", "missing_required_parameter")
        choice: Any = {"type": "function", "function": {"name": name}}
    elif isinstance(kind, str) and kind in _TOOL_CHOICES:
        choice = _TOOL_CHOICES[kind]
    else:
        raise _fail("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'")
    disable = value.get("disable_parallel_tool_use")
    if disable is not None and not isinstance(disable, bool):
        raise _fail("tool_choice.disable_parallel_tool_use", "Input should be a valid boolean", "invalid_type")
    if not has_tools:
        if kind in ("any", "tool"):
            raise _fail("tool_choice", f"tool_choice of type '{kind}' requires 'tools'")
        return  # auto/none without tools: nothing to choose from (chat upstreams refuse it)
    out["tool_choice"] = choice
    if disable and kind != "none":
        out["parallel_tool_calls"] = False


# -- messages ------------------------------------------------------------------------------------


def _system(value: Any) -> list[JSON]:
    if value is None or value == "":
        return []
    return [{"role": "system", "content": _text_content(value, "system")}]


def _text_content(value: Any, path: str) -> str | list[JSON]:
    """A string or a list of text blocks (system prompts): chat content."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise _fail(path, "Input should be a valid string or list of text blocks", "invalid_type")
    parts = []
    for index, block in enumerate(value):
        block_path = f"{path}.{index}"
        if not isinstance(block, dict):
            raise _fail(block_path, "Input should be a valid dictionary", "invalid_type")
        if block.get("type") != "text":
            raise _fail(f"{block_path}.type", "Input should be 'text'")
        parts.append(_text_part(block, block_path))
    return _simplified(parts)


def _simplified(parts: list[JSON]) -> str | list[JSON]:
    """One plain text part is sent as a string, which every chat server takes."""
    if len(parts) == 1 and parts[0]["type"] == "text" and "cache_control" not in parts[0]:
        return parts[0]["text"]
    return parts


def _messages(value: Any, out: list[JSON]) -> None:
    if value is None:
        raise _fail("messages", "Field required", "missing_required_parameter")
    if not isinstance(value, list):
        raise _fail("messages", "Input should be a valid list", "invalid_type")
    if not value:
        raise _fail("messages", "at least one message is required")
    if len(value) > MAX_MESSAGES:
        raise _fail("messages", f"a request may have at most {MAX_MESSAGES} messages")
    last = len(value) - 1
    for index, message in enumerate(value):
        path = f"messages.{index}"
        if not isinstance(message, dict):
            raise _fail(path, "Input should be a valid dictionary", "invalid_type")
        role = message.get("role")
        content = message.get("content")
        if content is None:
            raise _fail(f"{path}.content", "Field required", "missing_required_parameter")
        if role == "user":
            _user(content, path, out)
        elif role == "assistant":
            _assistant(content, path, out, final=index == last)
        elif role == "system":
            if content != "":
                out.append({"role": "system", "content": _text_content(content, f"{path}.content")})
        else:
            raise _fail(f"{path}.role", "Input should be 'user', 'assistant' or 'system'")


def _blocks(content: Any, path: str) -> list[Any]:
    if not isinstance(content, list):
        raise _fail(f"{path}.content", "Input should be a valid string or list of content blocks", "invalid_type")
    return content


def _plain_text(block: Any) -> JSON | None:
    """The common case, a well-formed text block without a cache breakpoint, without building its
    path; anything else (None) goes through the checking helpers."""
    if type(block) is dict and block.get("type") == "text" and "cache_control" not in block:
        text = block.get("text")
        if type(text) is str and text:
            return {"type": "text", "text": text}
    return None


def _block_type(block: Any, path: str) -> str:
    if not isinstance(block, dict):
        raise _fail(path, "Input should be a valid dictionary", "invalid_type")
    kind = block.get("type")
    if not isinstance(kind, str):
        raise _fail(f"{path}.type", "Field required", "missing_required_parameter")
    return kind


def _user(content: Any, path: str, out: list[JSON]) -> None:
    if isinstance(content, str):
        if not content:
            raise _fail(path, _EMPTY)
        out.append({"role": "user", "content": content})
        return
    blocks = _blocks(content, path)
    if not blocks:
        raise _fail(path, _EMPTY)
    media: list[JSON] = []  # what tool results carry besides text: sent after them, in the user turn
    parts: list[JSON] = []
    for index, block in enumerate(blocks):
        plain = _plain_text(block)
        if plain is not None:
            parts.append(plain)
            continue
        block_path = f"{path}.content.{index}"
        kind = _block_type(block, block_path)
        if kind == "text":
            parts.append(_text_part(block, block_path))
        elif kind == "image":
            parts.append(_image_part(block, block_path))
        elif kind == "document":
            parts.extend(_document_parts(block, block_path))
        elif kind == "tool_result":
            out.append(_tool_result(block, block_path, media))
        elif kind in ("tool_use", "thinking", "redacted_thinking"):
            raise _fail(f"{block_path}.type", f"'{kind}' blocks are only allowed in assistant messages")
        else:
            raise _unsupported(kind, block_path)
    if media or parts:
        out.append({"role": "user", "content": _simplified(media + parts)})


def _assistant(content: Any, path: str, out: list[JSON], *, final: bool) -> None:
    if isinstance(content, str):
        if content:
            out.append({"role": "assistant", "content": content})
        elif not final:
            raise _fail(path, _EMPTY)
        return
    blocks = _blocks(content, path)
    if not blocks and not final:
        raise _fail(path, _EMPTY)
    parts: list[JSON] = []
    calls: list[JSON] = []
    for index, block in enumerate(blocks):
        plain = _plain_text(block)
        if plain is not None:
            parts.append(plain)
            continue
        block_path = f"{path}.content.{index}"
        kind = _block_type(block, block_path)
        if kind == "text":
            parts.append(_text_part(block, block_path))
        elif kind == "tool_use":
            calls.append(_tool_call(block, block_path))
        elif kind == "thinking":
            _require_str(block, "thinking", block_path)
        elif kind == "redacted_thinking":
            _require_str(block, "data", block_path)
        elif kind in ("tool_result", "image", "document"):
            raise _fail(f"{block_path}.type", f"'{kind}' blocks are not allowed in assistant messages")
        else:
            raise _unsupported(kind, block_path)
    if not parts and not calls:
        return  # only thinking (or a final, empty prefill): nothing chat can carry
    message: JSON = {"role": "assistant", "content": _simplified(parts) if parts else None}
    if calls:
        message["tool_calls"] = calls
    out.append(message)


def _unsupported(kind: str, path: str) -> InvalidRequest:
    return _fail(f"{path}.type", f"content block type '{kind}' is not supported by this gateway", "unsupported_value")


# -- content blocks ------------------------------------------------------------------------------


def _require_str(block: JSON, name: str, path: str) -> str:
    value = block.get(name)
    if not isinstance(value, str):
        raise _fail(f"{path}.{name}", "Field required" if value is None else "Input should be a valid string",
                    "missing_required_parameter" if value is None else "invalid_type")
    return value


def _cache(block: JSON, part: JSON, path: str) -> JSON:
    """Keep a block's prompt-caching breakpoint on the chat part (the Anthropic adapter reads it)."""
    marker = block.get("cache_control")
    if marker is None:
        return part
    if not isinstance(marker, dict) or marker.get("type") != "ephemeral" or marker.get("ttl") not in _CACHE_TTLS:
        raise _fail(f"{path}.cache_control", "Input should be {'type': 'ephemeral'} with an optional ttl of '5m' "
                    "or '1h'")
    part["cache_control"] = marker
    return part


def _text_part(block: JSON, path: str) -> JSON:
    text = _require_str(block, "text", path)
    if not text:
        raise _fail(f"{path}.text", "text content blocks must be non-empty")
    return _cache(block, {"type": "text", "text": text}, path)


def _source(block: JSON, path: str) -> tuple[JSON, str]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise _fail(f"{path}.source", "Field required" if source is None else "Input should be a valid dictionary",
                    "missing_required_parameter" if source is None else "invalid_type")
    kind = source.get("type")
    return source, kind if isinstance(kind, str) else ""


def _base64_data(source: JSON, path: str) -> str:
    data = source.get("data")
    if not isinstance(data, str) or not data:
        raise _fail(f"{path}.source.data", "Field required" if data is None else "Input should be a non-empty string",
                    "missing_required_parameter" if data is None else "invalid_type")
    return data


def _no_files(path: str) -> InvalidRequest:
    return _fail(f"{path}.source", "file sources (Anthropic's Files API) are not supported by this gateway; "
                 "send the content inline (base64)", "unsupported_value")


def _image_part(block: JSON, path: str) -> JSON:
    source, kind = _source(block, path)
    if kind == "base64":
        media_type = source.get("media_type")
        if not isinstance(media_type, str) or media_type not in _IMAGE_TYPES:
            raise _fail(f"{path}.source.media_type",
                        "Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'")
        url = f"data:{media_type};base64,{_base64_data(source, path)}"
    elif kind == "url":
        url = source.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise _fail(f"{path}.source.url", "Input should be an http(s) URL")
    elif kind == "file":
        raise _no_files(path)
    else:
        raise _fail(f"{path}.source.type", "Input should be 'base64', 'url' or 'file'")
    return _cache(block, {"type": "image_url", "image_url": {"url": url}}, path)


def _document_parts(block: JSON, path: str) -> list[JSON]:
    source, kind = _source(block, path)
    title = block.get("title")
    if title is not None and not isinstance(title, str):
        raise _fail(f"{path}.title", "Input should be a valid string", "invalid_type")
    if kind == "base64":
        if source.get("media_type") != "application/pdf":
            raise _fail(f"{path}.source.media_type", "Input should be 'application/pdf'")
        data_url = "data:application/pdf;base64," + _base64_data(source, path)
        parts = [{"type": "file", "file": {"filename": title or "document.pdf", "file_data": data_url}}]
    elif kind == "text":
        if source.get("media_type") != "text/plain":
            raise _fail(f"{path}.source.media_type", "Input should be 'text/plain'")
        data = _base64_data(source, path)
        context = block.get("context")
        heading = [piece for piece in (title, context) if isinstance(piece, str) and piece]
        parts = [{"type": "text", "text": "\n\n".join([*heading, data]) if heading else data}]
    elif kind == "content":
        parts = _content_source(source.get("content"), f"{path}.source.content")
    elif kind == "url":
        raise _fail(f"{path}.source", "URL document sources are not supported by this gateway (chat has no "
                    "way to pass a PDF by URL); send the PDF as base64", "unsupported_value")
    elif kind == "file":
        raise _no_files(path)
    else:
        raise _fail(f"{path}.source.type", "Input should be 'base64', 'text', 'content', 'url' or 'file'")
    if parts:
        _cache(block, parts[-1], path)  # the breakpoint ends the document
    return parts


def _content_source(content: Any, path: str) -> list[JSON]:
    if isinstance(content, str):
        if not content:
            raise _fail(path, "text content blocks must be non-empty")
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not content:
        raise _fail(path, "Input should be a string or a non-empty list of text and image blocks", "invalid_type")
    parts = []
    for index, block in enumerate(content):
        block_path = f"{path}.{index}"
        kind = _block_type(block, block_path)
        if kind == "text":
            parts.append(_text_part(block, block_path))
        elif kind == "image":
            parts.append(_image_part(block, block_path))
        else:
            raise _fail(f"{block_path}.type", "Input should be 'text' or 'image'")
    return parts


def _tool_call(block: JSON, path: str) -> JSON:
    call_id = _require_str(block, "id", path)
    name = _require_str(block, "name", path)
    if not call_id or not name:
        raise _fail(f"{path}.{'name' if call_id else 'id'}", "Input should be a non-empty string")
    arguments = block.get("input")
    if not isinstance(arguments, dict):
        raise _fail(f"{path}.input", "Field required" if arguments is None else "Input should be a valid dictionary",
                    "missing_required_parameter" if arguments is None else "invalid_type")
    try:
        dumped = orjson.dumps(arguments).decode()
    except orjson.JSONEncodeError as exc:  # too deep, or numbers beyond 64 bits
        raise _fail(f"{path}.input", f"Input cannot be encoded as JSON ({exc})") from exc
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": dumped}}


def _tool_result(block: JSON, path: str, media: list[JSON]) -> JSON:
    """A `tool_result` -> a chat `tool` message; its images/documents go to `media`."""
    call_id = _require_str(block, "tool_use_id", path)
    if not call_id:
        raise _fail(f"{path}.tool_use_id", "Input should be a non-empty string")
    is_error = block.get("is_error")
    if is_error is not None and not isinstance(is_error, bool):
        raise _fail(f"{path}.is_error", "Input should be a valid boolean", "invalid_type")
    content = block.get("content")
    texts: list[JSON] = []
    if isinstance(content, str):
        if content:
            texts.append({"type": "text", "text": content})
    elif isinstance(content, list):
        for index, item in enumerate(content):
            item_path = f"{path}.content.{index}"
            kind = _block_type(item, item_path)
            if kind == "text":
                texts.append(_text_part(item, item_path))
            elif kind == "image":
                media.append(_image_part(item, item_path))
            elif kind == "document":
                media.extend(_document_parts(item, item_path))
            else:
                raise _fail(f"{item_path}.type", f"tool_result content of type '{kind}' is not supported by this "
                            "gateway (text, image and document are)", "unsupported_value")
    elif content is not None:
        raise _fail(f"{path}.content", "Input should be a valid string or list of content blocks", "invalid_type")
    if is_error:
        if texts:
            texts[0] = {**texts[0], "text": "Error: " + texts[0]["text"]}
        else:
            texts.append({"type": "text", "text": "Error"})
    if block.get("cache_control") is not None:
        if not texts:
            texts.append({"type": "text", "text": ""})
        _cache(block, texts[-1], path)
    # text parts join into one string (what every chat server takes) unless a cache breakpoint sits on one
    cached = any("cache_control" in part for part in texts)
    body: str | list[JSON] = texts if cached else "".join(part["text"] for part in texts)
    return {"role": "tool", "tool_call_id": call_id, "content": body}
