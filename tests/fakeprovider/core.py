"""Request pipeline shared by the three protocol modules.

One wrapper applies the scenario in a fixed order (overrides, recording, latency,
auth, injected status) so every protocol behaves identically under the same knobs,
and one stream writer owns chunk timing, stream cuts and disconnect detection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from .scenario import (
    OVERRIDE_HEADER,
    RecordedRequest,
    Scenario,
    State,
    count_words,
    parse_override,
    split_directive,
)

JSON_CT = "application/json"


class StreamStopped(Exception):
    """Raised inside a handler when the fake deliberately ended the stream early (cut / error)."""


@dataclass(frozen=True)
class Protocol:
    """What differs between OpenAI, Anthropic and Gemini as far as the shared pipeline cares."""

    name: str
    error_body: Callable[[int, str], bytes]
    """Serialise an error in the protocol's own shape."""
    check_auth: Callable[[web.Request, Scenario], tuple[int, str] | None]
    """Return ``(status, message)`` when the request's credentials must be rejected."""
    last_user_text: Callable[[Any], str]
    """Text of the last user turn, used for echo replies and ``[[fake:...]]`` directives."""
    stream_error: Callable[[], bytes]
    """Bytes of a mid-stream error event, for ``error_after_chunks``."""


class Ctx:
    """Everything a protocol handler needs about the current request."""

    __slots__ = ("body", "directive_words", "proto", "record", "request", "resp", "scenario", "state",
                 "user_text")

    def __init__(self, request: web.Request, state: State, proto: Protocol, scenario: Scenario) -> None:
        self.request = request
        self.state = state
        self.proto = proto
        self.scenario = scenario
        self.body: Any = None
        self.record: RecordedRequest | None = None
        self.resp: web.StreamResponse | None = None
        self.user_text = ""
        self.directive_words = 0

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
        """A protocol-shaped error response; also noted in the request record."""
        if self.record is not None:
            self.record.status = status
        return web.Response(status=status, body=self.proto.error_body(status, message),
                            content_type=JSON_CT, headers=headers)

    def check_model(self, model: Any) -> web.Response | None:
        """With ``strict_models`` unknown models get the protocol's 404, like a real provider."""
        if self.scenario.strict_models and model not in self.scenario.models:
            return self.error(404, f"The model `{model}` does not exist or you do not have access to it.")
        return None

    async def send_json(self, payload: bytes) -> web.StreamResponse:
        """Send a complete JSON body, honouring ``first_byte_delay_ms`` after the headers."""
        if self.record is not None:
            self.record.status = 200
        delay = self.scenario.first_byte_delay_ms
        if not delay:
            return web.Response(body=payload, content_type=JSON_CT)
        resp = web.StreamResponse(headers={"Content-Type": JSON_CT})
        resp.content_length = len(payload)
        self.resp = resp
        await resp.prepare(self.request)
        await asyncio.sleep(delay / 1000)
        await resp.write(payload)
        await resp.write_eof()
        return resp

    async def open_stream(self, content_type: str = "text/event-stream; charset=utf-8") -> EventStream:
        """Send stream headers now; the body follows chunk by chunk through the returned writer."""
        if self.record is not None:
            self.record.status = 200
            self.record.stream = True
        resp = web.StreamResponse(headers={"Content-Type": content_type, "Cache-Control": "no-cache"})
        self.resp = resp
        await resp.prepare(self.request)
        if self.scenario.stream_prefix:
            await resp.write(self.scenario.stream_prefix.encode())
        return EventStream(self, resp)


CUT_AFTER_S = 0.02


class EventStream:
    """Writes stream events while applying delays, cuts and injected mid-stream errors."""

    def __init__(self, ctx: Ctx, resp: web.StreamResponse) -> None:
        self.ctx = ctx
        self.resp = resp
        self.sent = 0

    async def send(self, data: bytes) -> None:
        """Write one event; raises :class:`StreamStopped` when the scenario ends the stream here."""
        sc = self.ctx.scenario
        if sc.cut_after_chunks is not None and self.sent >= sc.cut_after_chunks:
            await self._cut()
        if sc.error_after_chunks is not None and self.sent >= sc.error_after_chunks:
            await self.resp.write(self.ctx.proto.stream_error())
            await self.resp.write_eof()
            raise StreamStopped
        delay = sc.first_byte_delay_ms if self.sent == 0 else sc.chunk_delay_ms
        if delay:
            await asyncio.sleep(delay / 1000)
        ending = sc.sse_line_ending
        await self.resp.write(data if ending == "\n" else data.replace(b"\n", ending.encode()))
        self.sent += 1
        if self.ctx.record is not None:
            self.ctx.record.chunks_sent = self.sent

    async def finish(self) -> web.StreamResponse:
        """End the body normally, or cut it if the cut point equals the number of events sent."""
        sc = self.ctx.scenario
        if sc.cut_after_chunks is not None and self.sent >= sc.cut_after_chunks:
            await self._cut()
        await self.resp.write_eof()
        return self.resp

    async def _cut(self) -> None:
        """Close the socket without the chunked terminator, like a crashed upstream, a moment after
        its last event (closed at once, the close can reach the client in the same read as the
        events, and aiohttp then raises before handing over what it buffered)."""
        await asyncio.sleep(CUT_AFTER_S)
        if self.ctx.record is not None:
            self.ctx.record.cut = True
        transport = self.ctx.request.transport
        if transport is not None:
            transport.close()
        raise StreamStopped


Handler = Callable[[Ctx], Awaitable[web.StreamResponse]]


def provider_route(state: State, proto: Protocol, handler: Handler, *, raw_body: bool = False) -> Callable[
        [web.Request], Awaitable[web.StreamResponse]]:
    """Wrap a protocol handler with the shared scenario pipeline and request recording;
    `raw_body`: the body is handed over as bytes (multipart), not parsed as JSON."""

    async def route(request: web.Request) -> web.StreamResponse:
        received = time.time()
        ctx = Ctx(request, state, proto, state.scenario)
        raw = await request.read() if request.body_exists else b""
        overridden = False
        problem: str | None = None
        try:
            if raw:
                ctx.body = raw if raw_body else orjson.loads(raw)
            raw_override = request.headers.get(OVERRIDE_HEADER)
            if raw_override:
                fields = parse_override(raw_override)
                ctx.scenario = ctx.scenario.merged(fields)
                overridden = "status" in fields
            if ctx.body is not None and not raw_body:
                original = proto.last_user_text(ctx.body)
                directive, ctx.user_text = split_directive(original)
                if directive:
                    ctx.directive_words = count_words(original) - count_words(ctx.user_text)
                    ctx.scenario = ctx.scenario.merged(directive)
                    overridden = overridden or "status" in directive
        except (ValueError, TypeError) as exc:
            problem = f"fake provider: {exc}"
            if ctx.body is None and raw:
                ctx.body = raw.decode("utf-8", "replace")  # keep the malformed body for assertions

        if state.record:
            ctx.record = RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=ctx.body,
                time=received,
                protocol=proto.name,
            )
            state.add(ctx.record)
        try:
            if problem is not None:
                return ctx.error(400, problem)
            return await _run(ctx, handler, overridden)
        except StreamStopped:
            return ctx.resp or web.Response()
        except asyncio.CancelledError:
            _mark_disconnected(ctx)
            raise
        except ConnectionResetError:
            _mark_disconnected(ctx)
            return ctx.resp or web.Response()
        finally:
            if ctx.record is not None:
                ctx.record.finished_at = time.time()
                state.touch()

    return route


async def _run(ctx: Ctx, handler: Handler, overridden: bool) -> web.StreamResponse:
    """The ordered pipeline: drop, latency, auth, injected status, then the real handler."""
    sc = ctx.scenario
    if sc.drop_connection:
        if ctx.record is not None:
            ctx.record.cut = True
        if ctx.request.transport is not None:
            ctx.request.transport.close()
        raise StreamStopped
    if sc.latency_ms:
        await asyncio.sleep(sc.latency_ms / 1000)
    if sc.redirect_to:
        if ctx.record is not None:
            ctx.record.status = sc.redirect_status
        return web.Response(status=sc.redirect_status, headers={"Location": sc.redirect_to})
    denied = ctx.proto.check_auth(ctx.request, sc)
    if denied is not None:
        return ctx.error(*denied)
    status = ctx.state.injected_status(sc, overridden)
    if status is not None:
        error = ctx.error(status, sc.error_message or f"fake provider injected status {status}",
                          sc.error_headers or None)
        if sc.error_http_status is not None:
            error.set_status(sc.error_http_status)
            if ctx.record is not None:
                ctx.record.status = sc.error_http_status
        return error
    resp = await handler(ctx)
    if ctx.record is not None and ctx.record.status == 200:
        ctx.record.completed = True
    return resp


def _mark_disconnected(ctx: Ctx) -> None:
    """Record that the client went away, unless the fake itself closed the socket."""
    if ctx.record is not None and not ctx.record.cut:
        ctx.record.disconnected = True

