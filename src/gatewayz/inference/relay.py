"""Relaying an opened provider stream to the client, chunk by chunk, in the face's own events.

Once the first byte has gone to the client the provider is never switched: a failure ends the
stream with the face's own error event (the official SDKs raise it). The closing events (OpenAI's
usage chunk, Responses' `response.completed`, Messages' `message_delta`) are held back until the
stages have finished, so they can carry the cost; the stages finish exactly once whatever
happens, including a client disconnect.

When the face's wire is the upstream's own protocol (Messages to an Anthropic provider), the
upstream events are re-emitted as they came (`renderer.native`) while the protocol translator
still reads them for usage and the generated-text estimate.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog

from gatewayz.inference.dispatch import OpenStream, decode_event
from gatewayz.inference.faces.base import StreamRenderer
from gatewayz.inference.normalise import usage as complete_usage
from gatewayz.inference.pipeline import InferenceCall
from gatewayz.inference.sse import EventTooLarge
from gatewayz.providers.protocols.errors import UpstreamStreamError
from gatewayz.providers.upstream import UpstreamFailure, scrubbed, transport_errors, transport_reason

log = structlog.get_logger("gatewayz.inference.relay")
CLIENT_CLOSED = 499
JSON = dict[str, Any]
Finish = Callable[[InferenceCall], Awaitable[None]]
Decorate = Callable[[InferenceCall, JSON], None]
AtEnd = Callable[[InferenceCall, StreamRenderer], Awaitable[None]]


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


class FaceStream:
    """The face-independent half of a relayed (or simulated) stream: counts what was generated,
    keeps the usage chunk back, and closes the stream after billing with the face's events."""

    __slots__ = ("at_end", "call", "decorate", "finish", "renderer", "usage_chunk")

    def __init__(self, call: InferenceCall, renderer: StreamRenderer, finish: Finish, decorate: Decorate,
                 at_end: AtEnd | None = None) -> None:
        self.call, self.renderer, self.finish, self.decorate, self.at_end = call, renderer, finish, decorate, at_end
        self.usage_chunk: JSON | None = None

    def forward(self, chunks: list[JSON]) -> list[bytes]:
        out: list[bytes] = []
        call, chunk_of = self.call, self.renderer.chunk
        for chunk in chunks:
            if is_usage_chunk(chunk):
                self.usage_chunk = chunk
                continue
            call.generated_chars += generated_chars(chunk)
            out.extend(chunk_of(chunk))
        return out

    async def close(self, usage: JSON | None) -> bytes:
        """The stream completed: settle, then the face's closing events (as one write)."""
        call = self.call
        call.usage, call.status, call.finished_at = usage, 200, time.monotonic()
        await self.finish(call)
        shown = self.usage_chunk["usage"] if self.usage_chunk is not None else None
        if shown is None and call.state.get("billed_tokens"):
            shown = {}  # the provider sent none: show what was billed
        if shown is not None:
            self.decorate(call, shown)
            complete_usage(shown)  # only now: billing has read the provider's own counts
        end = self.renderer.end(shown)
        if self.at_end is not None:
            await self.at_end(call, self.renderer)
        call.state["stream_end"] = True  # the next write is the last (the idempotency copy is taken then)
        return b"".join(end)

    async def fail(self, message: str, type_: str, code: str) -> bytes:
        out = b"".join(self.renderer.fail(message, type_, code))
        if self.at_end is not None:
            await self.finish(self.call)
            await self.at_end(self.call, self.renderer)
        return out


async def relay(opened: OpenStream, call: InferenceCall, face: FaceStream) -> AsyncIterator[bytes]:
    route = opened.route
    translator = opened.translator
    native = getattr(face.renderer, "native", None) if opened.native else None
    call.route, call.first_byte_at, call.status = route, opened.first_byte_at, CLIENT_CLOSED
    try:
        for data in face.renderer.start():
            yield data
        if native is not None:
            face.forward(opened.first_chunks)  # counted, not sent: the upstream's own events are
            for event, decoded in opened.first_events:
                for data in native(event, decoded):
                    yield data
        else:
            for data in face.forward(opened.first_chunks):
                yield data
        finished = False
        async for event, raw in opened.events:
            decoded = decode_event(route, raw)
            if decoded is None:  # OpenAI's [DONE]
                finished = True
                break
            chunks = translator.feed(event, decoded)
            if native is not None:
                face.forward(chunks)
                for data in native(event, decoded):
                    yield data
            else:
                for data in face.forward(chunks):
                    yield data
            if event == "message_stop":  # Anthropic's end of message
                finished = True
                break
        if route.spec.protocol == "gemini":
            finished = True  # Gemini streams simply end
        for data in face.forward(translator.finish()):
            yield data
        if not finished:
            raise UpstreamFailure(route.provider, "protocol", "the stream ended before it was complete")
        yield await face.close(translator.usage)
    except (UpstreamStreamError, UpstreamFailure, EventTooLarge) as exc:
        call.usage, call.status, call.error_code = translator.usage, 502, "upstream_error"
        log.warning("stream_failed", provider=route.provider, request_id=call.request_id, error=exc.message)
        yield await face.fail(f"Upstream provider {route.provider} failed mid-stream: {exc.message}",
                              "server_error", "upstream_error")
    except transport_errors() as exc:
        _, reason = transport_reason(exc)
        log.warning("stream_broken", provider=route.provider, request_id=call.request_id, reason=reason,
                    error=scrubbed(route.spec, f"{type(exc).__name__}: {exc}"))
        timed_out = isinstance(exc, TimeoutError)
        call.usage, call.status = translator.usage, 504 if timed_out else 502
        call.error_code = "upstream_timeout" if timed_out else "upstream_error"
        yield await face.fail(
            f"Upstream provider {route.provider} {'timed out' if timed_out else 'broke off'} mid-stream.",
            "server_error", call.error_code,
        )
    except Exception:  # a bug of ours: the client still gets a proper end, and the call is not a 499
        log.exception("stream_relay_failed", provider=route.provider, request_id=call.request_id)
        call.usage, call.status, call.error_code = translator.usage, 500, "internal_error"
        yield await face.fail(
            f"The gateway failed while relaying the stream (request id {call.request_id}).",
            "server_error", "internal_error",
        )
    finally:
        opened.response.close()
        if call.usage is None:
            call.usage = translator.usage
        await face.finish(call)  # no-op when already finished; shielded against the disconnect cancel
