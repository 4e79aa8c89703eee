"""Anthropic Messages content blocks -> Chat Completions content parts (and tool calls/messages).

- `text` -> text part; `cache_control` (Anthropic's prompt-caching breakpoint) stays on the part,
  where the Anthropic adapter reads it back.
- `image` -> `image_url` part (base64 -> data URL, url -> url).
- `document` -> a chat `file` part (base64 PDF, as a data URL) or text parts (text/content
  sources); URL documents and Files API sources cannot be expressed in chat: 400.
- `tool_use` -> a chat tool call (id kept, `input` as the JSON `arguments`).
- `tool_result` -> a `tool` message: its text as one string unless a part carries
  `cache_control`, an `is_error` result's text prefixed with "Error: "; its images and documents
  go to the caller's `media` list, since chat tool messages carry text only.

Each helper takes the block and its dotted path (`messages.1.content.0`) for error messages.
No copies: `cache_control` objects are reused as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from gatewayz.errors import InvalidRequest
from gatewayz.inference.faces.messages_checks import (
    bad_field,
    fail,
    field_missing,
    require_str,
    wrong_type,
)
from gatewayz.providers.protocols._common import is_http_url

JSON = dict[str, Any]

_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_CACHE_TTLS = (None, "5m", "1h")


def plain_text(block: Any) -> JSON | None:
    """The common case, a well-formed text block without a cache breakpoint, without building its
    path; anything else (None) goes through the checking helpers."""
    if type(block) is dict and block.get("type") == "text" and "cache_control" not in block:
        text = block.get("text")
        if type(text) is str and text:
            return {"type": "text", "text": text}
    return None


def block_type(block: Any, path: str) -> str:
    if not isinstance(block, dict):
        raise wrong_type(path, "a valid dictionary")
    kind = block.get("type")
    if not isinstance(kind, str):
        raise field_missing(f"{path}.type")
    return kind


def typed_blocks(content: list[Any], path: str) -> Iterator[tuple[str, Any, str]]:
    """Each block of a content list as (its type, the block, its path). A plain text block comes as
    ("plain", its chat part, ""): no path is built for it (see `plain_text`)."""
    for position, block in enumerate(content):
        plain = plain_text(block)
        if plain is not None:
            yield "plain", plain, ""
            continue
        block_path = f"{path}.{position}"
        yield block_type(block, block_path), block, block_path


def unsupported(kind: str, path: str) -> InvalidRequest:
    return fail(f"{path}.type", f"content block type '{kind}' is not supported by this gateway", "unsupported_value")


def simplified(parts: list[JSON]) -> str | list[JSON]:
    """One plain text part is sent as a string, which every chat server takes."""
    if len(parts) == 1 and parts[0]["type"] == "text" and "cache_control" not in parts[0]:
        return parts[0]["text"]
    return parts


def text_content(value: Any, path: str) -> str | list[JSON]:
    """A string or a list of text blocks (system prompts): chat content."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise wrong_type(path, "a valid string or list of text blocks")
    parts = []
    for index, block in enumerate(value):
        block_path = f"{path}.{index}"
        if not isinstance(block, dict):
            raise wrong_type(block_path, "a valid dictionary")
        if block.get("type") != "text":
            raise fail(f"{block_path}.type", "Input should be 'text'")
        parts.append(text_part(block, block_path))
    return simplified(parts)


def _cache(block: JSON, part: JSON, path: str) -> JSON:
    """Keep a block's prompt-caching breakpoint on the chat part (the Anthropic adapter reads it)."""
    marker = block.get("cache_control")
    if marker is None:
        return part
    if not isinstance(marker, dict) or marker.get("type") != "ephemeral" or marker.get("ttl") not in _CACHE_TTLS:
        raise fail(
            f"{path}.cache_control", "Input should be {'type': 'ephemeral'} with an optional ttl of '5m' or '1h'"
        )
    part["cache_control"] = marker
    return part


def text_part(block: JSON, path: str) -> JSON:
    text = require_str(block, "text", path)
    if not text:
        raise fail(f"{path}.text", "text content blocks must be non-empty")
    return _cache(block, {"type": "text", "text": text}, path)


def _source(block: JSON, path: str) -> tuple[JSON, str]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise bad_field(f"{path}.source", source, "a valid dictionary")
    kind = source.get("type")
    return source, kind if isinstance(kind, str) else ""


def content_parts(kind: str, block: JSON, path: str) -> list[JSON]:
    """A `text`, `image` or `document` block (of type `kind`) as chat content parts (a document may
    give several); another type is unsupported."""
    if kind == "text":
        return [text_part(block, path)]
    if kind == "image":
        return [image_part(block, path)]
    if kind == "document":
        return document_parts(block, path)
    raise unsupported(kind, path)


def _base64_data(source: JSON, path: str) -> str:
    data = source.get("data")
    if not isinstance(data, str) or not data:
        raise bad_field(f"{path}.source.data", data, "a non-empty string")
    return data


def _no_files(path: str) -> InvalidRequest:
    return fail(
        f"{path}.source",
        "file sources (Anthropic's Files API) are not supported by this gateway; send the content inline (base64)",
        "unsupported_value",
    )


def image_part(block: JSON, path: str) -> JSON:
    source, kind = _source(block, path)
    if kind == "base64":
        media_type = source.get("media_type")
        if not isinstance(media_type, str) or media_type not in _IMAGE_TYPES:
            raise fail(
                f"{path}.source.media_type", "Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
            )
        url = f"data:{media_type};base64,{_base64_data(source, path)}"
    elif kind == "url":
        url = source.get("url")
        if not isinstance(url, str) or not is_http_url(url):
            raise fail(f"{path}.source.url", "Input should be an http(s) URL")
    elif kind == "file":
        raise _no_files(path)
    else:
        raise fail(f"{path}.source.type", "Input should be 'base64', 'url' or 'file'")
    return _cache(block, {"type": "image_url", "image_url": {"url": url}}, path)


def document_parts(block: JSON, path: str) -> list[JSON]:
    source, kind = _source(block, path)
    title = block.get("title")
    if title is not None and not isinstance(title, str):
        raise wrong_type(f"{path}.title", "a valid string")
    if kind == "base64":
        if source.get("media_type") != "application/pdf":
            raise fail(f"{path}.source.media_type", "Input should be 'application/pdf'")
        data_url = "data:application/pdf;base64," + _base64_data(source, path)
        parts = [{"type": "file", "file": {"filename": title or "document.pdf", "file_data": data_url}}]
    elif kind == "text":
        if source.get("media_type") != "text/plain":
            raise fail(f"{path}.source.media_type", "Input should be 'text/plain'")
        data = _base64_data(source, path)
        context = block.get("context")
        heading = [piece for piece in (title, context) if isinstance(piece, str) and piece]
        parts = [{"type": "text", "text": "\n\n".join([*heading, data]) if heading else data}]
    elif kind == "content":
        parts = _content_source(source.get("content"), f"{path}.source.content")
    elif kind == "url":
        raise fail(
            f"{path}.source",
            "URL document sources are not supported by this gateway (chat has no "
            "way to pass a PDF by URL); send the PDF as base64",
            "unsupported_value",
        )
    elif kind == "file":
        raise _no_files(path)
    else:
        raise fail(f"{path}.source.type", "Input should be 'base64', 'text', 'content', 'url' or 'file'")
    if parts:
        _cache(block, parts[-1], path)  # the breakpoint ends the document
    return parts


def _content_source(content: Any, path: str) -> list[JSON]:
    if isinstance(content, str):
        if not content:
            raise fail(path, "text content blocks must be non-empty")
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not content:
        raise wrong_type(path, "a string or a non-empty list of text and image blocks")
    parts = []
    for kind, block, block_path in typed_blocks(content, path):
        if kind == "plain":
            parts.append(block)
        elif kind == "text" or kind == "image":
            parts.extend(content_parts(kind, block, block_path))
        else:
            raise fail(f"{block_path}.type", "Input should be 'text' or 'image'")
    return parts


def tool_call(block: JSON, path: str) -> JSON:
    call_id = require_str(block, "id", path)
    name = require_str(block, "name", path)
    if not call_id or not name:
        raise fail(f"{path}.{'name' if call_id else 'id'}", "Input should be a non-empty string")
    arguments = block.get("input")
    if not isinstance(arguments, dict):
        raise bad_field(f"{path}.input", arguments, "a valid dictionary")
    try:
        dumped = orjson.dumps(arguments).decode()
    except orjson.JSONEncodeError as exc:  # too deep, or numbers beyond 64 bits
        raise fail(f"{path}.input", f"Input cannot be encoded as JSON ({exc})") from exc
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": dumped}}


def tool_result(block: JSON, path: str, media: list[JSON]) -> JSON:
    """A `tool_result` -> a chat `tool` message; its images/documents go to `media`."""
    call_id = require_str(block, "tool_use_id", path)
    if not call_id:
        raise fail(f"{path}.tool_use_id", "Input should be a non-empty string")
    is_error = block.get("is_error")
    if is_error is not None and not isinstance(is_error, bool):
        raise wrong_type(f"{path}.is_error", "a valid boolean")
    content = block.get("content")
    if type(content) is str and not is_error and block.get("cache_control") is None:
        return {"role": "tool", "tool_call_id": call_id, "content": content}  # the common case, as below
    texts: list[JSON] = []
    if isinstance(content, str):
        if content:
            texts.append({"type": "text", "text": content})
    elif isinstance(content, list):
        for kind, item, item_path in typed_blocks(content, f"{path}.content"):
            if kind == "plain":
                texts.append(item)
            elif kind == "text":
                texts.append(text_part(item, item_path))
            elif kind == "image" or kind == "document":
                media.extend(content_parts(kind, item, item_path))
            else:
                raise fail(
                    f"{item_path}.type",
                    f"tool_result content of type '{kind}' is not supported by this "
                    "gateway (text, image and document are)",
                    "unsupported_value",
                )
    elif content is not None:
        raise wrong_type(f"{path}.content", "a valid string or list of content blocks")
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
