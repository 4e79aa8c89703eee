"""Documentation-only schemas of the Chat Completions, Embeddings and Models routes (JSON Schema, in
the spirit of OpenAI's published spec). The routes read raw bodies (orjson) and never validate
against these: the hot path gains nothing, and parameters the gateway does not know are forwarded as
they are (hence no `additionalProperties: false`). What is here is what a client may rely on,
including what the gateway adds: `usage.cost` (USD) and the routing fields `provider` and `models`
of a request. The Responses and Messages faces' schemas are in openapi_faces.py and
openapi_messages.py; openapi.py gathers them all."""

from __future__ import annotations

from gatewayz.inference.openapi_faces import JSON, ROUTING, ref

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
_ROUTING: JSON = {**ROUTING, "user": {"type": "string"}}
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

CHAT_SCHEMAS: dict[str, JSON] = {
    "ChatCompletionRequest": CHAT_REQUEST,
    "ChatCompletion": CHAT_RESPONSE,
    "ChatCompletionChunk": CHAT_CHUNK,
    "Usage": USAGE,
    "EmbeddingsRequest": EMBEDDINGS_REQUEST,
    "Embeddings": EMBEDDINGS_RESPONSE,
    "Model": MODEL,
    "ModelList": MODEL_LIST,
}
