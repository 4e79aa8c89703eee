"""OpenAPI documentation of the history routes (the Conversations API and the chat sessions).

The routes read raw bodies (every /v1 route authenticates before it reads one), so their bodies
and answers are described here, inline, as `openapi_extra`. Request schemas are never stricter
than the routes' own checks (a body these schemas refuse, the route refuses too: the contract test
sends such bodies and expects a 4xx); answer schemas are what the routes send, in the openai
SDK's shapes for the Conversations API.
"""

from __future__ import annotations

from typing import Any

from gatewayz.history.conversation_items import MAX_METADATA_KEY, MAX_METADATA_PAIRS, MAX_METADATA_VALUE
from gatewayz.history.item_input import INCLUDABLE, MAX_ITEMS_PER_CALL, PHASES, STATUSES
from gatewayz.history.session_input import CHAT_ROLES, MAX_MESSAGES_PER_CALL
from gatewayz.history.tables import MODEL_LENGTH, TITLE_LENGTH

JSON = dict[str, Any]

_STR: JSON = {"type": "string"}
_TEXT_PART: JSON = {"type": "object", "required": ["type", "text"],
                    "properties": {"type": {"enum": ["input_text", "output_text"]}, "text": _STR}}
_PARTS: JSON = {"type": "array", "items": {"type": "object", "required": ["type"], "properties": {"type": _STR}}}
METADATA: JSON = {
    "type": ["object", "null"],
    "description": "Up to 16 string pairs; keys up to 64 characters, values up to 512",
    "maxProperties": MAX_METADATA_PAIRS,
    "propertyNames": {"maxLength": MAX_METADATA_KEY},
    "additionalProperties": {"type": "string", "maxLength": MAX_METADATA_VALUE},
}
_STATUS: JSON = {"enum": list(STATUSES)}

# -- items as given (Responses input items) -----------------------------------------------------------

_INPUT_ITEM: JSON = {
    "description": "A Responses input item: a message (short form `{role, content}` too), a `function_call`, a "
    "`function_call_output` or a `reasoning` item. `id` is kept when given. Other item types are refused (400).",
    "anyOf": [
        {"type": "object", "required": ["role", "content"], "title": "Message", "properties": {
            "type": {"enum": ["message"]}, "id": {"type": "string", "minLength": 1},
            "role": {"enum": ["user", "assistant", "system", "developer"]},
            "content": {"anyOf": [_STR, {"type": "array", "items": {"type": "object", "required": ["type"]}}]},
            "status": _STATUS, "phase": {"enum": [*PHASES, None]}}},
        {"type": "object", "required": ["type", "call_id", "name", "arguments"], "title": "Function call",
         "properties": {"type": {"enum": ["function_call"]}, "id": {"type": "string", "minLength": 1},
                        "call_id": {"type": "string", "minLength": 1}, "name": {"type": "string", "minLength": 1},
                        "arguments": _STR, "status": _STATUS}},
        {"type": "object", "required": ["type", "call_id", "output"], "title": "Function call output",
         "properties": {"type": {"enum": ["function_call_output"]}, "id": {"type": "string", "minLength": 1},
                        "call_id": {"type": "string", "minLength": 1},
                        "output": {"anyOf": [_STR, {"type": "array", "items": {"type": "object"}}]},
                        "status": _STATUS}},
        {"type": "object", "required": ["type"], "title": "Reasoning", "properties": {
            "type": {"enum": ["reasoning"]}, "id": {"type": "string", "minLength": 1},
            "summary": {"type": "array", "items": {"type": "object", "required": ["type", "text"], "properties": {
                "type": {"enum": ["summary_text"]}, "text": _STR}}},
            "encrypted_content": {"type": ["string", "null"]}, "status": _STATUS}},
    ],
}

# -- items as answered (the SDK's ConversationItem) ---------------------------------------------------

ITEM: JSON = {
    "description": "A conversation item as the openai SDK reads it (`ConversationItem`)",
    "anyOf": [
        {"type": "object", "required": ["id", "type", "role", "status", "content"], "title": "Message",
         "properties": {"id": _STR, "type": {"enum": ["message"]}, "role": _STR, "status": _STATUS,
                        "content": {"type": "array", "items": {"type": "object", "required": ["type"]}},
                        "phase": {"enum": [*PHASES, None]}}},
        {"type": "object", "required": ["id", "type", "status", "call_id", "name", "arguments"],
         "title": "Function call", "properties": {"id": _STR, "type": {"enum": ["function_call"]}, "status": _STATUS,
                                                  "call_id": _STR, "name": _STR, "arguments": _STR}},
        {"type": "object", "required": ["id", "type", "status", "output"], "title": "Function call output",
         "properties": {"id": _STR, "type": {"enum": ["function_call_output"]}, "status": _STATUS,
                        "call_id": _STR, "output": {"anyOf": [_STR, {"type": "array"}]}}},
        {"type": "object", "required": ["id", "type", "summary"], "title": "Reasoning",
         "properties": {"id": _STR, "type": {"enum": ["reasoning"]}, "summary": {"type": "array"}}},
        {"type": "object", "required": ["id", "type"], "title": "Other",
         "description": "Items written by other faces (e.g. a Responses turn)"},
    ],
}
CONVERSATION: JSON = {
    "type": "object",
    "required": ["id", "object", "created_at", "metadata"],
    "properties": {"id": {"type": "string", "description": "`conv_...`"}, "object": {"enum": ["conversation"]},
                   "created_at": {"type": "integer", "description": "Unix seconds"},
                   "metadata": {"type": "object", "additionalProperties": _STR}},
}
ITEM_LIST: JSON = {
    "type": "object",
    "required": ["object", "data", "first_id", "last_id", "has_more"],
    "properties": {"object": {"enum": ["list"]}, "data": {"type": "array", "items": ITEM},
                   "first_id": {"type": ["string", "null"]}, "last_id": {"type": ["string", "null"]},
                   "has_more": {"type": "boolean"}},
}


def _deleted(kind: str) -> JSON:
    return {"type": "object", "required": ["id", "object", "deleted"],
            "properties": {"id": _STR, "object": {"enum": [kind]}, "deleted": {"type": "boolean"}}}


def _ok(description: str, schema: JSON, status: str = "200") -> JSON:
    return {status: {"description": description, "content": {"application/json": {"schema": schema}}}}


def _body(schema: JSON, *, required: bool = True) -> JSON:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _object(properties: JSON, required: tuple[str, ...] = ()) -> JSON:
    return {"type": "object", "additionalProperties": False, "properties": properties, "required": list(required)}


_INCLUDE_BRACKETS: JSON = {
    "name": "include[]", "in": "query", "required": False,
    "description": "`include` as the openai SDK sends it; accepted, the stored items already hold everything",
    "schema": {"type": "array", "items": {"enum": list(INCLUDABLE)}}, "style": "form", "explode": True,
}
_ITEMS = {"type": ["array", "null"], "maxItems": MAX_ITEMS_PER_CALL, "items": _INPUT_ITEM}

CREATE_CONVERSATION: JSON = {
    "requestBody": _body(_object({"items": {**_ITEMS, "description": "Up to 20 initial items"},
                                  "metadata": METADATA}), required=False),
    "responses": _ok("The new conversation", CONVERSATION),
}
CONVERSATION_OPERATION: JSON = {"responses": _ok("The conversation", CONVERSATION)}
UPDATE_CONVERSATION: JSON = {
    "requestBody": _body(_object({"metadata": METADATA}, ("metadata",))),
    "responses": _ok("The conversation, its metadata replaced", CONVERSATION),
}
DELETE_CONVERSATION: JSON = {
    "responses": _ok("Deleted, with its items", _deleted("conversation.deleted")),
}
LIST_ITEMS: JSON = {
    "parameters": [_INCLUDE_BRACKETS],
    "responses": _ok("A page of items (`after`: the `last_id` of the previous page)", ITEM_LIST),
}
CREATE_ITEMS: JSON = {
    "parameters": [_INCLUDE_BRACKETS],
    "requestBody": _body(_object({"items": {**_ITEMS, "type": "array", "minItems": 1}}, ("items",))),
    "responses": _ok("The items added, as stored (with their ids)", ITEM_LIST),
}
ITEM_OPERATION: JSON = {"parameters": [_INCLUDE_BRACKETS], "responses": _ok("The item", ITEM)}
DELETE_ITEM: JSON = {"responses": _ok("The conversation the item was deleted from", CONVERSATION)}

# -- chat sessions ------------------------------------------------------------------------------------

_TIME: JSON = {"type": "string", "format": "date-time"}
SESSION: JSON = {
    "type": "object",
    "required": ["id", "object", "title", "model", "metadata", "settings", "created_at", "updated_at",
                 "message_count", "token_total"],
    "properties": {
        "id": {"type": "string", "description": "`conv_...`: also its id in the Conversations API"},
        "object": {"enum": ["chat.session"]},
        "title": {"type": ["string", "null"], "description": "Given, or the first user message's first words"},
        "model": {"type": ["string", "null"], "description": "The model last used"},
        "metadata": {"type": "object", "additionalProperties": _STR},
        "settings": {"type": "object", "properties": {"summarize": {"type": "boolean"}}},
        "created_at": _TIME, "updated_at": _TIME,
        "message_count": {"type": "integer", "description": "Stored items (messages, tool calls, tool results)"},
        "token_total": {"type": "integer"},
    },
}
MESSAGE: JSON = {
    "type": "object",
    "description": "One stored item in Chat Completions form, with the item's id, type and time",
    "required": ["id", "type", "role", "content", "created_at", "model"],
    "properties": {
        "id": _STR, "type": {"type": "string", "description": "The item type: message, function_call, ..."},
        "role": _STR, "content": {"anyOf": [_STR, {"type": "array"}, {"type": "null"}]},
        "refusal": _STR, "tool_calls": {"type": "array"}, "tool_call_id": _STR, "reasoning": _STR,
        "created_at": _TIME, "model": {"type": ["string", "null"]},
    },
}
SESSION_WITH_MESSAGES: JSON = {**SESSION, "required": [*SESSION["required"], "messages"],
                               "properties": {**SESSION["properties"], "messages": {"type": "array", "items": MESSAGE}}}
_CHAT_MESSAGE: JSON = {
    "type": "object", "required": ["role"],
    "properties": {"role": {"enum": list(CHAT_ROLES)},
                   "content": {"anyOf": [_STR, _PARTS, {"type": "null"}]},
                   "name": _STR, "refusal": {"type": ["string", "null"]},
                   "tool_calls": {"type": ["array", "null"], "items": {"type": "object"}}, "tool_call_id": _STR},
}
_MESSAGES = {"type": "array", "maxItems": MAX_MESSAGES_PER_CALL, "items": _CHAT_MESSAGE,
             "description": "Chat Completions messages (or give `items` instead)"}
_SESSION_ITEMS: JSON = {"type": ["array", "null"], "maxItems": MAX_ITEMS_PER_CALL,
                        "items": {"type": "object", "description": "As POST /v1/conversations takes them"},
                        "description": "Conversations API items instead of `messages`"}
_SETTINGS: JSON = {"type": ["object", "null"], "additionalProperties": False,
                   "properties": {"summarize": {"type": "boolean", "description": "Summarise trimmed history"}}}
_TITLE: JSON = {"type": ["string", "null"], "maxLength": TITLE_LENGTH}
_MODEL: JSON = {"type": ["string", "null"], "maxLength": MODEL_LENGTH}
_LIST: JSON = {
    "type": "object", "required": ["object", "data", "first_id", "last_id", "has_more"],
    "properties": {"object": {"enum": ["list"]}, "data": {"type": "array", "items": SESSION},
                   "first_id": {"type": ["string", "null"]}, "last_id": {"type": ["string", "null"]},
                   "has_more": {"type": "boolean"}},
}
_HITS: JSON = {
    "type": "object", "required": ["object", "data", "has_more"],
    "properties": {"object": {"enum": ["list"]}, "has_more": {"type": "boolean"}, "data": {"type": "array", "items": {
        "type": "object", "required": ["session", "item_id", "snippet"],
        "properties": {"session": SESSION, "item_id": {"type": ["string", "null"], "description": "null: the title"},
                       "snippet": {"type": "string", "description": "The words found between `**`"}}}}},
}

CREATE_SESSION: JSON = {
    "requestBody": _body(_object({"title": _TITLE, "model": _MODEL, "metadata": METADATA, "settings": _SETTINGS,
                                  "messages": _MESSAGES, "items": _SESSION_ITEMS}), required=False),
    "responses": _ok("The new session, with its messages", SESSION_WITH_MESSAGES, "201"),
}
LIST_SESSIONS: JSON = {"responses": _ok("A page of sessions, newest-updated first", _LIST)}
SEARCH_SESSIONS: JSON = {"responses": _ok("Sessions whose title or messages hold every word of `q`", _HITS)}
SESSION_OPERATION: JSON = {"responses": _ok("The session and all its messages", SESSION_WITH_MESSAGES)}
UPDATE_SESSION: JSON = {
    "requestBody": _body(_object({"title": _TITLE, "metadata": METADATA, "settings": _SETTINGS})),
    "responses": _ok("The session (metadata and settings are replaced whole; null clears)", SESSION),
}
DELETE_SESSION: JSON = {"responses": _ok("Deleted, with its messages", _deleted("chat.session.deleted"))}
APPEND_MESSAGES: JSON = {
    "requestBody": _body(_object({"messages": {**_MESSAGES, "minItems": 1}, "items": {**_SESSION_ITEMS, "minItems": 1},
                                  "model": _MODEL})),
    "responses": _ok("The messages added, and the session", {
        "type": "object", "required": ["object", "data", "session"],
        "properties": {"object": {"enum": ["list"]}, "data": {"type": "array", "items": MESSAGE}, "session": SESSION},
    }, "201"),
}
EXPORT_SESSION: JSON = {
    "responses": {"200": {
        "description": "A download (Content-Disposition: attachment). JSON: the session and its items in the "
        "Conversations API's shapes (give `items` to POST /v1/conversations, 20 at a time, to re-import); "
        "Markdown: a transcript",
        "content": {
            "application/json": {"schema": {
                "type": "object", "required": ["object", "version", "exported_at", "session", "items"],
                "properties": {"object": {"enum": ["chat.session.export"]}, "version": {"type": "integer"},
                               "exported_at": _TIME, "session": SESSION, "items": {"type": "array", "items": ITEM}}}},
            "text/markdown": {"schema": {"type": "string"}},
        },
    }},
}
