"""Relaying an opened provider stream to the client, chunk by chunk, as OpenAI SSE.

Once the first byte has gone to the client the provider is never switched: a failure ends the
stream with an OpenAI-shaped error event (the official SDKs raise it as an APIError). The final
usage-only chunk is held back until the stages have finished (so it can carry the cost); the
stages finish exactly once whatever happens, including a client disconnect.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog

from gatewayz.inference.dispatch import OpenStream, decode_event
from gatewayz.inference.normalise import Chunks, usage
from gatewayz.inference.pipeline import InferenceCall
from gatewayz.inference.sse import DONE, EventTooLarge, encode
from gatewayz.providers.protocols.errors import UpstreamStreamError
from gatewayz.providers.upstream import UpstreamFailure, scrubbed, transport_errors, transport_reason

log = structlog.get_logger("gatewayz.inference.relay")
CLIENT_CLOSED = 499
JSON = dict[str, Any]


def error_event(message: str, type_: str, code: str) -> bytes:
    return encode({"error": {"message": message, "type": type_, "param": None, "code": code}})


def generated_chars(chunk: JSON) -> int:
    """Text the chunk adds (content, reasoning, tool-call arguments): the usage estimate's input."""
    total = 0
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        for name in ("content", "reasoning_content", "reasoning"):
            value = delta.get(name)
            if isinstance(value, str):
                total += len(value)
        for call in delta.get("tool_calls") or ():
            function = call.get("function") or {}
            total += len(function.get("name") or "") + len(function.get("arguments") or "")
    return total


def is_usage_chunk(chunk: JSON) -> bool:
    return not chunk.get("choices") and bool(chunk.get("usage"))


async def relay(
    opened: OpenStream,
    call: InferenceCall,
    finish: Callable[[InferenceCall], Awaitable[None]],
    decorate_usage: Callable[[InferenceCall, JSON], None],
) -> AsyncIterator[bytes]:
    route = opened.route
    translator = opened.translator
    usage_chunk: JSON | None = None
    call.route, call.first_byte_at, call.status = route, opened.first_byte_at, CLIENT_CLOSED
    complete = Chunks(call.request_id, call.model).chunk  # every chunk in OpenAI's schema

    def forward(chunks: list[JSON]) -> list[bytes]:
        nonlocal usage_chunk
        out = []
        for chunk in chunks:
            if is_usage_chunk(chunk):
                usage_chunk = chunk
                continue
            call.generated_chars += generated_chars(chunk)
            out.append(encode(complete(chunk)))
        return out

    try:
        for data in forward(opened.first_chunks):
            yield data
        finished = False
        async for event, raw in opened.events:
            decoded = decode_event(route, raw)
            if decoded is None:  # OpenAI's [DONE]
                finished = True
                break
            for data in forward(translator.feed(event, decoded)):
                yield data
            if event == "message_stop":  # Anthropic's end of message
                finished = True
                break
        if route.spec.protocol == "gemini":
            finished = True  # Gemini streams simply end
        for data in forward(translator.finish()):
            yield data
        if not finished:
            raise UpstreamFailure(route.provider, "protocol", "the stream ended before it was complete")
        call.usage = translator.usage
        call.status = 200
        call.finished_at = time.monotonic()
        await finish(call)
        if usage_chunk is not None:
            decorate_usage(call, usage_chunk["usage"])
            usage(usage_chunk["usage"])  # only now: billing has read the provider's own counts
            yield encode(complete(usage_chunk))
        yield DONE
    except (UpstreamStreamError, UpstreamFailure, EventTooLarge) as exc:
        call.usage, call.status, call.error_code = translator.usage, 502, "upstream_error"
        log.warning("stream_failed", provider=route.provider, request_id=call.request_id, error=exc.message)
        yield error_event(f"Upstream provider {route.provider} failed mid-stream: {exc.message}", "server_error",
                          "upstream_error")
    except transport_errors() as exc:
        _, reason = transport_reason(exc)
        log.warning("stream_broken", provider=route.provider, request_id=call.request_id, reason=reason,
                    error=scrubbed(route.spec, f"{type(exc).__name__}: {exc}"))
        timed_out = isinstance(exc, TimeoutError)
        call.usage, call.status = translator.usage, 504 if timed_out else 502
        call.error_code = "upstream_timeout" if timed_out else "upstream_error"
        yield error_event(
            f"Upstream provider {route.provider} {'timed out' if timed_out else 'broke off'} mid-stream.",
            "server_error", call.error_code,
        )
    except Exception:  # a bug of ours: the client still gets a proper end, and the call is not a 499
        log.exception("stream_relay_failed", provider=route.provider, request_id=call.request_id)
        call.usage, call.status, call.error_code = translator.usage, 500, "internal_error"
        yield error_event(
            f"The gateway failed while relaying the stream (request id {call.request_id}).",
            "server_error", "internal_error",
        )
    finally:
        opened.response.close()
        if call.usage is None:
            call.usage = translator.usage
        await finish(call)  # no-op when already finished; shielded against the disconnect cancel
