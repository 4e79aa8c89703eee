"""The OpenAPI document, as the API really answers.

FastAPI's generated document says every operation may answer 422 with its own validation shape;
this gateway answers 400 in the OpenAI error shape instead (errors.py), so 422 is removed and the
statuses the gateway does answer are documented on the operations where they occur, each with the
`Error` schema (under /v1/messages, Anthropic's `AnthropicError`, and its 529 where the gateway
says 503). Optional query parameters are documented as their type (FastAPI says "or null", which
a query string cannot express). Built once per process, on the first GET /openapi.json.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gatewayz.errors import ANTHROPIC_FACE
from gatewayz.http.early_auth import BODY_METHODS, is_public
from gatewayz.inference.openapi import SCHEMAS as INFERENCE_SCHEMAS

JSON = dict[str, Any]

ERROR_SCHEMA: JSON = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}

DESCRIPTIONS = {
    "400": "Invalid request: a parameter or the body is malformed (`param` names it)",
    "401": "Missing, unknown, revoked or expired API key",
    "402": "Insufficient credits or key budget",
    "403": "The key may not do this (scope, role, IP, referer, model)",
    "404": "Not found",
    "409": "Conflict with the current state",
    "413": "Request body too large",
    "415": "The body is not JSON",
    "429": "Rate limit or request cap reached; see Retry-After",
    "502": "The upstream provider failed",
    "503": "A dependency is unavailable",
    "504": "The upstream provider timed out",
}
INFERENCE_BODY_PATHS = ("/v1/chat/completions", "/v1/embeddings", "/v1/responses", "/v1/messages")
NOT_FOUND = {
    ("/admin/credits", "post"),  # the user
    ("/admin/refunds", "post"),  # the request id
    ("/v1/messages/count_tokens", "post"),  # the model
    ("/teams/invitations/accept", "post"),  # the invitation (its token is in the body)
}
CONFLICTS = {
    ("/admin/users", "post"),
    ("/admin/roles", "post"),  # the name is taken
    ("/admin/roles/{name}", "delete"),  # another role inherits it
    ("/teams/{team_id}", "delete"),  # requests still spend from the pool
    ("/teams/{team_id}/members/{user_id}", "patch"),  # the last owner
    ("/teams/{team_id}/members/{user_id}", "delete"),
    ("/teams/invitations/accept", "post"),  # a member already
    *((path, "post") for path in INFERENCE_BODY_PATHS),  # Idempotency-Key reused with another body
}
RESPONSE_STORE = "/v1/responses"  # every route under it answers 503 while stored responses are not configured
# Errors under /v1/messages are Anthropic's (errors.ANTHROPIC_FACE): its schema, and its 529 for a 503.
ANTHROPIC_PREFIX = ANTHROPIC_FACE
ANTHROPIC_STATUSES = {"503": "529"}
ANTHROPIC_DESCRIPTIONS = {"529": "Overloaded: no provider can serve the request now (Anthropic's 529)"}


def _error(status: str, schema: str = "Error") -> JSON:
    return {
        "description": DESCRIPTIONS.get(status) or ANTHROPIC_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _statuses(path: str, method: str, operation: JSON) -> list[str]:
    """The error statuses an operation can answer, from what the middleware and routes do."""
    codes: list[str] = []
    has_body = method.upper() in BODY_METHODS
    if operation.get("parameters") or "requestBody" in operation or has_body:
        codes.append("400")
    if not is_public(path):
        codes += ["401", "403", "429"]
    if path in INFERENCE_BODY_PATHS:
        codes += ["402", "404", "502", "503", "504"]
    if "{" in path or (path, method) in NOT_FOUND:
        codes.append("404")
    if (path, method) in CONFLICTS:
        codes.append("409")
    if has_body:
        codes += ["413", "415"]
    if path == "/health/ready" or path.startswith(RESPONSE_STORE):
        codes.append("503")
    if path.startswith(ANTHROPIC_PREFIX):
        codes = [ANTHROPIC_STATUSES.get(code, code) for code in codes]
    return sorted(set(codes))


def _unnull(schema: JSON) -> JSON:
    options = schema.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        (kept,) = [o for o in options if o != {"type": "null"}]
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        return {**kept, **rest}
    return schema


def build_document(app: FastAPI) -> JSON:
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = ERROR_SCHEMA
    schemas.update(INFERENCE_SCHEMAS)
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            schema = "AnthropicError" if path.startswith(ANTHROPIC_PREFIX) else "Error"
            for status in _statuses(path, method, operation):
                responses.setdefault(status, _error(status, schema))
            for param in operation.get("parameters", []):
                if param.get("in") == "query" and not param.get("required"):
                    param["schema"] = _unnull(param["schema"])
    return document


def install_openapi(app: FastAPI) -> None:
    def openapi() -> JSON:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
