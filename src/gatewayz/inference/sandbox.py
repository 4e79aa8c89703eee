"""Serving `gw_test_` keys from the built-in deterministic simulator: no upstream, no charge."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from gatewayz.errors import GatewayError
from gatewayz.inference.asgi import EventStreamResponse
from gatewayz.inference.pipeline import InferenceCall
from gatewayz.inference.relay import FaceStream
from gatewayz.providers.sandbox import (
    SANDBOX_PROVIDER,
    SandboxError,
    requested_delay_ms,
    sandbox_models,
    simulate_chat,
    simulate_chat_stream,
    simulate_embeddings,
)
from gatewayz.providers.sandbox_checks import require_model

JSON = dict[str, Any]
HEADERS = {"x-gatewayz-provider": SANDBOX_PROVIDER}


def check_sandbox_model(body: JSON, endpoint: str) -> None:
    """Before admission (rate limits, idempotency): a test key naming a model the sandbox does not
    have is refused like a live key naming a model no provider serves, and costs no quota."""
    try:
        require_model(body, endpoint)
    except SandboxError as exc:
        raise _as_gateway_error(exc) from exc


def _as_gateway_error(exc: SandboxError) -> GatewayError:
    return GatewayError(exc.message, status=exc.status, type=exc.type, code=exc.code, param=exc.param)


async def _delay(body: JSON) -> None:
    delay = requested_delay_ms(body)
    if delay:
        await asyncio.sleep(delay / 1000)


def _headers(model: str) -> dict[str, str]:
    return {**HEADERS, "x-gatewayz-model": model}


async def sandbox_chat(call: InferenceCall, stream: FaceStream | None) -> tuple[None, JSON] | EventStreamResponse:
    """Simulated chat; the same stages run as for a real provider (usage recorded at zero cost),
    and a stream goes out through the face's renderer like a relayed one."""
    body, model = call.body, call.model
    response_id = "chatcmpl-" + secrets.token_hex(12)
    created = int(time.time())
    await _delay(body)
    try:
        if stream is None:
            return None, simulate_chat(body, response_id=response_id, created=created)
        chunks = simulate_chat_stream(body, response_id=response_id, created=created)
    except SandboxError as exc:
        raise _as_gateway_error(exc) from exc
    face = stream

    async def events() -> AsyncIterator[bytes]:
        for data in face.renderer.start():
            yield data
        for chunk in chunks:
            for data in face.forward([chunk]):
                yield data
            await asyncio.sleep(0)
        usage = face.usage_chunk["usage"] if face.usage_chunk is not None else None
        yield await face.close(usage)

    async def cleanup() -> None:
        if not call.status:
            call.status = 499
        await face.finish(call)

    return EventStreamResponse(events(), {**call.headers, **_headers(model)}, cleanup)


async def sandbox_embeddings(call: InferenceCall) -> tuple[None, JSON]:
    await _delay(call.body)
    try:
        return None, simulate_embeddings(call.body)
    except SandboxError as exc:
        raise _as_gateway_error(exc) from exc


def sandbox_model_list() -> list[JSON]:
    return [{"id": m, "object": "model", "created": 0, "owned_by": SANDBOX_PROVIDER} for m in sandbox_models()]
