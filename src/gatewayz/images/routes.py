"""The image endpoints: OpenAI's, the seed's `/images/generate`, estimates and the stored files."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from gatewayz.errors import ServiceUnavailable
from gatewayz.images.openapi import EDITS_OPERATION, ESTIMATE_OPERATION, FILE_OPERATION, GENERATIONS_OPERATION
from gatewayz.images.service import ImagesService
from gatewayz.services import services

router = APIRouter(tags=["Images"])


def _images(request: Request) -> ImagesService:
    images = getattr(services(request), "images", None)
    if images is None:
        raise ServiceUnavailable("Image generation is not configured.")
    return images  # type: ignore[no-any-return]


@router.post("/v1/images/generations", openapi_extra=GENERATIONS_OPERATION, response_model=None)
@router.post("/images/generate", openapi_extra=GENERATIONS_OPERATION, response_model=None)
async def generate(request: Request) -> Any:
    """OpenAI image generation on any routed image model, priced per image (or per token); also at
    the seed's path, POST /images/generate."""
    return await _images(request).generate(request)


@router.post("/v1/images/estimate", openapi_extra=ESTIMATE_OPERATION, response_model=None)
async def estimate(request: Request) -> Response:
    """The price of an image request before running it (what it would hold)."""
    return await _images(request).estimate(request)


@router.post("/v1/images/edits", openapi_extra=EDITS_OPERATION, response_model=None)
async def edit(request: Request) -> Any:
    """OpenAI image edits (multipart: image or image[], mask, prompt) where the provider edits images."""
    return await _images(request).edit(request)


@router.get("/v1/images/files/{image_id}", openapi_extra=FILE_OPERATION, response_model=None)
async def image_file(image_id: str, request: Request) -> Response:
    """A generated image the gateway keeps, by its unguessable id, until it expires (then 404)."""
    return await _images(request).file(image_id)
