"""Calling providers: retries with backoff and jitter, failover across routes, circuit breakers.

Retryable failures (connect errors, timeouts, 429, 5xx) are retried on the same route with
exponential backoff and full jitter, then the next route is tried. A provider refusing the request
itself (400/413/422) ends the attempt at once: another provider would refuse it too. For streams,
failover is possible only until the first chunk is ready; after that the stream is committed.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import aiohttp

from gatewayz.inference.failures import CLIENT_FAULT_STATUSES, client_fault, final_error
from gatewayz.inference.sse import EventTooLarge, read_events
from gatewayz.providers.adapters import JSON, StreamTranslator, UpstreamCall
from gatewayz.providers.breaker import Breakers
from gatewayz.providers.health import LiveHealth
from gatewayz.providers.router import Route
from gatewayz.providers.upstream import (
    UpstreamClients,
    UpstreamFailure,
    UpstreamResponse,
    parse_retry_after,
    read_capped,
    transport_errors,
    transport_failure,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 2
    base_delay: float = 0.25
    max_delay: float = 4.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None and retry_after <= self.max_delay:
            return retry_after
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


def status_failure(route: Route, response: UpstreamResponse) -> UpstreamFailure:
    if response.status < 400:  # 30x: never followed (it could carry the provider's key to another host)
        return UpstreamFailure(route.provider, "redirect", f"answered with a redirect ({response.status})",
                               status=response.status)
    message, upstream_type = route.adapter.error_detail(response.status, response.json())
    return UpstreamFailure(
        route.provider,
        "status",
        message,
        status=response.status,
        retry_after=parse_retry_after(response.headers),
        upstream_type=upstream_type,
    )


@dataclass(slots=True)
class OpenStream:
    """A provider stream that has produced its first chunk(s): from here on, no failover."""

    route: Route
    response: aiohttp.ClientResponse
    events: AsyncIterator[tuple[str | None, bytes]]
    translator: StreamTranslator
    first_chunks: list[JSON]
    started: float
    first_byte_at: float
    native: bool = False  # the upstream speaks the client's own face: its events pass through
    first_events: list[tuple[str | None, JSON]] = field(default_factory=list)  # what first_chunks read


@dataclass(frozen=True, slots=True)
class NativeRequest:
    """A face request to pass through untranslated to routes whose protocol is the face's own."""

    protocol: str
    body: JSON
    headers: dict[str, str]

    def applies(self, route: Route) -> bool:
        return route.spec.protocol == self.protocol


class Dispatcher:
    def __init__(
        self, clients: UpstreamClients, breakers: Breakers, policy: RetryPolicy, health: LiveHealth | None = None
    ) -> None:
        self.clients = clients
        self.breakers = breakers
        self.policy = policy
        self.health = health

    async def _attempts(
        self,
        routes: list[Route],
        model: str,
        build: Callable[[Route], UpstreamCall],
        attempt: Callable[[Route, UpstreamCall], Any],
    ) -> Any:
        last: UpstreamFailure | None = None
        breakers = self.breakers
        for position, route in enumerate(routes):
            provider = route.provider
            admission = breakers.admit(provider)
            if admission == "open" and position < len(routes) - 1:
                continue  # open breaker: skip while others remain (half-open lets one probe through)
            probe = admission == "probe"  # until its outcome is known, this request holds the probe
            try:
                call = build(route)
            except ValueError as exc:  # this protocol cannot express the request
                if probe:
                    breakers.release(provider)
                last = UpstreamFailure(provider, "unsupported", str(exc))
                continue
            retries = route.spec.max_retries if route.spec.max_retries is not None else self.policy.max_retries
            for number in range(retries + 1):
                if number:
                    await asyncio.sleep(self.policy.delay(number, last.retry_after if last else None))
                started = time.monotonic()
                try:
                    result = await attempt(route, call)
                except UpstreamFailure as failure:
                    last = failure
                    if failure.counts_against_health:
                        breakers.failure(provider)
                        if self.health is not None:
                            self.health.attempt(provider, route.upstream_model, False)
                    elif probe:  # answered, but about the request or the quota, not the provider's health
                        if failure.status == 429:
                            breakers.release(provider)
                        else:
                            breakers.success(provider)
                    probe = False
                    if failure.kind == "status" and failure.status in CLIENT_FAULT_STATUSES:
                        raise client_fault(failure) from failure
                    if not failure.retryable:
                        break
                    continue
                except BaseException:  # cancelled (client gone) or a bug: no verdict
                    if probe:
                        breakers.release(provider)
                    raise
                elapsed = time.monotonic() - started
                breakers.success(provider, elapsed)
                if self.health is not None:  # a whole answer: its time; a stream: until its first event
                    self.health.attempt(provider, route.upstream_model, True, elapsed)
                return result
        raise final_error(model, last)

    async def _json_object(self, route: Route, call: UpstreamCall) -> JSON:
        """One non-streaming exchange whose answer must be a JSON object."""
        response = await self.clients.request(route.spec, call)
        if response.status >= 300:
            raise status_failure(route, response)
        return answer_object(route, response.json())

    async def complete(
        self, routes: list[Route], model: str, body: JSON, native: NativeRequest | None = None
    ) -> tuple[Route, JSON, JSON | None]:
        """Non-streaming chat completion: (route that answered, OpenAI-shaped result, and the
        upstream's own answer when the request went through natively)."""

        async def attempt(route: Route, call: UpstreamCall) -> tuple[Route, JSON, JSON | None]:
            data = await self._json_object(route, call)
            return route, chat_result(route, data), data if native is not None and native.applies(route) else None

        return await self._attempts(  # type: ignore[no-any-return]
            routes, model, lambda r: chat_call(r, body, native, stream=False), attempt
        )

    async def embed(self, routes: list[Route], model: str, body: JSON) -> tuple[Route, JSON]:
        async def attempt(route: Route, call: UpstreamCall) -> tuple[Route, JSON]:
            return route, await self._json_object(route, call)

        def build(route: Route) -> UpstreamCall:
            if not route.adapter.supports_embeddings:
                raise ValueError(f"{route.provider} ({route.spec.protocol} protocol) does not serve embeddings")
            return route.adapter.embeddings_call(route.spec, body, route.upstream_model)

        return await self._attempts(routes, model, build, attempt)  # type: ignore[no-any-return]

    async def exchange(
        self, routes: list[Route], model: str, build: Callable[[Route], UpstreamCall],
        read: Callable[[Route, JSON], Any],
    ) -> tuple[Route, Any]:
        """One non-streaming JSON exchange of any other kind (images): `build` the route's call
        (ValueError: this route cannot), `read` its answer (UpstreamFailure: fail over)."""

        async def attempt(route: Route, call: UpstreamCall) -> tuple[Route, Any]:
            return route, read(route, await self._json_object(route, call))

        return await self._attempts(routes, model, build, attempt)  # type: ignore[no-any-return]

    async def open_stream(
        self, routes: list[Route], model: str, body: JSON, include_usage: bool, native: NativeRequest | None = None
    ) -> OpenStream:
        """Open a stream and read until its first chunk; failures before that fail over."""

        async def attempt(route: Route, call: UpstreamCall) -> OpenStream:
            started = time.monotonic()
            response = await self.clients.open(route.spec, call)
            try:
                if response.status >= 300:
                    body_bytes = await read_capped(route.spec, response)
                    raise status_failure(route, UpstreamResponse(response.status, response.headers, body_bytes))
                if response.headers.get("Content-Type", "")[:16].lower() == "application/json":
                    # The server ignored `stream: true` (some local servers do): stream its answer.
                    raw = await read_capped(route.spec, response)
                    data = answer_object(route, UpstreamResponse(200, response.headers, raw).json())
                    answer = whole_answer(route, data, include_usage)
                    return OpenStream(route, response, answer.events(), answer, answer.chunks, started,
                                      time.monotonic())
                events = read_events(response.content.iter_any())
                translator = route.adapter.stream_translator(model=route.upstream_model, include_usage=include_usage)
                passthrough = native is not None and native.applies(route)
                seen: list[tuple[str | None, JSON]] | None = [] if passthrough else None
                first = await first_chunks(route, events, translator, seen)
                return OpenStream(route, response, events, translator, first, started, time.monotonic(),
                                  passthrough, seen or [])
            except UpstreamFailure:
                response.close()
                raise
            except EventTooLarge as exc:
                response.close()
                raise UpstreamFailure(route.provider, "protocol", exc.message) from exc
            except transport_errors() as exc:
                response.close()
                raise transport_failure(route.spec, exc) from exc
            except BaseException:
                response.close()
                raise

        return await self._attempts(  # type: ignore[no-any-return]
            routes, model, lambda r: chat_call(r, body, native, stream=True), attempt
        )


def chat_call(route: Route, body: JSON, native: NativeRequest | None, *, stream: bool) -> UpstreamCall:
    """The upstream call for one route: the face's own body where the route speaks it, else chat."""
    if native is not None and native.applies(route):
        return route.adapter.native_call(route.spec, native.body, route.upstream_model, stream=stream,
                                         headers=native.headers)
    return route.adapter.chat_call(route.spec, body, route.upstream_model, stream=stream)


def answer_object(route: Route, data: Any) -> JSON:
    """A provider's 2xx JSON answer; an error object in it is still an error (some send 200)."""
    if not isinstance(data, dict):
        raise UpstreamFailure(route.provider, "protocol", "answered with a body that is not a JSON object")
    if data.get("error") is not None and "choices" not in data:
        message, _ = route.adapter.error_detail(502, data)
        raise UpstreamFailure(route.provider, "protocol", f"answered with an error: {message}")
    return data


UNREADABLE = (KeyError, IndexError, TypeError, ValueError, AttributeError)  # a translator meeting a malformed body


def chat_result(route: Route, data: JSON) -> JSON:
    """The adapter's OpenAI-shaped result; a body it cannot read is the provider's failure, not a 500."""
    try:
        return route.adapter.chat_result(data, model=route.upstream_model)
    except UNREADABLE as exc:
        raise UpstreamFailure(route.provider, "protocol", "answered with a completion the gateway cannot read") from exc


def whole_answer(route: Route, data: JSON, include_usage: bool) -> WholeAnswer:
    try:
        return WholeAnswer(chat_result(route, data), include_usage)
    except UNREADABLE as exc:
        raise UpstreamFailure(route.provider, "protocol", "answered with a completion the gateway cannot read") from exc


class WholeAnswer:
    """A complete chat.completion replayed as the stream the client asked for.

    Chunks as OpenAI streams them: role, content (and reasoning), tool calls with index, id, type
    and function, finish_reason, then the usage chunk when the client asked for include_usage. It
    is also the stream's translator, so the relay bills the completion's usage like any other.
    """

    def __init__(self, completion: JSON, include_usage: bool) -> None:
        choices = completion.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ValueError("a completion without choices")
        usage = completion.get("usage")
        self.usage: JSON | None = usage if isinstance(usage, dict) else None
        base: JSON = {  # a missing id or model is the relay's to fill in (normalise.Chunks)
            "object": "chat.completion.chunk",
            "created": completion.get("created") or int(time.time()),
        }
        for name in ("id", "model"):
            if isinstance(completion.get(name), str) and completion[name]:
                base[name] = completion[name]
        if completion.get("system_fingerprint"):
            base["system_fingerprint"] = completion["system_fingerprint"]
        chunks: list[JSON] = []

        def add(index: int, delta: JSON, finish: str | None = None, logprobs: Any = None) -> None:
            choice: JSON = {"index": index, "delta": delta, "finish_reason": finish}
            if logprobs is not None:
                choice["logprobs"] = logprobs
            chunks.append({**base, "choices": [choice]})

        for position, choice in enumerate(choices):
            index = choice.get("index", position)
            message = choice.get("message") or {}
            add(index, {"role": message.get("role") or "assistant", "content": ""})
            text = {k: message[k] for k in ("content", "reasoning_content", "reasoning", "refusal") if message.get(k)}
            if text or choice.get("logprobs") is not None:
                add(index, text, logprobs=choice.get("logprobs"))
            calls = [
                {"index": n, "id": call.get("id") or f"call_{n}", "type": call.get("type") or "function",
                 "function": call.get("function") or {}}
                for n, call in enumerate(message.get("tool_calls") or ())
            ]
            if calls:
                add(index, {"tool_calls": calls})
            add(index, {}, choice.get("finish_reason") or ("tool_calls" if calls else "stop"))
        if include_usage and self.usage is not None:
            chunks.append({**base, "choices": [], "usage": self.usage})
        self.chunks = chunks

    def feed(self, event: str | None, data: JSON) -> list[JSON]:
        return []

    def finish(self) -> list[JSON]:
        return []

    @staticmethod
    async def events() -> AsyncIterator[tuple[str | None, bytes]]:
        yield None, b"[DONE]"


def decode_event(route: Route, data: bytes) -> JSON | None:
    """None for the OpenAI end marker; a protocol failure for anything that is not JSON."""
    if data == b"[DONE]":
        return None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UpstreamFailure(route.provider, "protocol", "sent a stream event that is not JSON") from exc
    if not isinstance(value, dict):
        raise UpstreamFailure(route.provider, "protocol", "sent a stream event that is not an object")
    return value


async def first_chunks(
    route: Route,
    events: AsyncIterator[tuple[str | None, bytes]],
    translator: StreamTranslator,
    seen: list[tuple[str | None, JSON]] | None = None,
) -> list[JSON]:
    """Read until the translator yields chunks; `seen` collects the events read (for passthrough)."""
    from gatewayz.providers.protocols.errors import UpstreamStreamError

    async for event, data in events:
        decoded = decode_event(route, data)
        if decoded is None:
            break
        if seen is not None:
            seen.append((event, decoded))
        try:
            chunks = translator.feed(event, decoded)
        except UpstreamStreamError as exc:
            raise UpstreamFailure(route.provider, "status", exc.message, status=502, upstream_type=exc.type) from exc
        if chunks:
            return chunks
    raise UpstreamFailure(route.provider, "protocol", "ended the stream before sending anything")
