"""Documentation-only schemas of the Messages face (POST /v1/messages, /v1/messages/count_tokens) and of
the Anthropic-shaped answers (errors under /v1/messages, the model list with `anthropic-version`).

Written from faces/messages_request.py, bound for bound (see openapi_faces.py for why), and from the
anthropic SDK's types (`Message`, `Usage`, `ErrorResponse`, `MessageTokensCount`, `ModelInfo`).
"""

from __future__ import annotations

from gatewayz.inference.openapi_faces import (
    JSON,
    MAX_TOKENS,
    NON_EMPTY,
    ROUTING,
    TOKENS,
    const,
    enum,
    needs_tools,
    obj,
    other,
    ref,
)

# --------------------------------------------------------------------------- Messages: request

_CACHE_CONTROL = obj(["type"], {"type": const("ephemeral"), "ttl": enum("5m", "1h")})
_TEXT_BLOCK = obj(["type", "text"], {"type": const("text"), "text": NON_EMPTY, "cache_control": _CACHE_CONTROL})
_IMAGE_BLOCK = obj(
    ["type", "source"],
    {
        "type": const("image"),
        "source": {
            "anyOf": [
                obj(
                    ["type", "media_type", "data"],
                    {
                        "type": const("base64"),
                        "media_type": enum("image/jpeg", "image/png", "image/gif", "image/webp"),
                        "data": NON_EMPTY,
                    },
                ),
                obj(["type", "url"], {"type": const("url"), "url": {"type": "string", "pattern": "^https?://"}}),
            ],
            "description": "`file` sources (Anthropic's Files API) are not supported",
        },
        "cache_control": _CACHE_CONTROL,
    },
)
_DOCUMENT_BLOCK = obj(
    ["type", "source"],
    {
        "type": const("document"),
        "source": {
            "anyOf": [
                obj(
                    ["type", "media_type", "data"],
                    {"type": const("base64"), "media_type": const("application/pdf"), "data": NON_EMPTY},
                ),
                obj(
                    ["type", "media_type", "data"],
                    {"type": const("text"), "media_type": const("text/plain"), "data": NON_EMPTY},
                ),
                obj(
                    ["type", "content"],
                    {
                        "type": const("content"),
                        "content": {
                            "anyOf": [
                                NON_EMPTY,
                                {"type": "array", "minItems": 1, "items": {"anyOf": [_TEXT_BLOCK, _IMAGE_BLOCK]}},
                            ]
                        },
                    },
                ),
            ],
            "description": "`url` and `file` sources are not supported",
        },
        "title": {"type": "string"},
        "context": {"type": "string"},
        "cache_control": _CACHE_CONTROL,
    },
)
_TOOL_RESULT_BLOCK = obj(
    ["type", "tool_use_id"],
    {
        "type": const("tool_result"),
        "tool_use_id": NON_EMPTY,
        "is_error": {"type": "boolean"},
        "content": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"anyOf": [_TEXT_BLOCK, _IMAGE_BLOCK, _DOCUMENT_BLOCK]}},
            ]
        },
        "cache_control": _CACHE_CONTROL,
    },
)
_TOOL_USE_BLOCK = obj(
    ["type", "id", "name", "input"],
    {"type": const("tool_use"), "id": NON_EMPTY, "name": NON_EMPTY, "input": {"type": "object"}},
)
_THINKING_BLOCK = obj(
    ["type", "thinking"], {"type": const("thinking"), "thinking": {"type": "string"}, "signature": {"type": "string"}}
)
_REDACTED_THINKING_BLOCK = obj(["type", "data"], {"type": const("redacted_thinking"), "data": {"type": "string"}})
_SYSTEM = {"anyOf": [{"type": "string"}, {"type": "array", "items": _TEXT_BLOCK}]}
_MESSAGE_PARAM = {
    "description": "Content may not be empty (an empty final assistant message is taken as no prefill)",
    "anyOf": [
        obj(
            ["role", "content"],
            {
                "role": const("user"),
                "content": {
                    "anyOf": [
                        NON_EMPTY,
                        {
                            "type": "array",
                            "minItems": 1,
                            "items": {"anyOf": [_TEXT_BLOCK, _IMAGE_BLOCK, _DOCUMENT_BLOCK, _TOOL_RESULT_BLOCK]},
                        },
                    ]
                },
            },
        ),
        obj(
            ["role", "content"],
            {
                "role": const("assistant"),
                "content": {
                    "anyOf": [
                        NON_EMPTY,
                        {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "anyOf": [_TEXT_BLOCK, _TOOL_USE_BLOCK, _THINKING_BLOCK, _REDACTED_THINKING_BLOCK]
                            },
                        },
                    ]
                },
            },
        ),
        obj(["role", "content"], {"role": const("system"), "content": _SYSTEM}),
    ],
}
_CUSTOM_TOOL = obj(
    ["name", "input_schema"],
    {
        "type": const("custom"),
        "name": NON_EMPTY,
        "input_schema": {"type": "object", "description": "JSON Schema of the input"},
        "description": {"type": "string"},
        "strict": {"type": "boolean"},
    },
    description="A custom tool; server tools (web search, code execution, bash...) are not supported",
)
_PARALLEL = {"disable_parallel_tool_use": {"type": "boolean"}}
_TOOL_CHOICE = {
    "description": "`any` and `tool` need `tools`",
    "anyOf": [
        obj(["type"], {"type": enum("auto", "any", "none"), **_PARALLEL}),
        obj(["type", "name"], {"type": const("tool"), "name": NON_EMPTY, **_PARALLEL}),
    ],
}
_THINKING = {
    "anyOf": [
        obj(
            ["type", "budget_tokens"],
            {"type": const("enabled"), "budget_tokens": {"type": "integer", "minimum": 1024, "maximum": MAX_TOKENS}},
        ),
        obj(["type"], {"type": enum("disabled", "adaptive", "between_tools")}),
    ]
}
_ANY_TOOL = needs_tools({"properties": {"type": enum("any", "tool")}})
_PROMPT: JSON = {
    "model": {"type": "string", "description": "`provider/model` or a bare model id"},
    "messages": {"type": "array", "minItems": 1, "maxItems": 100_000, "items": _MESSAGE_PARAM},
    "system": _SYSTEM,
    "tools": {"type": "array", "items": _CUSTOM_TOOL},
    "tool_choice": _TOOL_CHOICE,
    "thinking": _THINKING,
}
MESSAGES_REQUEST: JSON = obj(
    ["model", "max_tokens", "messages"],
    {
        **_PROMPT,
        "max_tokens": TOKENS,
        "stream": {"type": "boolean", "default": False},
        "stop_sequences": {"type": "array", "items": {"type": "string"}},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "top_k": {"type": "integer", "minimum": 0},
        "metadata": {"type": "object", "properties": {"user_id": {"type": ["string", "null"]}}},
        "service_tier": enum("auto", "standard_only"),
        **ROUTING,
    },
    description="Anthropic Messages request, on any routed model (native to Anthropic-protocol providers)",
    **_ANY_TOOL,
)
COUNT_TOKENS_REQUEST: JSON = obj(
    ["model", "messages"], {**_PROMPT, **ROUTING}, description="The prompt part of a Messages request", **_ANY_TOOL
)

# --------------------------------------------------------------------------- Messages: answers

_CONTENT_BLOCK = {
    "anyOf": [
        obj(
            ["type", "text"],
            {"type": const("text"), "text": {"type": "string"}, "citations": {"type": ["array", "null"]}},
        ),
        obj(
            ["type", "id", "name", "input"],
            {
                "type": const("tool_use"),
                "id": {"type": "string"},
                "name": {"type": "string"},
                "input": {"type": "object"},
            },
        ),
        obj(
            ["type", "thinking", "signature"],
            {"type": const("thinking"), "thinking": {"type": "string"}, "signature": {"type": "string"}},
        ),
        obj(["type", "data"], {"type": const("redacted_thinking"), "data": {"type": "string"}}),
        other(["text", "tool_use", "thinking", "redacted_thinking"]),
    ]
}
_NULLABLE_COUNT = {"type": ["integer", "null"]}
MESSAGE_USAGE: JSON = obj(
    ["input_tokens", "output_tokens"],
    {
        "input_tokens": {"type": "integer"},
        "output_tokens": {"type": "integer"},
        "cache_creation_input_tokens": _NULLABLE_COUNT,
        "cache_read_input_tokens": _NULLABLE_COUNT,
        "cache_creation": {"type": ["object", "null"]},
        "service_tier": {"type": ["string", "null"]},
        "cost": {"type": "number", "description": "Gateway: what this request cost, USD"},
    },
)
MESSAGE: JSON = obj(
    ["id", "type", "role", "model", "content", "usage"],
    {
        "id": {"type": "string", "description": "msg_..."},
        "type": const("message"),
        "role": const("assistant"),
        "model": {"type": "string"},
        "content": {"type": "array", "items": _CONTENT_BLOCK},
        "stop_reason": {
            "type": ["string", "null"],
            "enum": [
                "end_turn",
                "max_tokens",
                "stop_sequence",
                "tool_use",
                "pause_turn",
                "refusal",
                "model_context_window_exceeded",
                None,
            ],
        },
        "stop_sequence": {"type": ["string", "null"]},
        "usage": ref("MessageUsage"),
    },
    description="Anthropic's Message (the SDK's required fields), with `usage.cost` added",
)
# Anthropic's error types (the SDK's ErrorType, and request_too_large of Anthropic's errors page).
ANTHROPIC_ERROR_TYPES = [
    "invalid_request_error", "authentication_error", "billing_error", "permission_error", "not_found_error",
    "conflict_error", "request_too_large", "rate_limit_error", "timeout_error", "api_error", "overloaded_error",
]  # fmt: skip
ANTHROPIC_ERROR: JSON = obj(
    ["type", "error"],
    {
        "type": const("error"),
        "error": obj(["type", "message"], {"type": enum(*ANTHROPIC_ERROR_TYPES), "message": {"type": "string"}}),
        "request_id": {"type": ["string", "null"]},
    },
    description="An error in Anthropic's shape: every error under /v1/messages",
)
TOKEN_COUNT: JSON = obj(["input_tokens"], {"input_tokens": {"type": "integer", "minimum": 0}})
ANTHROPIC_MODEL: JSON = obj(
    ["type", "id", "display_name", "created_at", "lifecycle"],
    {
        "type": const("model"),
        "id": {"type": "string", "description": "`provider/model`"},
        "display_name": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "lifecycle": enum("active", "deprecated", "retired"),
    },
    description="Anthropic's ModelInfo (the SDK's required fields)",
)
ANTHROPIC_MODEL_LIST: JSON = obj(
    ["data", "has_more", "first_id", "last_id"],
    {
        "data": {"type": "array", "items": ref("AnthropicModel")},
        "has_more": {"type": "boolean"},
        "first_id": {"type": ["string", "null"]},
        "last_id": {"type": ["string", "null"]},
    },
)

MESSAGES_SCHEMAS: dict[str, JSON] = {
    "MessagesRequest": MESSAGES_REQUEST,
    "CountTokensRequest": COUNT_TOKENS_REQUEST,
    "Message": MESSAGE,
    "MessageUsage": MESSAGE_USAGE,
    "MessageTokensCount": TOKEN_COUNT,
    "AnthropicError": ANTHROPIC_ERROR,
    "AnthropicModel": ANTHROPIC_MODEL,
    "AnthropicModelList": ANTHROPIC_MODEL_LIST,
}
