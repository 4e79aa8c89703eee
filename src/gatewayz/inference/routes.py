"""The OpenAI-compatible endpoints. Bodies are read raw (orjson) rather than through pydantic
models: the gateway forwards every parameter it does not itself need, and this is the hot path."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from gatewayz.inference.openapi import CHAT_OPERATION, EMBEDDINGS_OPERATION, MODEL_OPERATION, MODELS_OPERATION
from gatewayz.services import services

router = APIRouter(tags=["Inference"])


@router.post("/v1/chat/completions", openapi_extra=CHAT_OPERATION, response_model=None)
async def chat_completions(request: Request) -> Any:
    """OpenAI Chat Completions, streaming (SSE) or not, routed to the providers serving `model`."""
    return await services(request).inference.chat(request)


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
