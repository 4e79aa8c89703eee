"""The OpenAPI side of the inference routes: every schema of the three faces and of the embeddings
and models routes (`SCHEMAS`, the document's components: openapi_chat.py, openapi_faces.py,
openapi_messages.py), and each route's `openapi_extra` (its parameters, request body and answers).
All of it is documentation only: the routes read raw bodies and never validate against it."""

from __future__ import annotations

from gatewayz.inference.openapi_chat import CHAT_SCHEMAS
from gatewayz.inference.openapi_faces import JSON, RESPONSES_SCHEMAS, ref
from gatewayz.inference.openapi_messages import MESSAGES_SCHEMAS

SCHEMAS: dict[str, JSON] = {**RESPONSES_SCHEMAS, **MESSAGES_SCHEMAS, **CHAT_SCHEMAS}


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
