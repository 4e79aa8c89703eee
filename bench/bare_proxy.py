"""The Python floor: a chat-completions proxy with no features, to measure the gateway against.

    .venv/bin/python bench/bare_proxy.py --port 8100 --upstream http://127.0.0.1:9000/v1 [--app asgi|fastapi]

``POST /v1/chat/completions``: read the body, parse it with orjson, strip a ``provider/`` prefix from
``model`` (the one change a routing proxy makes), dump it again and POST it upstream through one
``aiohttp.ClientSession`` (keep-alive connector, created at startup) with the upstream key; relay the
answer as it came: the whole body, or a stream chunk by chunk as it arrives. No authentication,
limits, billing, usage records or logs. ``GET /health`` answers 200.

``--app asgi`` (default) is a plain ASGI callable; ``--app fastapi`` the same as one FastAPI route
(``Request.body()``, ``Response`` / ``StreamingResponse``): the framework's cost alone. Served like
``gatewayz serve``: uvicorn with httptools, uvloop if installed, no access log.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
from fastapi import FastAPI, Request, Response  # module level: FastAPI resolves the route's annotations here
from fastapi.responses import StreamingResponse

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
ENV_UPSTREAM, ENV_KEY, ENV_APP = "BARE_PROXY_UPSTREAM", "BARE_PROXY_API_KEY", "BARE_PROXY_APP"


class Upstream:
    """One keep-alive aiohttp session to the provider, opened at startup."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self.session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(limit=1024, keepalive_timeout=60, ttl_dns_cache=None)
        timeout = aiohttp.ClientTimeout(total=120, sock_connect=10)
        self.session = aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    def post(self, body: bytes) -> tuple[bytes, bool]:
        """The body as sent upstream, and whether the client asked for a stream."""
        payload = orjson.loads(body)
        payload["model"] = str(payload.get("model", "")).rpartition("/")[2]
        return orjson.dumps(payload), bool(payload.get("stream"))


def asgi_app(upstream: Upstream) -> Callable[[Message, Receive, Send], Awaitable[None]]:
    async def lifespan(receive: Receive, send: Send) -> None:
        for _ in range(2):
            message = await receive()
            if message["type"] == "lifespan.startup":
                await upstream.open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await upstream.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"] == "/health":
            await answer(send, 200, JSON_HEADERS, b'{"status":"ok"}')
            return
        if scope["path"] != "/v1/chat/completions" or scope["method"] != "POST":
            await answer(send, 404, JSON_HEADERS, b'{"error":{"message":"not found"}}')
            return
        chunks = []
        for _ in range(100_000):  # bounded: the body arrives in a few messages
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        data, stream = upstream.post(b"".join(chunks))
        assert upstream.session is not None
        async with upstream.session.post(upstream.url, data=data, headers=upstream.headers) as resp:
            if not stream:
                await answer(send, resp.status, JSON_HEADERS, await resp.read())
                return
            await send({"type": "http.response.start", "status": resp.status, "headers": SSE_HEADERS})
            async for chunk in resp.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

    return app


def fastapi_app(upstream: Upstream) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await upstream.open()
        yield
        await upstream.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/health")
    async def health() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        data, stream = upstream.post(await request.body())
        assert upstream.session is not None
        if not stream:
            async with upstream.session.post(upstream.url, data=data, headers=upstream.headers) as resp:
                return Response(await resp.read(), status_code=resp.status, media_type="application/json")
        resp = await upstream.session.post(upstream.url, data=data, headers=upstream.headers)

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in resp.content.iter_any():
                    yield chunk
            finally:
                resp.release()

        return StreamingResponse(relay(), status_code=resp.status, media_type="text/event-stream")

    return app


def create_app() -> Any:
    """The uvicorn factory (also in worker processes): configured through the environment."""
    upstream = Upstream(os.environ[ENV_UPSTREAM], os.environ.get(ENV_KEY, ""))
    return fastapi_app(upstream) if os.environ.get(ENV_APP) == "fastapi" else asgi_app(upstream)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True, help="the provider's base URL, e.g. http://127.0.0.1:9000/v1")
    p.add_argument("--api-key", default="", help="the provider key sent upstream")
    p.add_argument("--app", choices=("asgi", "fastapi"), default="asgi")
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args()
    os.environ.update({ENV_UPSTREAM: args.upstream, ENV_KEY: args.api_key, ENV_APP: args.app})
    import uvicorn

    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    uvicorn.run(
        "bare_proxy:create_app",
        factory=True,
        app_dir=os.path.dirname(os.path.abspath(__file__)),
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop=loop,
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
