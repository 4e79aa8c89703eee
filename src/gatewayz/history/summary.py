"""The summary request for the trimmed-away start of a conversation (pure: the service runs it)."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]
INSTRUCTIONS = (
    "You summarise the earlier part of a conversation for the assistant that continues it. Keep the "
    "facts, decisions, names, numbers, code identifiers, open questions and the user's stated "
    "preferences; drop pleasantries. Write at most 300 words, in the conversation's language."
)
MAX_SUMMARY_TOKENS = 600
SANDBOX_MODEL = "sandbox/chat-mini"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    parts.append(part["text"])
                elif part.get("type") in ("image_url", "input_image"):
                    parts.append("[image]")
                elif part.get("type") in ("file", "input_file"):
                    parts.append("[file]")
        return " ".join(parts)
    return ""


def transcript(messages: list[JSON], previous_summary: str | None = None) -> str:
    """The messages as plain lines (`user: ...`, tool calls and results named), after the summary
    the conversation already had, if any."""
    lines: list[str] = []
    if previous_summary:
        lines += ["Summary so far:", previous_summary, "", "Then:"]
    for message in messages:
        role = str(message.get("role") or "user")
        text = _text(message.get("content"))
        if role == "tool":
            lines.append(f"tool result ({message.get('tool_call_id', '')}): {text}")
            continue
        if text:
            lines.append(f"{role}: {text}")
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                lines.append(f"{role} called {function.get('name')}({function.get('arguments') or ''})")
    return "\n".join(lines)


def summary_body(model: str, messages: list[JSON], previous_summary: str | None) -> JSON:
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": transcript(messages, previous_summary)},
        ],
        "max_tokens": MAX_SUMMARY_TOKENS,
    }


def summary_text(completion: Any) -> str | None:
    try:
        content = completion["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    return content.strip() or None if isinstance(content, str) else None
