"""Anthropic `system` and `messages` -> Chat Completions messages.

- `system` (string or text blocks) -> a leading system message; `system`-role messages (the
  SDK's `SystemMessageParam`) -> system messages in place.
- A user turn's `tool_result` blocks become `tool` messages ahead of the rest of the turn; what
  they carry besides text (images, documents) follows them in the user message.
- An assistant turn's `tool_use` blocks become `tool_calls`; `thinking`/`redacted_thinking` are
  dropped: chat has no standard input field for them and several upstreams reject
  `reasoning_content` in requests (Anthropic itself strips earlier turns' thinking).
- Content must be non-empty except in the final assistant message (a prefill), as Anthropic says.

Most turns are plain text: `_text_turn` converts those in one pass, and no `messages.3.content.0`
path (which only an error message needs) is built for a plain text block: a turn is passed on by
its index, and a block's path is made when the block is something else, or wrong.
"""

from __future__ import annotations

from typing import Any

from gatewayz.inference.faces.messages_blocks import (
    content_parts,
    plain_text,
    simplified,
    text_content,
    text_part,
    tool_call,
    tool_result,
    typed_blocks,
    unsupported,
)
from gatewayz.inference.faces.messages_checks import fail, field_missing, require_str, wrong_type

JSON = dict[str, Any]

MAX_MESSAGES = 100_000  # Anthropic's limit per request
_EMPTY = "all messages must have non-empty content except for the optional final assistant message"
_CONTENT = "a valid string or list of content blocks"


def system_messages(value: Any) -> list[JSON]:
    """The chat messages of a top-level `system` prompt: none, or one system message."""
    if value is None or value == "":
        return []
    return [{"role": "system", "content": text_content(value, "system")}]


def add_messages(value: Any, out: list[JSON]) -> None:
    """Check the `messages` array and append its chat messages to `out`."""
    if value is None:
        raise field_missing("messages")
    if not isinstance(value, list):
        raise wrong_type("messages", "a valid list")
    if not value:
        raise fail("messages", "at least one message is required")
    if len(value) > MAX_MESSAGES:
        raise fail("messages", f"a request may have at most {MAX_MESSAGES} messages")
    last = len(value) - 1
    for index, message in enumerate(value):
        plain = _text_turn(message)
        if plain is not None:
            out.append(plain)
            continue
        if not isinstance(message, dict):
            raise wrong_type(f"messages.{index}", "a valid dictionary")
        role = message.get("role")
        content = message.get("content")
        if content is None:
            raise field_missing(f"messages.{index}.content")
        if role == "user":
            _user(content, index, out)
        elif role == "assistant":
            _assistant(content, index, out, final=index == last)
        elif role == "system":
            if content != "":
                out.append({"role": "system", "content": text_content(content, f"messages.{index}.content")})
        else:
            raise fail(f"messages.{index}.role", "Input should be 'user', 'assistant' or 'system'")


def _text_turn(message: Any) -> JSON | None:
    """The common case, a user or assistant turn of non-empty text (a string, or text blocks
    without cache breakpoints), as a chat message; anything else (None) goes through `_user` or
    `_assistant`, which give the same result for what this accepts."""
    if type(message) is not dict:
        return None
    role = message.get("role")
    if role != "user" and role != "assistant":
        return None
    content = message.get("content")
    if type(content) is str:
        return {"role": role, "content": content} if content else None
    if type(content) is not list or not content:
        return None
    parts = []
    for block in content:
        part = plain_text(block)
        if part is None:
            return None
        parts.append(part)
    return {"role": role, "content": parts[0]["text"] if len(parts) == 1 else parts}


def _user(content: Any, index: int, out: list[JSON]) -> None:
    if isinstance(content, str):
        if not content:
            raise fail(f"messages.{index}", _EMPTY)
        out.append({"role": "user", "content": content})
        return
    if not isinstance(content, list):
        raise wrong_type(f"messages.{index}.content", _CONTENT)
    if not content:
        raise fail(f"messages.{index}", _EMPTY)
    media: list[JSON] = []  # what tool results carry besides text: sent after them, in the user turn
    parts: list[JSON] = []
    for kind, block, block_path in typed_blocks(content, f"messages.{index}.content"):
        if kind == "plain":
            parts.append(block)
        elif kind == "tool_result":
            out.append(tool_result(block, block_path, media))
        elif kind in ("tool_use", "thinking", "redacted_thinking"):
            raise fail(f"{block_path}.type", f"'{kind}' blocks are only allowed in assistant messages")
        else:
            parts.extend(content_parts(kind, block, block_path))
    if media or parts:
        out.append({"role": "user", "content": simplified(media + parts)})


def _assistant(content: Any, index: int, out: list[JSON], *, final: bool) -> None:
    if isinstance(content, str):
        if content:
            out.append({"role": "assistant", "content": content})
        elif not final:
            raise fail(f"messages.{index}", _EMPTY)
        return
    if not isinstance(content, list):
        raise wrong_type(f"messages.{index}.content", _CONTENT)
    if not content and not final:
        raise fail(f"messages.{index}", _EMPTY)
    parts: list[JSON] = []
    calls: list[JSON] = []
    for kind, block, block_path in typed_blocks(content, f"messages.{index}.content"):
        if kind == "plain":
            parts.append(block)
        elif kind == "text":
            parts.append(text_part(block, block_path))
        elif kind == "tool_use":
            calls.append(tool_call(block, block_path))
        elif kind == "thinking":
            require_str(block, "thinking", block_path)
        elif kind == "redacted_thinking":
            require_str(block, "data", block_path)
        elif kind in ("tool_result", "image", "document"):
            raise fail(f"{block_path}.type", f"'{kind}' blocks are not allowed in assistant messages")
        else:
            raise unsupported(kind, block_path)
    if not parts and not calls:
        return  # only thinking (or a final, empty prefill): nothing chat can carry
    message: JSON = {"role": "assistant", "content": simplified(parts) if parts else None}
    if calls:
        message["tool_calls"] = calls
    out.append(message)
