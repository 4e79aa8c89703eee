"""Serving `gw_test_` keys from the built-in deterministic simulator: no upstream, no charge."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import Response

from gatewayz.errors import GatewayError
from gatewayz.inference.asgi import EventStreamResponse
from gatewayz.inference.sse import DONE, encode
from gatewayz.providers.sandbox import (
    SANDBOX_PROVIDER,
    SandboxError,
    requested_delay_ms,
    sandbox_models,
    simulate_chat,
    simulate_chat_stream,
    simulate_embeddings,
)

JSON = dict[str, Any]
HEADERS = {"x-gatewayz-provider": SANDBOX_PROVIDER}


def _as_gateway_error(exc: SandboxError) -> GatewayError:
    return GatewayError(exc.message, status=exc.status, type=exc.type, code=exc.code, param=exc.param)


async def _delay(body: JSON) -> None:
    delay = requested_delay_ms(body)
    if delay:
        await asyncio.sleep(delay / 1000)


def _headers(model: str) -> dict[str, str]:
    return {**HEADERS, "x-gatewayz-model": model}


async def sandbox_chat(body: JSON, model: str, *, stream: bool) -> Response | EventStreamResponse:
    response_id = "chatcmpl-" + secrets.token_hex(12)
    created = int(time.time())
    await _delay(body)
    try:
        if not stream:
            result = simulate_chat(body, response_id=response_id, created=created)
            return Response(orjson.dumps(result), media_type="application/json", headers=_headers(model))
        chunks = simulate_chat_stream(body, response_id=response_id, created=created)
    except SandboxError as exc:
        raise _as_gateway_error(exc) from exc

    async def events() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield encode(chunk)
            await asyncio.sleep(0)
        yield DONE

    return EventStreamResponse(events(), _headers(model))


async def sandbox_embeddings(body: JSON, model: str) -> Response:
    await _delay(body)
    try:
        result = simulate_embeddings(body)
    except SandboxError as exc:
        raise _as_gateway_error(exc) from exc
    return Response(orjson.dumps(result), media_type="application/json", headers=_headers(model))


def sandbox_model_list() -> list[JSON]:
    return [{"id": m, "object": "model", "created": 0, "owned_by": SANDBOX_PROVIDER} for m in sandbox_models()]
