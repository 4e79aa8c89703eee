"""Documentation-only schemas of the Responses face (POST /v1/responses and the stored-response reads),
and the small JSON Schema helpers the Messages face's schemas (openapi_messages.py) share.

Like the chat schemas next door (openapi.py), these are never used to validate: the face translators
(faces/responses_request.py, faces/messages_request.py) do that, in OpenAI's and Anthropic's own
error wording. What is written here is what those translators accept, bound for bound, so a request
built from the schema is one the gateway takes, and the answers are described with the field names
and required fields of OpenAI's `Response` and Anthropic's `Message` (the official SDKs' types).
Parameters not listed are forwarded to the provider, hence no `additionalProperties: false`.
"""

from __future__ import annotations

from typing import Any

from gatewayz.inference.request import MAX_TOKENS

JSON = dict[str, Any]


def ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str], properties: JSON, **extra: Any) -> JSON:
    return {"type": "object", "required": required, "properties": properties, **extra}


def const(value: str) -> JSON:
    return {"type": "string", "enum": [value]}


def enum(*values: str) -> JSON:
    return {"type": "string", "enum": list(values)}


def needs_tools(choice: JSON) -> JSON:
    """A `tool_choice` matching `choice` needs a non-empty `tools` (the translators refuse it otherwise)."""
    return {
        "if": {"required": ["tool_choice"], "properties": {"tool_choice": choice}},
        "then": {"required": ["tools"], "properties": {"tools": {"minItems": 1}}},
    }


def other(known: list[str]) -> JSON:
    """Any object whose `type` is none of `known`: what an upstream may add, not checked further."""
    return obj(["type"], {"type": {"type": "string", "not": {"enum": known}}})


NON_EMPTY = {"type": "string", "minLength": 1}
TOKENS = {"type": "integer", "minimum": 1, "maximum": MAX_TOKENS}
ROUTING: JSON = {
    "provider": {"type": "string", "description": "Gateway: only this provider may serve the request"},
    "models": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Gateway: fallback models, tried in order after `model`",
    },
}

# --------------------------------------------------------------------------- Responses: request

_INPUT_TEXT = obj(["type", "text"], {"type": const("input_text"), "text": {"type": "string"}})
_INPUT_IMAGE = obj(
    ["type", "image_url"],
    {
        "type": const("input_image"),
        "image_url": {**NON_EMPTY, "description": "https URL or data: URL (no `file_id`: no file store)"},
        "detail": enum("auto", "low", "high", "original"),
    },
)
_INPUT_FILE = obj(
    ["type", "file_data"],
    {
        "type": const("input_file"),
        "file_data": {**NON_EMPTY, "description": "a base64 data: URL (no `file_id`/`file_url`)"},
        "filename": {"type": "string"},
    },
)
_ASSISTANT_PART = {
    "anyOf": [
        obj(["type", "text"], {"type": enum("output_text", "input_text"), "text": {"type": "string"}}),
        obj(["type", "refusal"], {"type": const("refusal"), "refusal": {"type": "string"}}),
    ]
}
_MESSAGE_TYPE = const("message")
_INPUT_MESSAGE = {
    "description": "A message; `type` may be left out. Images and files only in user messages.",
    "anyOf": [
        obj(
            ["role", "content"],
            {
                "type": _MESSAGE_TYPE,
                "role": const("user"),
                "content": {
                    "anyOf": [
                        {"type": "string"},
                        {"type": "array", "items": {"anyOf": [_INPUT_TEXT, _INPUT_IMAGE, _INPUT_FILE]}},
                    ]
                },
            },
        ),
        obj(
            ["role", "content"],
            {
                "type": _MESSAGE_TYPE,
                "role": enum("system", "developer"),
                "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": _INPUT_TEXT}]},
            },
        ),
        obj(
            ["role", "content"],
            {
                "type": _MESSAGE_TYPE,
                "role": const("assistant"),
                "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": _ASSISTANT_PART}]},
            },
        ),
    ],
}
_FUNCTION_CALL_INPUT = obj(
    ["type", "call_id", "name", "arguments"],
    {
        "type": const("function_call"),
        "call_id": NON_EMPTY,
        "name": NON_EMPTY,
        "arguments": {"type": "string", "description": "JSON text"},
    },
)
_FUNCTION_OUTPUT_INPUT = obj(
    ["type", "call_id", "output"],
    {
        "type": const("function_call_output"),
        "call_id": NON_EMPTY,
        "output": {"anyOf": [{"type": "string"}, {"type": "array", "items": _INPUT_TEXT}]},
    },
)
_REASONING_INPUT = obj(["type"], {"type": const("reasoning")}, description="Accepted and not replayed to the provider")
_FUNCTION_TOOL = obj(
    ["type", "name"],
    {
        "type": const("function"),
        "name": NON_EMPTY,
        "description": {"type": "string"},
        "parameters": {"type": "object", "description": "JSON Schema of the arguments"},
        "strict": {"type": "boolean"},
    },
    description="A function tool (flat, not nested under `function`); hosted tools are not supported",
)
_TEXT_FORMAT = {
    "anyOf": [
        obj(["type"], {"type": enum("text", "json_object")}),
        obj(
            ["type", "name", "schema"],
            {
                "type": const("json_schema"),
                "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                "schema": {"type": "object"},
                "description": {"type": "string"},
                "strict": {"type": "boolean"},
            },
        ),
    ]
}
RESPONSES_REQUEST: JSON = obj(
    ["model", "input"],
    {
        "model": {"type": "string", "description": "`provider/model` or a bare model id"},
        "input": {
            "description": "Text (one user message) or input items",
            "anyOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "items": {
                        "anyOf": [_INPUT_MESSAGE, _FUNCTION_CALL_INPUT, _FUNCTION_OUTPUT_INPUT, _REASONING_INPUT]
                    },
                    "contains": {"anyOf": [_INPUT_MESSAGE, _FUNCTION_CALL_INPUT, _FUNCTION_OUTPUT_INPUT]},
                    "description": "at least one item that is not `reasoning`",
                },
            ],
        },
        "instructions": {"type": ["string", "null"]},
        "previous_response_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 128,
            "description": "a stored response of the caller's (printable text)",
        },
        "conversation": {
            "description": "Gateway: an existing conversation (POST /v1/conversations) whose items go before `input`; "
            "this turn is appended to it. Not with `previous_response_id`",
            "anyOf": [
                {"type": "string", "minLength": 1, "maxLength": 128},
                obj(["id"], {"id": {"type": "string", "minLength": 1, "maxLength": 128}}),
            ],
        },
        "store": {"type": "boolean", "default": True},
        "stream": {"type": "boolean", "default": False},
        "stream_options": {"type": "object"},
        "background": {"type": "boolean", "enum": [False], "description": "background runs are not supported"},
        "tools": {"type": "array", "items": _FUNCTION_TOOL},
        "tool_choice": {
            "description": "`required` needs `tools`; a named function must be one of `tools`",
            "anyOf": [
                enum("auto", "none", "required"),
                obj(["type", "name"], {"type": const("function"), "name": NON_EMPTY}),
            ],
        },
        "parallel_tool_calls": {"type": "boolean"},
        "max_tool_calls": TOKENS,
        "text": {
            "type": "object",
            "properties": {"format": _TEXT_FORMAT, "verbosity": enum("low", "medium", "high")},
        },
        "max_output_tokens": TOKENS,
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "top_logprobs": {"type": "integer", "minimum": 0, "maximum": 20},
        "include": {"type": "array", "items": {"type": "string"}},
        "reasoning": {
            "type": "object",
            "properties": {
                "effort": enum("none", "minimal", "low", "medium", "high", "xhigh", "max"),
                "summary": enum("auto", "concise", "detailed"),
            },
        },
        "service_tier": enum("auto", "default", "flex", "scale", "priority", "fast", "ultrafast"),
        "truncation": enum("auto", "disabled"),
        "metadata": {
            "type": "object",
            "maxProperties": 16,
            "propertyNames": {"maxLength": 64},
            "additionalProperties": {"type": "string", "maxLength": 512},
        },
        "user": {"type": "string"},
        "safety_identifier": {"type": "string"},
        "prompt_cache_key": {"type": "string"},
        **ROUTING,
    },
    description="OpenAI Responses request, on any routed model. Stored prompts (`prompt`) are not supported.",
    **needs_tools({"anyOf": [const("required"), {"type": "object"}]}),
)

# --------------------------------------------------------------------------- Responses: answers

_OUTPUT_TEXT = obj(
    ["type", "text", "annotations"],
    {
        "type": const("output_text"),
        "text": {"type": "string"},
        "annotations": {"type": "array", "items": {"type": "object"}},
        "logprobs": {"type": "array", "items": {"type": "object"}},
    },
)
_REFUSAL = obj(["type", "refusal"], {"type": const("refusal"), "refusal": {"type": "string"}})
_ITEM_STATUS = enum("in_progress", "completed", "incomplete")
_OUTPUT_ITEM = {
    "anyOf": [
        obj(
            ["id", "type", "role", "status", "content"],
            {
                "id": {"type": "string"},
                "type": _MESSAGE_TYPE,
                "role": const("assistant"),
                "status": _ITEM_STATUS,
                "content": {"type": "array", "items": {"anyOf": [_OUTPUT_TEXT, _REFUSAL]}},
            },
        ),
        obj(
            ["type", "call_id", "name", "arguments"],
            {
                "id": {"type": "string"},
                "type": const("function_call"),
                "call_id": {"type": "string"},
                "name": {"type": "string"},
                "arguments": {"type": "string"},
                "status": _ITEM_STATUS,
            },
        ),
        obj(
            ["id", "type", "summary"],
            {
                "id": {"type": "string"},
                "type": const("reasoning"),
                "summary": {"type": "array", "items": {"type": "object"}},
                "content": {"type": "array", "items": {"type": "object"}},
                "encrypted_content": {"type": ["string", "null"]},
            },
        ),
        other(["message", "function_call", "reasoning"]),
    ]
}
RESPONSE_USAGE: JSON = obj(
    ["input_tokens", "input_tokens_details", "output_tokens", "output_tokens_details", "total_tokens"],
    {
        "input_tokens": {"type": "integer"},
        "input_tokens_details": obj(["cached_tokens"], {"cached_tokens": {"type": "integer"}}),
        "output_tokens": {"type": "integer"},
        "output_tokens_details": obj(["reasoning_tokens"], {"reasoning_tokens": {"type": "integer"}}),
        "total_tokens": {"type": "integer"},
        "cost": {"type": "number", "description": "Gateway: what this request cost, USD"},
    },
)
_NULLABLE_NUMBER = {"type": ["number", "null"]}
RESPONSE: JSON = obj(
    ["id", "object", "created_at", "model", "output", "parallel_tool_calls", "tool_choice", "tools"],
    {
        "id": {"type": "string", "description": "resp_..."},
        "object": const("response"),
        "created_at": {"type": "number"},
        "status": enum("completed", "failed", "in_progress", "cancelled", "queued", "incomplete"),
        "completed_at": _NULLABLE_NUMBER,
        "error": {
            "anyOf": [
                obj(["code", "message"], {"code": {"type": "string"}, "message": {"type": "string"}}),
                {"type": "null"},
            ]
        },
        "incomplete_details": {
            "anyOf": [obj([], {"reason": enum("max_output_tokens", "content_filter")}), {"type": "null"}]
        },
        "instructions": {"anyOf": [{"type": "string"}, {"type": "array"}, {"type": "null"}]},
        "model": {"type": "string"},
        "output": {"type": "array", "items": _OUTPUT_ITEM},
        "parallel_tool_calls": {"type": "boolean"},
        "previous_response_id": {"type": ["string", "null"]},
        "store": {"type": "boolean"},
        "temperature": _NULLABLE_NUMBER,
        "top_p": _NULLABLE_NUMBER,
        "max_output_tokens": {"type": ["integer", "null"]},
        "text": {"type": "object"},
        "tool_choice": {"anyOf": [{"type": "string"}, {"type": "object"}]},
        "tools": {"type": "array", "items": {"type": "object", "required": ["type"]}},
        "metadata": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
        "usage": {"anyOf": [ref("ResponseUsage"), {"type": "null"}]},
    },
    description="OpenAI's Response object (the SDK's required fields), with `usage.cost` added",
)
RESPONSE_DELETED: JSON = obj(
    ["id", "object", "deleted"],
    {"id": {"type": "string"}, "object": const("response.deleted"), "deleted": {"type": "boolean", "enum": [True]}},
)
INPUT_ITEM_LIST: JSON = obj(
    ["object", "data", "first_id", "last_id", "has_more"],
    {
        "object": const("list"),
        "data": {"type": "array", "items": {"type": "object", "required": ["type"]}},
        "first_id": {"type": ["string", "null"]},
        "last_id": {"type": ["string", "null"]},
        "has_more": {"type": "boolean"},
    },
    description="A page of a stored response's input items (`after` is an item id of the previous page)",
)
RESPONSES_SCHEMAS: dict[str, JSON] = {
    "ResponsesRequest": RESPONSES_REQUEST,
    "Response": RESPONSE,
    "ResponseUsage": RESPONSE_USAGE,
    "ResponseDeleted": RESPONSE_DELETED,
    "ResponseInputItemList": INPUT_ITEM_LIST,
}
