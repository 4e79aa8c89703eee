"""Relaying an opened provider stream to the client, chunk by chunk, as OpenAI SSE.

Once the first byte has gone to the client the provider is never switched: a failure ends the
stream with an OpenAI-shaped error event (the official SDKs raise it as an APIError).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import structlog

from gatewayz.inference.dispatch import OpenStream, decode_event
from gatewayz.inference.sse import DONE, encode
from gatewayz.providers.protocols.errors import UpstreamStreamError
from gatewayz.providers.upstream import UpstreamFailure

log = structlog.get_logger("gatewayz.inference.relay")


def _error_event(message: str, type_: str, code: str) -> bytes:
    return encode({"error": {"message": message, "type": type_, "param": None, "code": code}})


async def relay(opened: OpenStream) -> AsyncIterator[bytes]:
    route = opened.route
    translator = opened.translator
    try:
        for chunk in opened.first_chunks:
            yield encode(chunk)
        finished = False
        async for event, data in opened.events:
            decoded = decode_event(route, data)
            if decoded is None:  # OpenAI's [DONE]
                finished = True
                break
            for chunk in translator.feed(event, decoded):
                yield encode(chunk)
            if event == "message_stop":  # Anthropic's end of message
                finished = True
                break
        if route.spec.protocol == "gemini":
            finished = True  # Gemini streams simply end
        for chunk in translator.finish():
            yield encode(chunk)
        if not finished:
            raise UpstreamFailure(route.provider, "protocol", "the stream ended before it was complete")
        yield DONE
    except UpstreamStreamError as exc:
        yield _error_event(
            f"Upstream provider {route.provider} failed mid-stream: {exc.message}", "server_error", "upstream_error"
        )
    except UpstreamFailure as exc:
        yield _error_event(
            f"Upstream provider {route.provider} failed mid-stream: {exc.message}", "server_error", "upstream_error"
        )
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        log.warning("stream_broken", provider=route.provider, error=str(exc))
        kind = "timed out" if isinstance(exc, TimeoutError) else "broke off"
        yield _error_event(
            f"Upstream provider {route.provider} {kind} mid-stream.",
            "server_error",
            "upstream_timeout" if isinstance(exc, TimeoutError) else "upstream_error",
        )
    finally:
        opened.response.close()
