"""Chat Completions messages as stored conversation items, and back.

Conversations keep OpenAI's Responses/Conversations item shapes, whatever face a turn came in
on; a chat turn is stored by these, and any stored item is sent to a chat body through the
Responses face's item reader (`faces.responses_items`), so there is one reader of items.
"""

from __future__ import annotations

import secrets
from typing import Any

from gatewayz.inference.faces.responses_items import chat_messages

JSON = dict[str, Any]
_INPUT_ROLES = ("user", "system", "developer")


def _id(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _input_part(part: Any) -> JSON | None:
    if isinstance(part, str):
        return {"type": "input_text", "text": part}
    if not isinstance(part, dict):
        return None
    kind = part.get("type")
    if kind == "text" and isinstance(part.get("text"), str):
        return {"type": "input_text", "text": part["text"]}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if isinstance(url, str) and url:
            detail = image.get("detail") if isinstance(image, dict) else None
            return {"type": "input_image", "image_url": url,
                    "detail": detail if detail in ("auto", "low", "high") else "auto"}
    if kind == "file" and isinstance(part.get("file"), dict):
        file = part["file"]
        out: JSON = {"type": "input_file"}
        for name in ("file_data", "filename"):
            if isinstance(file.get(name), str):
                out[name] = file[name]
        return out if "file_data" in out else None
    return None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content
                       if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def message_items(message: Any) -> list[JSON]:
    """One chat message as items: a message (input parts, or output text), an assistant's tool
    calls as `function_call` items, a tool result as `function_call_output`. Junk gives []. The
    items have no `id`: the store gives them theirs (and need not check them against the others)."""
    if not isinstance(message, dict):
        return []
    role = message.get("role")
    content = message.get("content")
    if role in _INPUT_ROLES:
        raw = [content] if isinstance(content, str) else content if isinstance(content, list) else []
        parts = [p for p in (_input_part(part) for part in raw) if p is not None]
        if not parts:
            return []
        return [{"type": "message", "role": role, "status": "completed", "content": parts}]
    if role == "assistant":
        items: list[JSON] = []
        text = _text(content)
        parts: list[JSON] = []
        if text:
            parts.append({"type": "output_text", "text": text, "annotations": []})
        if isinstance(message.get("refusal"), str) and message["refusal"]:
            parts.append({"type": "refusal", "refusal": message["refusal"]})
        if parts:
            items.append({"type": "message", "role": "assistant", "status": "completed",
                          "content": parts})
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                continue
            arguments = function.get("arguments")
            items.append({"type": "function_call", "status": "completed",
                          "call_id": str(call.get("id") or _id("call_")), "name": function["name"],
                          "arguments": arguments if isinstance(arguments, str) else "{}"})
        return items
    if role == "tool" and isinstance(message.get("tool_call_id"), str):
        return [{"type": "function_call_output", "call_id": message["tool_call_id"],
                 "output": _text(content)}]
    return []


def chat_items(messages: Any) -> list[JSON]:
    """Chat messages (a request's, or an answer's) as items, in order."""
    out: list[JSON] = []
    for message in messages if isinstance(messages, list) else ():
        out.extend(message_items(message))
    return out


def answer_items(completion: Any) -> list[JSON]:
    """The assistant turn of a chat.completion (its first choice) as items."""
    choices = completion.get("choices") if isinstance(completion, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return []
    message = choices[0].get("message")
    return message_items({**message, "role": "assistant"}) if isinstance(message, dict) else []


def items_as_messages(items: list[JSON]) -> list[JSON]:
    """Stored items as chat messages (raises InvalidRequest for an item that cannot be sent)."""
    if not items:
        return []
    return chat_messages({"input": items}, None)
