"""The image operations in the OpenAPI document (inline schemas: the image shapes are small)."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

_REQUEST: JSON = {
    "type": "object",
    "required": ["model", "prompt"],
    "properties": {
        "model": {"type": "string"},
        "prompt": {"type": "string", "minLength": 1, "maxLength": 32000},
        "n": {"type": "integer", "minimum": 1, "maximum": 10},
        "size": {"type": "string", "examples": ["1024x1024"]},
        "quality": {"type": "string", "examples": ["standard", "hd", "low", "medium", "high", "auto"]},
        "style": {"type": "string"},
        "response_format": {"type": "string", "enum": ["url", "b64_json"]},
        "output_format": {"type": "string", "enum": ["png", "jpeg", "webp"]},
        "background": {"type": "string"},
        "user": {"type": "string"},
        "provider": {"description": "Routing preference, as for chat."},
        "models": {"type": "array", "items": {"type": "string"}},
        "dry_run": {"type": "boolean", "description": "Answer with the estimate instead of generating."},
    },
}
_IMAGES: JSON = {
    "type": "object",
    "required": ["created", "data"],
    "properties": {
        "created": {"type": "integer"},
        "data": {"type": "array", "items": {"type": "object", "properties": {
            "url": {"type": "string"}, "b64_json": {"type": "string"}, "revised_prompt": {"type": "string"}}}},
        "size": {"type": "string"},
        "quality": {"type": "string"},
        "usage": {"type": "object", "properties": {
            "images": {"type": "integer"}, "input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"},
            "total_tokens": {"type": "integer"}, "cost": {"type": "number", "description": "USD charged"}}},
    },
}
_ESTIMATE: JSON = {
    "type": "object",
    "required": ["object", "model", "cost"],
    "properties": {
        "object": {"const": "image.estimate"},
        "model": {"type": "string"}, "n": {"type": "integer"}, "size": {"type": "string"},
        "quality": {"type": "string"}, "prompt_tokens": {"type": "integer"}, "currency": {"const": "USD"},
        "cost": {"type": "string", "description": "The most the request can cost (what it holds), USD"},
        "routes": {"type": "array", "items": {"type": "object"}},
    },
}


_ERRORS = {
    "402": "Insufficient credits or key budget",
    "404": "The model does not exist, or no configured provider serves it",
    "409": "Idempotency-Key reused with another body",
    "502": "The upstream provider failed",
    "503": "No provider can serve the request now",
    "504": "The upstream provider timed out",
}


def _ok(description: str, schema: JSON, errors: tuple[str, ...] = tuple(_ERRORS)) -> JSON:
    answers: JSON = {"200": {"description": description, "content": {"application/json": {"schema": schema}}}}
    for status in errors:
        answers[status] = {"description": _ERRORS[status],
                           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return answers


GENERATIONS_OPERATION: JSON = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": _REQUEST}}},
    "responses": _ok("The images (URLs or base64), with usage and cost; with dry_run the estimate", _IMAGES),
}
ESTIMATE_OPERATION: JSON = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": _REQUEST}}},
    "responses": _ok("What the request would cost, without running it", _ESTIMATE, ("404",)),
}
EDITS_OPERATION: JSON = {
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["image", "prompt", "model"],
        "properties": {**{k: v for k, v in _REQUEST["properties"].items() if k not in ("dry_run",)},
                       "image": {"type": "string", "format": "binary"},
                       "mask": {"type": "string", "format": "binary"}}}}}},
    "responses": _ok("The edited images", _IMAGES),
}
FILE_OPERATION: JSON = {
    "responses": {"200": {"description": "A generated image, until its URL expires", "content": {
        "image/png": {}, "image/jpeg": {}, "image/webp": {}}}},
}
