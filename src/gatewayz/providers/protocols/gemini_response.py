"""Gemini ``GenerateContentResponse`` → OpenAI ``chat.completion`` objects.

Holds the finish-reason, usage and part mappings shared with the stream translator, so both
paths agree on what a Gemini answer means in OpenAI terms.
"""

from __future__ import annotations

from typing import Any

from ._common import JSONDict, completion_object, dump_arguments, int_field, new_id, now, openai_usage

_CONTENT_FILTER = "content_filter"
_FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": _CONTENT_FILTER,
    "RECITATION": _CONTENT_FILTER,
    "BLOCKLIST": _CONTENT_FILTER,
    "PROHIBITED_CONTENT": _CONTENT_FILTER,
    "SPII": _CONTENT_FILTER,
    "IMAGE_SAFETY": _CONTENT_FILTER,
}


def finish_reason_from_gemini(reason: Any, *, has_tool_calls: bool) -> str | None:
    """Gemini ``finishReason`` → OpenAI ``finish_reason``; None while the candidate is unfinished.

    Gemini reports ``STOP`` even when it answered with function calls, while OpenAI clients
    loop on ``tool_calls``, so that case is rewritten. Reasons with no OpenAI counterpart
    (``OTHER``, ``LANGUAGE``, ``MALFORMED_FUNCTION_CALL`` …) become ``stop``.
    """
    if not isinstance(reason, str) or not reason or reason == "FINISH_REASON_UNSPECIFIED":
        return None
    mapped = _FINISH_REASONS.get(reason, "stop")
    return "tool_calls" if mapped == "stop" and has_tool_calls else mapped


def usage_from_gemini(meta: Any) -> JSONDict | None:
    """``usageMetadata`` → OpenAI ``usage`` (None when Gemini sent none).

    ``promptTokenCount`` already includes cached tokens, matching OpenAI's ``prompt_tokens``.
    Thinking tokens are billed as output, so they are added to ``completion_tokens`` and also
    reported as ``reasoning_tokens`` as OpenAI does for its reasoning models.
    """
    if not isinstance(meta, dict) or not meta:
        return None
    prompt = int_field(meta, "promptTokenCount") + int_field(meta, "toolUsePromptTokenCount")
    thoughts = int_field(meta, "thoughtsTokenCount")
    completion = int_field(meta, "candidatesTokenCount") + thoughts
    total = int_field(meta, "totalTokenCount") or None
    return openai_usage(
        prompt,
        completion,
        cached_tokens=int_field(meta, "cachedContentTokenCount"),
        reasoning_tokens=thoughts if "thoughtsTokenCount" in meta else None,
        total_tokens=total,
    )


def tool_call_from_part(function_call: JSONDict) -> JSONDict:
    """A ``functionCall`` part → an OpenAI tool call.

    Gemini usually sends no call id, so one is minted: OpenAI clients need it to pair the
    ``tool`` result, and the request translator maps it back to the function name.
    """
    call_id = function_call.get("id")
    return {
        "id": call_id if isinstance(call_id, str) and call_id else new_id("call_"),
        "type": "function",
        "function": {
            "name": str(function_call.get("name") or ""),
            "arguments": dump_arguments(function_call.get("args")),
        },
    }


def candidate_parts(candidate: Any) -> list[JSONDict]:
    """The ``content.parts`` of a candidate, tolerating the absent content of blocked output."""
    content = candidate.get("content") if isinstance(candidate, dict) else None
    parts = content.get("parts") if isinstance(content, dict) else None
    return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []


def message_from_parts(parts: list[JSONDict]) -> JSONDict:
    """Candidate parts → an OpenAI assistant message (``thought`` parts → ``reasoning_content``)."""
    texts = [str(p["text"]) for p in parts if "text" in p and not p.get("thought")]
    thoughts = [str(p["text"]) for p in parts if "text" in p and p.get("thought")]
    tool_calls = [tool_call_from_part(p["functionCall"]) for p in parts if isinstance(p.get("functionCall"), dict)]
    message: JSONDict = {"role": "assistant", "content": "".join(texts) if texts or not tool_calls else None}
    if thoughts:
        message["reasoning_content"] = "".join(thoughts)
    if tool_calls:
        message["tool_calls"] = tool_calls
    return message


def _choice(position: int, candidate: JSONDict) -> JSONDict:
    message = message_from_parts(candidate_parts(candidate))
    reason = finish_reason_from_gemini(candidate.get("finishReason"), has_tool_calls="tool_calls" in message)
    index = candidate.get("index")
    return {
        "index": index if isinstance(index, int) else position,
        "message": message,
        "logprobs": None,
        "finish_reason": reason or "stop",
    }


def _blocked_choice() -> JSONDict:
    """The single choice reported when Gemini blocked the prompt and returned no candidates."""
    message = {"role": "assistant", "content": None}
    return {"index": 0, "message": message, "logprobs": None, "finish_reason": _CONTENT_FILTER}


def from_gemini_response(data: JSONDict, *, model: str) -> JSONDict:
    """A ``generateContent`` response → an OpenAI ``chat.completion`` reported under ``model``.

    Each candidate becomes one choice (``candidateCount`` is how ``n`` is implemented).
    """
    candidates = [c for c in data.get("candidates") or [] if isinstance(c, dict)]
    choices = [_choice(i, c) for i, c in enumerate(candidates)]
    if not choices:
        feedback = data.get("promptFeedback")
        blocked = isinstance(feedback, dict) and feedback.get("blockReason")
        choices = [_blocked_choice() if blocked else {**_blocked_choice(), "finish_reason": "stop"}]
    response_id = data.get("responseId")
    return completion_object(
        id=response_id if isinstance(response_id, str) and response_id else new_id("chatcmpl-"),
        model=model,
        created=now(),
        choices=choices,
        usage=usage_from_gemini(data.get("usageMetadata")),
    )
