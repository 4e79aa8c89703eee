"""Documentation-only schemas of the OpenAI-compatible routes (JSON Schema, in the spirit of OpenAI's
published spec). The routes read raw bodies (orjson) and never validate against these: the hot path
gains nothing, and parameters the gateway does not know are forwarded as they are (hence no
`additionalProperties: false`). What is here is what a client may rely on, including what the gateway
adds: `usage.cost` (USD) and the routing fields `provider` and `models` of a request."""

from __future__ import annotations

from typing import Any

from gatewayz.inference.openapi_faces import RESPONSES_SCHEMAS
from gatewayz.inference.openapi_messages import MESSAGES_SCHEMAS

JSON = dict[str, Any]


def ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


_TEXT_PART: JSON = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}},
}
_IMAGE_PART: JSON = {
    "type": "object",
    "required": ["type", "image_url"],
    "properties": {
        "type": {"type": "string", "enum": ["image_url"]},
        "image_url": {
            "type": "object",
            "required": ["url"],
            "properties": {
                "url": {"type": "string", "description": "https URL or data: URL"},
                "detail": {"type": "string", "enum": ["auto", "low", "high"]},
            },
        },
    },
}
_CONTENT: JSON = {
    "anyOf": [
        {"type": "string"},
        {"type": "array", "items": {"anyOf": [_TEXT_PART, _IMAGE_PART, {"type": "object"}]}},
        {"type": "null"},
    ]
}
_TOOL_CALL: JSON = {
    "type": "object",
    "required": ["id", "type", "function"],
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string", "enum": ["function"]},
        "function": {
            "type": "object",
            "required": ["name", "arguments"],
            "properties": {"name": {"type": "string"}, "arguments": {"type": "string", "description": "JSON text"}},
        },
    },
}
_MESSAGE: JSON = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool", "function"]},
        "content": _CONTENT,
        "name": {"type": "string"},
        "tool_calls": {"type": "array", "items": _TOOL_CALL},
        "tool_call_id": {"type": "string"},
    },
}
_TOOL: JSON = {
    "type": "object",
    "required": ["type", "function"],
    "properties": {
        "type": {"type": "string", "enum": ["function"]},
        "function": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "description": {"type": "string"},
                "parameters": {"type": "object", "description": "JSON Schema of the arguments"},
                "strict": {"type": "boolean"},
            },
        },
    },
}
_ROUTING: JSON = {
    "provider": {"type": "string", "description": "Gateway: only this provider may serve the request"},
    "models": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Gateway: fallback models, tried in order after `model`",
    },
    "user": {"type": "string"},
}
_SESSION_ID: JSON = {"type": "string", "minLength": 1, "maxLength": 128}
_HISTORY: JSON = {
    "session_id": {
        **_SESSION_ID,
        "description": "Gateway: keep this chat's history server-side: `new` starts a session, a session id "
        "continues one (its earlier turns go before `messages`, trimmed to the model's context)",
    },
    "conversation": {**_SESSION_ID, "description": "Gateway: another name of `session_id`"},
    "history": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"summarize": {"type": "boolean", "description": "summarize what trimming leaves out"}},
        "description": "Gateway: with `session_id` only",
    },
}

CHAT_REQUEST: JSON = {
    "type": "object",
    "required": ["model", "messages"],
    "description": "OpenAI Chat Completions request. Parameters not listed are forwarded to the provider.",
    "properties": {
        "model": {"type": "string", "description": "`provider/model` or a bare model id"},
        "messages": {"type": "array", "minItems": 1, "items": _MESSAGE},
        "tools": {"type": "array", "items": _TOOL},
        "tool_choice": {
            "anyOf": [
                {"type": "string", "enum": ["none", "auto", "required"]},
                {"type": "object", "required": ["type", "function"]},
            ]
        },
        "response_format": {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"type": "string", "enum": ["text", "json_object", "json_schema"]},
                "json_schema": {"type": "object"},
            },
        },
        "stream": {"type": "boolean", "default": False},
        "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
        "max_tokens": {"type": "integer", "minimum": 1},
        "max_completion_tokens": {"type": "integer", "minimum": 1},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "n": {"type": "integer", "minimum": 1, "maximum": 128},
        "stop": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 4}]},
        "seed": {"type": "integer"},
        **_ROUTING,
        **_HISTORY,
    },
}

USAGE: JSON = {
    "type": "object",
    "required": ["prompt_tokens", "total_tokens"],
    "properties": {
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
        "prompt_tokens_details": {"type": ["object", "null"]},
        "completion_tokens_details": {"type": ["object", "null"]},
        "cost": {"type": "number", "description": "Gateway: what this request cost, USD"},
    },
}
CHAT_RESPONSE: JSON = {
    "type": "object",
    "required": ["id", "object", "created", "model", "choices"],
    "properties": {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["chat.completion"]},
        "created": {"type": "integer"},
        "model": {"type": "string"},
        "system_fingerprint": {"type": ["string", "null"]},
        "choices": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "message"],
                "properties": {
                    "index": {"type": "integer"},
                    "message": {
                        "type": "object",
                        "required": ["role"],
                        "properties": {
                            "role": {"type": "string", "enum": ["assistant"]},
                            "content": {"type": ["string", "null"]},
                            "refusal": {"type": ["string", "null"]},
                            "tool_calls": {"type": "array", "items": _TOOL_CALL},
                        },
                    },
                    "finish_reason": {"type": ["string", "null"]},
                    "logprobs": {"type": ["object", "null"]},
                },
            },
        },
        "usage": ref("Usage"),
    },
}
CHAT_CHUNK: JSON = {
    "type": "object",
    "description": "One `data:` event of a stream; the stream ends with `data: [DONE]`.",
    "required": ["id", "object", "created", "model", "choices"],
    "properties": {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["chat.completion.chunk"]},
        "created": {"type": "integer"},
        "model": {"type": "string"},
        "choices": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "delta"],
                "properties": {
                    "index": {"type": "integer"},
                    "delta": {"type": "object"},
                    "finish_reason": {"type": ["string", "null"]},
                },
            },
        },
        "usage": {"anyOf": [ref("Usage"), {"type": "null"}]},
    },
}
EMBEDDINGS_REQUEST: JSON = {
    "type": "object",
    "required": ["model", "input"],
    "properties": {
        "model": {"type": "string"},
        "input": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}},
                {"type": "array", "items": {"type": "integer"}},
                {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
            ]
        },
        "encoding_format": {"type": "string", "enum": ["float", "base64"]},
        "dimensions": {"type": "integer", "minimum": 1, "maximum": 8192, "description": "at most the model's own size"},
        **_ROUTING,
    },
}
EMBEDDINGS_RESPONSE: JSON = {
    "type": "object",
    "required": ["object", "data", "model"],
    "properties": {
        "object": {"type": "string", "enum": ["list"]},
        "data": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["object", "embedding", "index"],
                "properties": {
                    "object": {"type": "string", "enum": ["embedding"]},
                    "embedding": {"anyOf": [{"type": "array", "items": {"type": "number"}}, {"type": "string"}]},
                    "index": {"type": "integer"},
                },
            },
        },
        "model": {"type": "string"},
        "usage": ref("Usage"),
    },
}
MODEL: JSON = {
    "type": "object",
    "required": ["id", "object", "created", "owned_by"],
    "properties": {
        "id": {"type": "string", "description": "`provider/model`"},
        "object": {"type": "string", "enum": ["model"]},
        "created": {"type": "integer"},
        "owned_by": {"type": "string"},
    },
}
MODEL_LIST: JSON = {
    "type": "object",
    "required": ["object", "data"],
    "properties": {"object": {"type": "string", "enum": ["list"]}, "data": {"type": "array", "items": ref("Model")}},
}

SCHEMAS: dict[str, JSON] = {
    **RESPONSES_SCHEMAS,
    **MESSAGES_SCHEMAS,
    "ChatCompletionRequest": CHAT_REQUEST,
    "ChatCompletion": CHAT_RESPONSE,
    "ChatCompletionChunk": CHAT_CHUNK,
    "Usage": USAGE,
    "EmbeddingsRequest": EMBEDDINGS_REQUEST,
    "Embeddings": EMBEDDINGS_RESPONSE,
    "Model": MODEL,
    "ModelList": MODEL_LIST,
}


def _json_body(name: str) -> JSON:
    return {"required": True, "content": {"application/json": {"schema": ref(name)}}}


def _ok(description: str, content: JSON) -> JSON:
    return {"200": {"description": description, "content": content}}


def _either(openai: str, anthropic: str) -> JSON:
    """A models answer: OpenAI's shape, or Anthropic's when the request has `anthropic-version`.

    `anyOf` checks the answer; the fields of both shapes are listed on top for the reader only."""
    shapes = {"OpenAI's": SCHEMAS[openai], "Anthropic's": SCHEMAS[anthropic]}
    names = dict.fromkeys(name for shape in shapes.values() for name in shape["properties"])
    fields = {
        name: {
            "description": " and ".join(who for who, shape in shapes.items() if name in shape["properties"]) + " shape"
        }
        for name in names
    }
    return {"type": "object", "properties": fields, "anyOf": [ref(openai), ref(anthropic)]}


_SSE = {"schema": {"type": "string", "description": "SSE of the face's own stream events"}}
_IDEMPOTENCY_KEY: JSON = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A retry with the same key and body gets the first answer again (`idempotent-replayed: true`) "
    "for 24 hours instead of calling the provider twice; while the first request runs a retry is a 409, and the "
    "same key with another body is a 400 (`idempotency_key_reused`)",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
_ANTHROPIC_HEADERS: list[JSON] = [
    {
        "name": name,
        "in": "header",
        "required": False,
        "description": "Forwarded to Anthropic-protocol providers (ignored by the others)",
        "schema": {"type": "string", "minLength": 1},
    }
    for name in ("anthropic-version", "anthropic-beta")
]
_ANTHROPIC_LIST: list[JSON] = [
    {
        "name": "anthropic-version",
        "in": "header",
        "required": False,
        "description": "Present (any value, as the anthropic SDK sends it): the answer is in Anthropic's shape",
        "schema": {"type": "string"},
    },
    *(
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": f"With `anthropic-version`: {what}",
            "schema": {"type": "string"},
        }
        for name, what in (
            ("limit", "page size, 1-1000 (default 20; another value is the default)"),
            ("after_id", "the page after this model id"),
            ("before_id", "the page before this model id"),
        )
    ),
]

CHAT_OPERATION: JSON = {
    "parameters": [_IDEMPOTENCY_KEY],
    "requestBody": _json_body("ChatCompletionRequest"),
    "responses": _ok(
        "A chat.completion, or with `stream: true` a text/event-stream of chat.completion.chunk events",
        {
            "application/json": {"schema": ref("ChatCompletion")},
            "text/event-stream": {"schema": {"type": "string", "description": "SSE of ChatCompletionChunk"}},
        },
    ),
}
EMBEDDINGS_OPERATION: JSON = {
    "parameters": [_IDEMPOTENCY_KEY],
    "requestBody": _json_body("EmbeddingsRequest"),
    "responses": _ok("The embeddings", {"application/json": {"schema": ref("Embeddings")}}),
}
MODELS_OPERATION: JSON = {
    "parameters": _ANTHROPIC_LIST,
    "responses": _ok(
        "The models the caller may use (in Anthropic's page shape with `anthropic-version`)",
        {"application/json": {"schema": _either("ModelList", "AnthropicModelList")}},
    ),
}
MODEL_OPERATION: JSON = {
    "parameters": _ANTHROPIC_LIST[:1],
    "responses": _ok(
        "One model (Anthropic's ModelInfo with `anthropic-version`)",
        {"application/json": {"schema": _either("Model", "AnthropicModel")}},
    ),
}

RESPONSES_OPERATION: JSON = {
    "parameters": [_IDEMPOTENCY_KEY],
    "requestBody": _json_body("ResponsesRequest"),
    "responses": _ok(
        "A Response (kept for `GET /v1/responses/{response_id}` unless `store` is false), or with `stream: true` "
        "a text/event-stream of Responses events ending with `response.completed`",
        {"application/json": {"schema": ref("Response")}, "text/event-stream": _SSE},
    ),
}
RESPONSE_OPERATION: JSON = {
    "responses": _ok("The stored Response, the caller's own", {"application/json": {"schema": ref("Response")}}),
}
RESPONSE_DELETED_OPERATION: JSON = {
    "responses": _ok("Deleted", {"application/json": {"schema": ref("ResponseDeleted")}}),
}
INPUT_ITEMS_OPERATION: JSON = {
    "responses": _ok(
        "A page of the stored response's input items", {"application/json": {"schema": ref("ResponseInputItemList")}}
    ),
}
MESSAGES_OPERATION: JSON = {
    "parameters": [_IDEMPOTENCY_KEY, *_ANTHROPIC_HEADERS],
    "requestBody": _json_body("MessagesRequest"),
    "responses": _ok(
        "An Anthropic Message, or with `stream: true` a text/event-stream of its events ending with `message_stop`",
        {"application/json": {"schema": ref("Message")}, "text/event-stream": _SSE},
    ),
}
COUNT_TOKENS_OPERATION: JSON = {
    "parameters": _ANTHROPIC_HEADERS,
    "requestBody": _json_body("CountTokensRequest"),
    "responses": _ok(
        "The prompt's input tokens: the provider's own count where it has one, else the gateway's estimate",
        {"application/json": {"schema": ref("MessageTokensCount")}},
    ),
}
