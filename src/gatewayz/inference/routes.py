"""The OpenAI-compatible endpoints. Bodies are read raw (orjson) rather than through pydantic
models: the gateway forwards every parameter it does not itself need, and this is the hot path."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from gatewayz.services import services

router = APIRouter(tags=["Inference"])

_JSON_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
}


@router.post("/v1/chat/completions", openapi_extra=_JSON_BODY, response_model=None)
async def chat_completions(request: Request) -> Any:
    """OpenAI Chat Completions, streaming (SSE) or not, routed to the providers serving `model`."""
    return await services(request).inference.chat(request)


@router.post("/v1/embeddings", openapi_extra=_JSON_BODY, response_model=None)
async def embeddings(request: Request) -> Response:
    """OpenAI Embeddings."""
    return await services(request).inference.embeddings(request)


@router.get("/v1/models", response_model=None)
async def list_models(request: Request) -> Response:
    """The models this gateway can route to, as `provider/model` ids."""
    return await services(request).inference.models(request)


@router.get("/v1/models/{model_id:path}", response_model=None)
async def get_model(model_id: str, request: Request) -> Response:
    return await services(request).inference.model(request, model_id)
