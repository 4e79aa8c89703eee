"""What the conversation store accepts, checked before any SQL runs: items in OpenAI's
Responses/Conversations shapes, metadata (OpenAI's 16 string pairs), settings, titles.

Pure functions (no I/O). Every refusal is a `ConversationError` (a ValueError) carrying the
OpenAI-style error `code` and the `param` it is about, so the routes answer 400 naming the field.
A value that reaches the database is also storable there: no NUL in a text column (PostgreSQL
refuses it), no lone surrogate (no encoding can write it), no length a column cannot hold.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gatewayz.history.tables import (
    ID_LENGTH,
    ITEM_TYPE_LENGTH,
    MODEL_LENGTH,
    PROVIDER_LENGTH,
    ROLE_LENGTH,
    TITLE_LENGTH,
)

MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
MAX_SETTINGS_BYTES = 16_384
SEARCH_TEXT_CHARS = 100_000  # an item's searchable text; PostgreSQL's tsvector holds at most 1 MiB
MESSAGE_ROLES = frozenset(
    {"unknown", "user", "assistant", "system", "critic", "discriminator", "developer", "tool"})
_ID_PREFIXES = {"message": "msg_", "function_call": "fc_", "function_call_output": "fco_", "reasoning": "rs_"}
_ALWAYS_STATUS = frozenset({"message", "function_call", "function_call_output"})


class ConversationError(ValueError):
    """Refused by the store's rules (never an outage): the caller's request is at fault."""

    code = "invalid_value"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class InvalidConversation(ConversationError):
    """A malformed value: an item, metadata, settings, a title, a cursor, a limit."""


class ConversationFull(ConversationError):
    """The conversation would hold more than `limit` items."""

    code = "conversation_full"

    def __init__(self, limit: int) -> None:
        super().__init__(f"A conversation holds at most {limit} items.", param="items")
        self.limit = limit


class ItemTooLarge(ConversationError):
    """One item's JSON is over `limit` bytes."""

    code = "item_too_large"

    def __init__(self, limit: int, param: str) -> None:
        super().__init__(f"An item may be at most {limit} bytes of JSON.", param=param)
        self.limit = limit


@dataclass(frozen=True)
class PreparedItem:
    """An item ready to insert: its id, kind, JSON text and searchable text. `given_id` says the
    caller chose the id (only such ids can collide with items already stored)."""

    item_id: str
    type: str
    role: str | None
    item: dict[str, Any]
    json: str
    text: str
    given_id: bool


def new_id(prefix: str) -> str:
    """`conv_…`, `msg_…`: the prefix and 48 random hex digits, as OpenAI's ids look."""
    return f"{prefix}{secrets.token_hex(24)}"


def storable(value: str) -> bool:
    """Whether a string can be written to any text column (and bound by either driver)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def plausible_id(value: Any) -> bool:
    """An id worth looking up: anything else cannot exist, so it is simply not found."""
    return isinstance(value, str) and 0 < len(value) <= ID_LENGTH and storable(value)


def check_text(value: Any, param: str, limit: int, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidConversation(f"'{param}' must be a string.", param=param)
    if len(value) > limit:
        raise InvalidConversation(f"'{param}' may be at most {limit} characters.", param=param)
    if not storable(value):
        raise InvalidConversation(f"'{param}' holds characters that cannot be stored (NUL or a lone surrogate).",
                                  param=param)
    return value


def check_title(value: Any) -> str | None:
    return check_text(value, "title", TITLE_LENGTH)


def check_model(value: Any) -> str | None:
    return check_text(value, "model", MODEL_LENGTH)


def check_provider(value: Any) -> str | None:
    return check_text(value, "provider", PROVIDER_LENGTH)


def check_request_id(value: Any) -> str | None:
    return check_text(value, "request_id", ID_LENGTH)


def check_metadata(value: Any) -> dict[str, str]:
    """OpenAI's metadata: at most 16 pairs, string keys up to 64 characters, string values up
    to 512. None is no metadata."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidConversation("'metadata' must be an object of string pairs.", param="metadata")
    if len(value) > MAX_METADATA_PAIRS:
        raise InvalidConversation(f"'metadata' may hold at most {MAX_METADATA_PAIRS} pairs.", param="metadata")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or len(key) > MAX_METADATA_KEY or not storable(key):
            raise InvalidConversation(f"'metadata' keys are strings of at most {MAX_METADATA_KEY} characters.",
                                      param="metadata")
        if not isinstance(item, str) or len(item) > MAX_METADATA_VALUE or not storable(item):
            raise InvalidConversation(
                f"'metadata' values are strings of at most {MAX_METADATA_VALUE} characters.", param="metadata")
        out[key] = item
    return out


def check_settings(value: Any) -> dict[str, Any]:
    """Per-conversation settings (`{"summarize": true}`): any JSON object up to 16 KiB."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidConversation("'settings' must be an object.", param="settings")
    out = dict(value)
    if len(dumps(out, "settings")) > MAX_SETTINGS_BYTES:
        raise InvalidConversation(f"'settings' may be at most {MAX_SETTINGS_BYTES} bytes of JSON.",
                                  param="settings")
    return out


def check_usage(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidConversation("'usage' must be an object.", param="usage")
    return dumps(dict(value), "usage")


def check_count(value: Any, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**62:
        raise InvalidConversation(f"'{param}' must be a non-negative integer.", param=param)
    return value


def dumps(value: Any, param: str) -> str:
    """JSON text (orjson writes NUL as \\u0000, so it is storable everywhere)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError as exc:  # orjson.JSONEncodeError: not JSON, a lone surrogate, a non-string key
        raise InvalidConversation(f"'{param}' is not valid JSON ({exc}).", param=param) from exc


def prepare_items(items: Iterable[Any], max_item_bytes: int) -> list[PreparedItem]:
    """Check and complete items: ids made where missing (`msg_`, `fc_`, `fco_`, `rs_`, `item_`),
    `status` "completed" where the shape requires one, a string message content made into its
    text part. The caller's dicts are not changed."""
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise InvalidConversation("'items' must be a list of items.", param="items")
    prepared: list[PreparedItem] = []
    seen: set[str] = set()
    for index, raw in enumerate(items):
        param = f"items[{index}]"
        item = _complete(raw, param)
        item_id = item["id"]
        if item_id in seen:
            raise InvalidConversation(f"Item id '{item_id}' appears twice.", param=f"{param}.id")
        seen.add(item_id)
        text = dumps(item, param)
        if len(text.encode()) > max_item_bytes:
            raise ItemTooLarge(max_item_bytes, param)
        stored = orjson.loads(text)  # exactly what a later read gives back
        role = stored.get("role")  # a column too: kept there only when it fits
        role = role if isinstance(role, str) and len(role) <= ROLE_LENGTH and storable(role) else None
        prepared.append(PreparedItem(item_id, stored["type"], role, stored, text, search_text(stored),
                                     given_id=raw.get("id") is not None))
    return prepared


def _complete(raw: Any, param: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidConversation(f"'{param}' must be an object.", param=param)
    item = dict(raw)
    kind = item.get("type")
    if kind is None and "role" in item:
        kind = item["type"] = "message"  # the easy input message form
    check_text(kind, f"{param}.type", ITEM_TYPE_LENGTH, optional=False)
    if not kind:
        raise InvalidConversation(f"'{param}.type' must not be empty.", param=f"{param}.type")
    given = item.get("id")
    if given is None:
        item["id"] = new_id(_ID_PREFIXES.get(kind, "item_"))
    elif not plausible_id(given):
        raise InvalidConversation(f"'{param}.id' must be a string of 1 to {ID_LENGTH} characters.",
                                  param=f"{param}.id")
    if kind == "message":
        _complete_message(item, param)
    elif kind == "function_call":
        for field in ("call_id", "name", "arguments"):
            _require_str(item, field, param)
    elif kind == "function_call_output":
        _require_str(item, "call_id", param)
        if not isinstance(item.get("output"), str | list):
            raise InvalidConversation(f"'{param}.output' must be a string or a list of parts.",
                                      param=f"{param}.output")
    if kind in _ALWAYS_STATUS and item.get("status") is None:
        item["status"] = "completed"
    return item


def _require_str(item: Mapping[str, Any], field: str, param: str) -> None:
    """Inside the item's JSON any string is storable (NUL is escaped there), so only the type is checked."""
    if not isinstance(item.get(field), str):
        raise InvalidConversation(f"'{param}.{field}' must be a string.", param=f"{param}.{field}")


def _complete_message(item: dict[str, Any], param: str) -> None:
    role = item.get("role")
    if role not in MESSAGE_ROLES:
        raise InvalidConversation(f"'{param}.role' must be one of {', '.join(sorted(MESSAGE_ROLES))}.",
                                  param=f"{param}.role")
    content = item.get("content")
    if isinstance(content, str):
        part: dict[str, Any] = {"type": "output_text", "text": content, "annotations": []} if role == "assistant" \
            else {"type": "input_text", "text": content}
        item["content"] = [part]
    elif not isinstance(content, list) or not all(isinstance(p, Mapping) and isinstance(p.get("type"), str)
                                                 for p in content):
        raise InvalidConversation(f"'{param}.content' must be a string or a list of typed parts.",
                                  param=f"{param}.content")


def search_text(item: Mapping[str, Any]) -> str:
    """The words search should find in an item: message text and refusals, tool names,
    arguments and outputs, reasoning summaries. Not images or file data."""
    kind = item.get("type")
    pieces: list[str] = []
    if kind == "message":
        _part_texts(item.get("content"), pieces)
    elif kind in ("function_call", "custom_tool_call", "mcp_call"):
        for field in ("name", "arguments", "input", "output"):
            _add(item.get(field), pieces)
    elif kind in ("function_call_output", "custom_tool_call_output"):
        _part_texts(item.get("output"), pieces)
    elif kind == "reasoning":
        _part_texts(item.get("summary"), pieces)
    return "\n".join(pieces)[:SEARCH_TEXT_CHARS].replace("\x00", " ")


def _part_texts(parts: Any, pieces: list[str]) -> None:
    if isinstance(parts, str):
        pieces.append(parts)
    elif isinstance(parts, list):
        for part in parts:
            if isinstance(part, Mapping):
                _add(part.get("text"), pieces)
                _add(part.get("refusal"), pieces)


def _add(value: Any, pieces: list[str]) -> None:
    if isinstance(value, str) and value:
        pieces.append(value)
