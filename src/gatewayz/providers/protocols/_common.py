"""Helpers shared by every protocol translator: OpenAI response shapes and content-part parsing.

Each upstream translator produces the same OpenAI objects, so building them in one place keeps
the field set (and the ``usage: null`` convention of streams) identical across providers.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any
from urllib.parse import unquote_to_bytes

JSONDict = dict[str, Any]


def new_id(prefix: str) -> str:
    """A random id in the style OpenAI uses (``chatcmpl-…``, ``call_…``)."""
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def now() -> int:
    """Unix seconds, the unit of OpenAI's ``created``."""
    return int(time.time())


def parse_data_url(url: str) -> tuple[str, str] | None:
    """Split a ``data:`` URL into (media type, base64 payload); None for any other URL.

    Upstreams take inline bytes as base64 plus a separate media type, while OpenAI clients pack
    both into one data URL. Non-base64 data URLs are percent-decoded and re-encoded.
    """
    if not url.startswith("data:") or "," not in url:
        return None
    header, payload = url[5:].split(",", 1)
    params = header.split(";")
    media_type = params[0].strip().lower() or "text/plain"
    if "base64" in (p.strip().lower() for p in params[1:]):
        return media_type, payload.strip()
    return media_type, base64.b64encode(unquote_to_bytes(payload)).decode("ascii")


def is_http_url(url: str) -> bool:
    """True for URLs an upstream can fetch itself."""
    return url.startswith(("http://", "https://"))


def parse_tool_arguments(raw: Any) -> JSONDict:
    """OpenAI's ``function.arguments`` JSON string → the object upstreams require.

    Models occasionally emit truncated or non-object JSON; rather than failing the whole
    conversation replay we keep the text under ``_raw`` so nothing is silently lost.
    """
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    text = raw if isinstance(raw, str) else str(raw)
    try:
        parsed = json.loads(text)
    except ValueError:
        return {"_raw": text}
    return parsed if isinstance(parsed, dict) else {"_raw": text}


def dump_arguments(args: Any) -> str:
    """Tool input object → the compact JSON string OpenAI puts in ``function.arguments``."""
    return json.dumps(args if args is not None else {}, ensure_ascii=False, separators=(",", ":"))


def text_of(content: Any) -> str:
    """Plain text of a message ``content`` (string or content-part array); non-text parts dropped.

    Used where the target has no room for anything but text (system prompts, tool results).
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "".join(t for t in texts if isinstance(t, str))
    return str(content)


def content_parts(content: Any) -> list[JSONDict]:
    """Normalise a message ``content`` into a list of OpenAI content parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return [p for p in content if isinstance(p, dict)]
    return [{"type": "text", "text": str(content)}]


def image_url_of(part: JSONDict) -> str:
    """The URL of an ``image_url`` part, which clients send as an object or (legacy) a string."""
    image = part.get("image_url")
    if isinstance(image, dict):
        return str(image.get("url") or "")
    return str(image or "")


def openai_usage(
    prompt_tokens: int,
    completion_tokens: int,
    *,
    cached_tokens: int = 0,
    reasoning_tokens: int | None = None,
    total_tokens: int | None = None,
) -> JSONDict:
    """An OpenAI ``usage`` object; ``prompt_tokens`` must already include cached tokens."""
    usage: JSONDict = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": total_tokens if total_tokens is not None else prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached_tokens},
    }
    if reasoning_tokens is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return usage


def completion_object(
    *, id: str, model: str, created: int, choices: list[JSONDict], usage: JSONDict | None
) -> JSONDict:
    """A non-streaming ``chat.completion`` object."""
    body: JSONDict = {
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
    }
    if usage is not None:
        body["usage"] = usage
    return body


def chunk_object(
    *,
    id: str,
    model: str,
    created: int,
    choices: list[JSONDict],
    include_usage: bool,
    usage: JSONDict | None = None,
) -> JSONDict:
    """A ``chat.completion.chunk``.

    With ``stream_options.include_usage`` OpenAI sends ``"usage": null`` on every chunk except
    the final usage-only one; mirroring that keeps strict client parsers happy.
    """
    body: JSONDict = {
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": choices,
    }
    if include_usage or usage is not None:
        body["usage"] = usage
    return body


def usage_chunk(*, id: str, model: str, created: int, usage: JSONDict) -> JSONDict:
    """The final ``stream_options.include_usage`` chunk: no choices, just the bill."""
    return chunk_object(id=id, model=model, created=created, choices=[], include_usage=True, usage=usage)


def chunk_choice(index: int, delta: JSONDict, finish_reason: str | None = None) -> JSONDict:
    """One entry of a chunk's ``choices``."""
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


def int_field(data: Any, key: str) -> int:
    """An integer counter from a possibly-junk usage mapping (absent/null/non-int → 0)."""
    if not isinstance(data, dict):
        return 0
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
