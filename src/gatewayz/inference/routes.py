"""The OpenAI-compatible endpoints. Bodies are read raw (orjson) rather than through pydantic
models: the gateway forwards every parameter it does not itself need, and this is the hot path."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from gatewayz.errors import ServiceUnavailable
from gatewayz.http.params import QueryInt
from gatewayz.inference.openapi import (
    CHAT_OPERATION,
    COUNT_TOKENS_OPERATION,
    EMBEDDINGS_OPERATION,
    INPUT_ITEMS_OPERATION,
    MESSAGES_OPERATION,
    MODEL_OPERATION,
    MODELS_OPERATION,
    RESPONSE_DELETED_OPERATION,
    RESPONSE_OPERATION,
    RESPONSES_OPERATION,
)
from gatewayz.inference.responses_state import ResponsesState
from gatewayz.services import services

router = APIRouter(tags=["Inference"])


def _responses(request: Request) -> ResponsesState:
    state = services(request).inference.responses
    if state is None:
        raise ServiceUnavailable("Stored responses are not configured.")
    return state


@router.post("/v1/chat/completions", openapi_extra=CHAT_OPERATION, response_model=None)
async def chat_completions(request: Request) -> Any:
    """OpenAI Chat Completions, streaming (SSE) or not, routed to the providers serving `model`."""
    return await services(request).inference.chat(request)


@router.post("/v1/responses", openapi_extra=RESPONSES_OPERATION, response_model=None)
async def create_response(request: Request) -> Any:
    """OpenAI Responses, streaming or not, on any routed model (translated onto each provider's protocol)."""
    return await services(request).inference.create_response(request)


@router.get("/v1/responses/{response_id}", openapi_extra=RESPONSE_OPERATION, response_model=None)
async def retrieve_response(response_id: str, request: Request) -> Response:
    """A stored response (`store` was not false), the caller's own only."""
    return await _responses(request).retrieve(request, response_id)


@router.delete("/v1/responses/{response_id}", openapi_extra=RESPONSE_DELETED_OPERATION, response_model=None)
async def delete_response(response_id: str, request: Request) -> Response:
    """Delete a stored response; a later `previous_response_id` naming it is refused."""
    return await _responses(request).delete(request, response_id)


@router.get("/v1/responses/{response_id}/input_items", openapi_extra=INPUT_ITEMS_OPERATION, response_model=None)
async def list_input_items(
    response_id: str,
    request: Request,
    limit: QueryInt = Query(20, ge=1, le=100),
    order: Literal["asc", "desc"] = "desc",
    after: str | None = Query(None, max_length=128),
) -> Response:
    """The input items of a stored response, OpenAI's list page (`first_id`, `last_id`, `has_more`)."""
    return await _responses(request).input_items(request, response_id, limit=limit, order=order, after=after)


@router.post("/v1/messages", openapi_extra=MESSAGES_OPERATION, response_model=None)
async def messages(request: Request) -> Any:
    """Anthropic Messages on any routed model: passed natively to Anthropic-protocol providers,
    translated for every other one. Errors here are in Anthropic's shape."""
    return await services(request).inference.messages(request)


@router.post("/v1/messages/count_tokens", openapi_extra=COUNT_TOKENS_OPERATION, response_model=None)
async def count_message_tokens(request: Request) -> Response:
    """The prompt's input tokens: the provider's own count where it has one, else the gateway's estimate."""
    return await services(request).inference.count_tokens(request)


@router.post("/v1/embeddings", openapi_extra=EMBEDDINGS_OPERATION, response_model=None)
async def embeddings(request: Request) -> Response:
    """OpenAI Embeddings."""
    return await services(request).inference.embeddings(request)


@router.get("/v1/models", openapi_extra=MODELS_OPERATION, response_model=None)
async def list_models(request: Request) -> Response:
    """The models this gateway can route to, as `provider/model` ids."""
    return await services(request).inference.models(request)


@router.get("/v1/models/{model_id:path}", openapi_extra=MODEL_OPERATION, response_model=None)
async def get_model(model_id: str, request: Request) -> Response:
    """One model of the list, by its `provider/model` id."""
    return await services(request).inference.model(request, model_id)


# Served by http/hot_path.py in front of FastAPI's stack (their routes above stay for the OpenAPI document).
HOT_ROUTES = {
    "/v1/chat/completions": chat_completions,
    "/v1/responses": create_response,
    "/v1/messages": messages,
    "/v1/embeddings": embeddings,
}
