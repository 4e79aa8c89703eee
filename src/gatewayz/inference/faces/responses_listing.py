"""A request's input items as `GET /v1/responses/{id}/input_items` lists them (and as a later
`previous_response_id` turn replays them), and `new_id`, the item ids both this listing and the
answers (responses_answer.py) give. Plain dict work over a body the face already accepted.
"""

from __future__ import annotations

from random import getrandbits
from typing import Any

JSON = dict[str, Any]

_IMAGE_DETAILS = frozenset({"auto", "low", "high", "original"})


def new_id(prefix: str) -> str:
    """An item id in OpenAI's style (`msg_…`, `fc_…`): prefix plus 48 random hex digits.

    Item ids only need to be unique, not secret, so the cheap PRNG (reseeded in forked workers)
    serves; `os.urandom` would be a system call per item."""
    return f"{prefix}{getrandbits(192):048x}"


def input_items(body: JSON) -> list[JSON]:
    """This request's input as `GET /v1/responses/{id}/input_items` lists it, oldest first.

    Meant for a body `to_chat` accepted: shapes are trusted, only the listing's own fields are
    filled in (ids, `status`, full part forms). Inline data (image data URLs, `file_data`) is kept
    because these items are also what a later `previous_response_id` turn replays.
    """
    value = body.get("input")
    if isinstance(value, str):
        return [_listed_message(None, "user", [{"type": "input_text", "text": value}])]
    if not isinstance(value, list):
        return []
    listed = (_listed(item) for item in value if isinstance(item, dict))
    return [item for item in listed if item is not None]


def _listed(item: JSON) -> JSON | None:
    kind = item.get("type") or "message"
    given = item.get("id")
    item_id = given if isinstance(given, str) and given else None
    if kind == "message":
        role, content = item.get("role"), item.get("content")
        if role == "assistant":
            return {
                "id": item_id or new_id("msg_"),
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": _listed_output(content),
            }
        if isinstance(content, str):
            return _listed_message(item_id, role, [{"type": "input_text", "text": content}])
        parts = [_listed_part(part) for part in content if isinstance(part, dict)] if isinstance(content, list) else []
        return _listed_message(item_id, role, [part for part in parts if part is not None])
    if kind == "function_call":
        return {
            "id": item_id or new_id("fc_"),
            "type": "function_call",
            "status": "completed",
            "call_id": _str_of(item, "call_id"),
            "name": _str_of(item, "name"),
            "arguments": _str_of(item, "arguments"),
        }
    if kind == "function_call_output":
        output = item.get("output")
        if isinstance(output, list):
            output = [{"type": "input_text", "text": _str_of(p, "text")} for p in output if isinstance(p, dict)]
        return {
            "id": item_id or new_id("fco_"),
            "type": "function_call_output",
            "status": "completed",
            "call_id": _str_of(item, "call_id"),
            "output": output if isinstance(output, str | list) else "",
        }
    if kind == "reasoning":
        return _listed_reasoning(item, item_id)
    return None


def _listed_message(item_id: str | None, role: Any, parts: list[JSON]) -> JSON:
    return {"id": item_id or new_id("msg_"), "type": "message", "role": role, "status": "completed", "content": parts}


def _listed_part(part: JSON) -> JSON | None:
    kind = part.get("type")
    if kind == "input_text":
        return {"type": "input_text", "text": _str_of(part, "text")}
    if kind == "input_image":
        detail = part.get("detail")
        return {
            "type": "input_image",
            "detail": detail if isinstance(detail, str) and detail in _IMAGE_DETAILS else "auto",
            "image_url": _str_of(part, "image_url"),
        }
    if kind == "input_file":
        listed: JSON = {"type": "input_file", "file_data": _str_of(part, "file_data")}
        if isinstance(part.get("filename"), str):
            listed["filename"] = part["filename"]
        return listed
    return None


def _listed_output(content: Any) -> list[JSON]:
    if isinstance(content, str):
        return [{"type": "output_text", "text": content, "annotations": []}]
    parts: list[JSON] = []
    for part in content if isinstance(content, list) else ():
        if isinstance(part, dict):
            if part.get("type") == "refusal":
                parts.append({"type": "refusal", "refusal": _str_of(part, "refusal")})
            else:
                parts.append({"type": "output_text", "text": _str_of(part, "text"), "annotations": []})
    return parts


def _listed_reasoning(item: JSON, item_id: str | None) -> JSON:
    listed: JSON = {"id": item_id or new_id("rs_"), "type": "reasoning", "summary": []}
    for field, kind in (("summary", "summary_text"), ("content", "reasoning_text")):
        value = item.get(field)
        if isinstance(value, list):
            listed[field] = [{"type": kind, "text": _str_of(p, "text")} for p in value if isinstance(p, dict)]
    if isinstance(item.get("encrypted_content"), str):
        listed["encrypted_content"] = item["encrypted_content"]
    return listed


def _str_of(obj: JSON, name: str) -> str:
    value = obj.get(name)
    return value if isinstance(value, str) else ""
