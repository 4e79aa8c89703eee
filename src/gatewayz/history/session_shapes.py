"""What the chat sessions face (`/v1/chat/sessions`) shows of a conversation: the session object,
its messages in Chat Completions form, the generated title, and the two export formats.

A session IS a conversation (history/conversations.py): the same id, the same items. Its
messages are the items one for one, each in the shape a chat app already renders (`role`,
`content`, `tool_calls`, `tool_call_id`, as `/v1/chat/completions` takes them) plus the item's
`id`, `type`, `created_at` and the `model` of the turn that produced it. Times are RFC 3339 (UTC),
as everywhere in the gateway's own API; only the OpenAI face keeps OpenAI's unix seconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from gatewayz.errors import InvalidRequest
from gatewayz.history.conversation_rows import Conversation, StoredItem
from gatewayz.history.turns import items_as_messages

JSON = dict[str, Any]

EXPORT_VERSION = 1
TITLE_CHARS = 80  # a generated title: the first user message's first words
_ROLE_NAMES = {"user": "User", "assistant": "Assistant", "system": "System", "developer": "Developer",
               "tool": "Tool"}


def rfc3339(unix: int | float) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat().replace("+00:00", "Z")


def session_object(conversation: Conversation) -> JSON:
    """The session without its messages (lists, search hits, the export's header)."""
    return {
        "id": conversation.id,
        "object": "chat.session",
        "title": conversation.title,
        "model": conversation.model,
        "metadata": conversation.metadata,
        "settings": conversation.settings,
        "created_at": rfc3339(conversation.created_at),
        "updated_at": rfc3339(conversation.updated_at),
        "message_count": conversation.item_count,
        "token_total": conversation.token_total,
    }


def session_message(stored: StoredItem) -> JSON:
    """One item as a chat message: what `/v1/chat/completions` would take for it (one tool call
    per `function_call` item, a `tool` message per result), with the item's own fields around it."""
    item = stored.item
    kind = item.get("type")
    head: JSON = {"id": item.get("id"), "type": kind}
    body: JSON | None = None
    if kind == "reasoning":
        body = {"role": "assistant", "content": None, "reasoning": item_text(item)}
    elif kind in ("message", "function_call", "function_call_output"):
        try:
            converted = items_as_messages([item])
        except InvalidRequest:  # a role or part no chat provider takes: shown as its text
            converted = []
        body = converted[0] if len(converted) == 1 else None
    if body is None:  # another face's item type (a hosted tool's call, ...)
        body = {"role": item.get("role") if isinstance(item.get("role"), str) else "assistant",
                "content": item_text(item) or None}
    return {**head, **body, "created_at": rfc3339(stored.created_at), "model": stored.model}


def item_text(item: JSON) -> str:
    """The text of an item's parts (message content, reasoning summary, tool output)."""
    for field in ("content", "summary", "output"):
        value = item.get(field)
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            texts = [p.get("text") or p.get("refusal") for p in value if isinstance(p, dict)]
            return "\n".join(t for t in texts if isinstance(t, str) and t)
    return ""


def title_from_items(items: Iterable[JSON]) -> str | None:
    """A title for an untitled conversation: the words of its first user message, shortened at a
    word boundary to TITLE_CHARS. None when no user message has text."""
    for item in items:
        if item.get("type", "message") != "message" or item.get("role") != "user":
            continue
        content = item.get("content")
        parts = [content] if isinstance(content, str) else [
            p.get("text") for p in content if isinstance(p, dict) and p.get("type") in ("input_text", "text")
        ] if isinstance(content, list) else []
        words = " ".join(" ".join(t for t in parts if isinstance(t, str)).replace("\x00", " ").split())
        if words:
            if len(words) <= TITLE_CHARS:
                return words
            cut = words[:TITLE_CHARS].rsplit(" ", 1)[0] if " " in words[:TITLE_CHARS] else words[:TITLE_CHARS]
            return cut.rstrip(" ,.;:") + "…"
    return None


# -- export -----------------------------------------------------------------------------------------


def export_json(conversation: Conversation, items: list[StoredItem]) -> bytes:
    """The session and its items in the Conversations API's shapes: `items` can be given back to
    `POST /v1/conversations` (and `.../items`, 20 at a time) to reproduce it, ids included."""
    return orjson.dumps({
        "object": "chat.session.export",
        "version": EXPORT_VERSION,
        "exported_at": rfc3339(datetime.now(UTC).timestamp()),
        "session": session_object(conversation),
        "items": [stored.item for stored in items],
    }, option=orjson.OPT_INDENT_2)


def export_markdown(conversation: Conversation, items: list[StoredItem]) -> str:
    """A readable transcript: a heading per message with who spoke and when, text as written (the
    models answer in Markdown), tool calls and results in code fences."""
    title = " ".join((conversation.title or "Untitled session").split())
    lines = [f"# {title}", "", f"- Session: `{conversation.id}`"]
    if conversation.model:
        lines.append(f"- Model: `{conversation.model}`")
    lines += [f"- Created: {rfc3339(conversation.created_at)}", f"- Updated: {rfc3339(conversation.updated_at)}",
              f"- Messages: {conversation.item_count}", ""]
    for stored in items:
        lines += ["---", "", *_markdown_item(stored), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _markdown_item(stored: StoredItem) -> list[str]:
    item = stored.item
    kind = item.get("type")
    when = rfc3339(stored.created_at)
    if kind == "message":
        role = item.get("role")
        who = _ROLE_NAMES.get(role, str(role).title()) if isinstance(role, str) else "Message"
        if role == "assistant" and stored.model:
            who += f" ({stored.model})"
        return [f"### {who} · {when}", "", *_markdown_parts(item.get("content"))]
    if kind == "function_call":
        return [f"### Tool call `{_inline(item.get('name'))}` · {when}", "",
                *_fenced(str(item.get("arguments", "")), "json")]
    if kind == "function_call_output":
        return [f"### Tool result `{_inline(item.get('call_id'))}` · {when}", "", *_fenced(item_text(item))]
    if kind == "reasoning":
        return [f"### Reasoning · {when}", "", *(f"> {line}" for line in item_text(item).splitlines() or [""])]
    return [f"### {_inline(kind)} · {when}", "", *_fenced(orjson.dumps(item).decode(), "json")]


def _markdown_parts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if isinstance(part.get("text"), str):
            out.append(part["text"])
        elif kind == "refusal":
            out.append(f"> *Refused:* {part.get('refusal', '')}")
        elif kind == "input_image":
            url = part.get("image_url")
            out.append(f"![image]({url})" if isinstance(url, str) and url.startswith(("https://", "http://"))
                       else "*[image]*")
        elif kind == "input_file":
            out.append(f"*[file: {_inline(part.get('filename') or 'attachment')}]*")
        out.append("")
    return out[:-1] if out and out[-1] == "" else out


def _fenced(text: str, language: str = "") -> list[str]:
    """A code fence longer than any run of backticks inside, so the text cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + language, text, fence]


def _inline(value: Any) -> str:
    return " ".join(str(value).split()).replace("`", "'")
