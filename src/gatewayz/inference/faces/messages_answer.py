"""A finished `chat.completion` -> an Anthropic Message (the non-streaming POST /v1/messages answer).

Content blocks come in Anthropic's order: thinking (from `reasoning_content`, else `reasoning`),
text (then a refusal's text), tool_use. Chat has no thinking signature, so `signature` is ""
(the SDK requires the field; such a block cannot be verified if sent back to Anthropic itself,
and the gateway's own request translator drops thinking blocks). Tool call `arguments` that are
not a JSON object become `{"_raw": "<the text>"}` (empty ones `{}`), as the Anthropic upstream
translator does the other way, so nothing the model produced is lost.

`stop_sequence` stays null and a chat `stop` is `end_turn`: chat does not say whether (or which)
stop sequence matched.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from .base import JSON, FaceContext

_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def _count(data: Any, key: str) -> int:
    if not isinstance(data, dict):
        return 0
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def anthropic_usage(chat_usage: JSON | None) -> JSON:
    """Chat usage -> Anthropic usage.

    Anthropic's `input_tokens` excludes cache reads and writes, chat's `prompt_tokens` includes
    them: reads are `prompt_tokens_details.cached_tokens`, writes (when the upstream says, as
    OpenRouter does) `prompt_tokens_details.cache_write_tokens`. The TTL breakdown
    (`cache_creation`) is known only when nothing was written. `cost` (the gateway's, USD) is kept.
    """
    usage = chat_usage if isinstance(chat_usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    read = _count(details, "cached_tokens")
    written = _count(details, "cache_write_tokens")
    out: JSON = {
        "input_tokens": max(_count(usage, "prompt_tokens") - read - written, 0),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
        "cache_creation": None if written else {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": _count(usage, "completion_tokens"),
        "service_tier": None,
    }
    completion_details = usage.get("completion_tokens_details")
    if isinstance(completion_details, dict) and "reasoning_tokens" in completion_details:
        out["output_tokens_details"] = {"thinking_tokens": _count(completion_details, "reasoning_tokens")}
    cost = usage.get("cost")
    if cost is not None:
        out["cost"] = cost
    return out


def new_tool_id() -> str:
    """An id for a tool call the upstream did not name, in Anthropic's style."""
    return "toolu_" + uuid.uuid4().hex[:24]


def tool_input(arguments: Any) -> JSON:
    """Chat `function.arguments` (a JSON string) -> the object a tool_use `input` must be."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"_raw": arguments}
    return parsed if isinstance(parsed, dict) else {"_raw": arguments}


def stop_reason(finish_reason: Any, *, tool_use: bool = False, refused: bool = False) -> str:
    """Chat `finish_reason` -> Anthropic `stop_reason` (a tool call that ended the turn is tool_use,
    whatever the upstream's finish reason said, as Anthropic reports it)."""
    if refused:
        return "refusal"
    reason = _STOP_REASONS.get(finish_reason, "end_turn") if isinstance(finish_reason, str) else "end_turn"
    return "tool_use" if tool_use and reason == "end_turn" else reason


def reasoning_text(message: JSON) -> str:
    """The reasoning a chat message or delta carries: `reasoning_content` (DeepSeek, vLLM, the
    gateway's Anthropic translator) or `reasoning` (OpenRouter); never both, which would repeat it."""
    text = message.get("reasoning_content")
    if not isinstance(text, str) or not text:
        text = message.get("reasoning")
    return text if isinstance(text, str) else ""


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts (some servers answer that way)
        return "".join(
            part["text"] for part in content
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        )
    return ""


def render_message(completion: JSON, ctx: FaceContext) -> JSON:
    """A normalised chat.completion -> an Anthropic `Message` answering under the client's model."""
    choices = completion.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = choice.get("message")
    if not isinstance(message, dict):
        message = {}
    content: list[JSON] = []
    thinking = reasoning_text(message)
    if thinking:
        content.append({"type": "thinking", "thinking": thinking, "signature": ""})
    text = _text(message.get("content"))
    if text:
        content.append({"type": "text", "text": text})
    refusal = message.get("refusal")
    refused = isinstance(refusal, str) and bool(refusal)
    if refused:
        content.append({"type": "text", "text": refusal})
    calls = message.get("tool_calls")
    tool_use = False
    if isinstance(calls, list):
        for call in calls:
            if not isinstance(call, dict):
                continue
            function = call.get("function")
            if not isinstance(function, dict):
                function = {}
            call_id, name = call.get("id"), function.get("name")
            content.append({
                "type": "tool_use",
                "id": call_id if isinstance(call_id, str) and call_id else new_tool_id(),
                "name": name if isinstance(name, str) else "",
                "input": tool_input(function.get("arguments")),
            })
            tool_use = True
    return {
        "id": ctx.response_id,
        "type": "message",
        "role": "assistant",
        "model": ctx.model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason"), tool_use=tool_use, refused=refused),
        "stop_sequence": None,
        "usage": anthropic_usage(completion.get("usage")),
    }
