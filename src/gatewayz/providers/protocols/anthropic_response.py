"""Anthropic Messages responses → OpenAI ``chat.completion`` objects.

Also home of the stop-reason and usage mappings, which the stream translator shares so that a
streamed and a non-streamed call to the same model report identical finish reasons and bills.
"""

from __future__ import annotations

from typing import Any

from ._common import JSONDict, completion_object, dump_arguments, int_field, new_id, now, openai_usage

_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason_from_anthropic(stop_reason: Any) -> str | None:
    """Anthropic ``stop_reason`` → OpenAI ``finish_reason`` (unknown non-null reasons → ``stop``)."""
    if not isinstance(stop_reason, str) or not stop_reason:
        return None
    return _FINISH_REASONS.get(stop_reason, "stop")


def usage_from_anthropic(usage: Any) -> JSONDict:
    """Anthropic ``usage`` → OpenAI ``usage``.

    Anthropic's ``input_tokens`` excludes cache reads and cache writes, while OpenAI's
    ``prompt_tokens`` is the whole prompt; adding them back keeps billing and context-size
    accounting consistent with every other upstream.
    """
    cache_read = int_field(usage, "cache_read_input_tokens")
    cache_write = int_field(usage, "cache_creation_input_tokens")
    prompt = int_field(usage, "input_tokens") + cache_read + cache_write
    return openai_usage(prompt, int_field(usage, "output_tokens"), cached_tokens=cache_read)


def message_from_blocks(content: Any) -> JSONDict:
    """Anthropic content blocks → an OpenAI assistant message.

    Text blocks are joined; ``content`` is None when the model only called tools, as OpenAI
    does. Extended-thinking text is surfaced as ``reasoning_content`` (the de-facto field other
    OpenAI-compatible servers use) instead of being mixed into the answer.
    """
    blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
    texts = [str(b.get("text") or "") for b in blocks if b.get("type") == "text"]
    thinking = [str(b.get("thinking") or "") for b in blocks if b.get("type") == "thinking"]
    tool_calls = [
        {
            "id": str(b.get("id") or new_id("call_")),
            "type": "function",
            "function": {"name": str(b.get("name") or ""), "arguments": dump_arguments(b.get("input"))},
        }
        for b in blocks
        if b.get("type") == "tool_use"
    ]
    message: JSONDict = {
        "role": "assistant",
        "content": "".join(texts) if texts or not tool_calls else None,
    }
    if thinking:
        message["reasoning_content"] = "".join(thinking)
    if tool_calls:
        message["tool_calls"] = tool_calls
    return message


def from_anthropic_response(data: JSONDict, *, model: str) -> JSONDict:
    """A Messages API response → an OpenAI ``chat.completion`` reported under ``model``.

    ``model`` is the name the client asked for, not Anthropic's id, so clients see the alias
    they routed on. The Anthropic message id is kept for support/debug traceability.
    """
    choice = {
        "index": 0,
        "message": message_from_blocks(data.get("content")),
        "logprobs": None,
        "finish_reason": finish_reason_from_anthropic(data.get("stop_reason")) or "stop",
    }
    message_id = data.get("id")
    return completion_object(
        id=message_id if isinstance(message_id, str) and message_id else new_id("chatcmpl-"),
        model=model,
        created=now(),
        choices=[choice],
        usage=usage_from_anthropic(data.get("usage")),
    )
