"""The upstream clients bench/upstream_clients.py compares, each behind one small interface.

Every kind sends the same POST (same body, same two headers) to the same keep-alive upstream and
returns the answer's bytes (``whole``) or the number of body reads of a streamed answer (``stream``).
``aiohttp-gateway`` is src/gatewayz/providers/upstream.py's usage, call for call (session options,
a ClientTimeout built per call, ``allow_redirects=False``, the Content-Length check of
``read_capped``, ``iter_any`` for streams); the other aiohttp kinds change one thing each.
``gateway-code`` runs UpstreamClients itself; ``floor-httptools`` (bench/upstream_floor.py) is the
floor, not a candidate. A kind whose package is not installed is skipped (see ``available``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
import httpx
import orjson
from yarl import URL

TOTAL_S, CONNECT_S, READ_S = 600.0, 10.0, 60.0


class Kind:
    """One client: ``whole()`` → answer bytes, ``stream()`` → body reads until the end."""

    name = ""

    def __init__(self, url: str, body: bytes, stream_body: bytes, headers: dict[str, str], limit: int) -> None:
        self.url, self.body, self.stream_body, self.headers, self.limit = url, body, stream_body, headers, limit

    async def whole(self) -> bytes:
        raise NotImplementedError

    async def stream(self) -> int:
        raise NotImplementedError

    async def close(self) -> None:
        return None


def check(status: int) -> None:
    if status != 200:
        raise OSError(f"HTTP {status}")


async def count_reads(response: Any) -> int:
    """How many reads an aiohttp response's body took (each streamed chunk, as the client saw it)."""
    reads = 0
    async for _chunk in response.content.iter_any():
        reads += 1
    return reads


class AiohttpGateway(Kind):
    """As UpstreamClients does it today."""

    name = "aiohttp-gateway"
    decompress = True
    skip: tuple[str, ...] = ("User-Agent",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        connector = aiohttp.TCPConnector(
            limit=1000, ttl_dns_cache=300, keepalive_timeout=60, enable_cleanup_closed=True
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, connect=CONNECT_S),
            json_serialize=lambda obj: orjson.dumps(obj).decode(),
            auto_decompress=self.decompress,
            skip_auto_headers=self.skip,
            headers=self.session_headers(),
        )
        self.target: str | URL = self.url
        self.call_headers: Any = self.headers

    def session_headers(self) -> dict[str, str] | None:
        return None

    def timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=TOTAL_S, sock_connect=CONNECT_S, sock_read=READ_S)

    def send(self, body: bytes) -> Any:
        return self.session.request(
            "POST", self.target, data=body, headers=self.call_headers, timeout=self.timeout(), allow_redirects=False
        )

    async def whole(self) -> bytes:
        async with self.send(self.body) as response:
            check(response.status)
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit():
                return await response.read()
            return b"".join([chunk async for chunk in response.content.iter_any()])

    async def stream(self) -> int:
        response = await self.send(self.stream_body)
        try:
            check(response.status)
            return await count_reads(response)
        finally:
            response.release()

    async def close(self) -> None:
        await self.session.close()


class GatewayCode(Kind):
    """src/gatewayz/providers/upstream.py itself (UpstreamClients.request / .open), to check that
    ``aiohttp-gateway`` replays it faithfully."""

    name = "gateway-code"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        from gatewayz.providers.adapters import UpstreamCall
        from gatewayz.providers.upstream import UpstreamClients

        self.call_type = UpstreamCall
        self.clients = UpstreamClients()
        # What UpstreamClients reads of a ProviderSpec (duck-typed: the real one needs a registry row).
        self.spec: Any = SimpleNamespace(
            name="bench", connect_timeout=CONNECT_S, first_byte_timeout=READ_S, total_timeout=TOTAL_S, auth_params={}
        )

    async def whole(self) -> bytes:
        answer = await self.clients.request(self.spec, self.call_type("POST", self.url, self.headers, self.body))
        check(answer.status)
        return answer.body

    async def stream(self) -> int:
        response = await self.clients.open(self.spec, self.call_type("POST", self.url, self.headers, self.stream_body))
        try:
            check(response.status)
            return await count_reads(response)
        finally:
            response.release()

    async def close(self) -> None:
        await self.clients.close()


class AiohttpCachedTimeout(AiohttpGateway):
    """One ClientTimeout per provider, built once."""

    name = "aiohttp-cached-timeout"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.cached = super().timeout()

    def timeout(self) -> aiohttp.ClientTimeout:
        return self.cached


class AiohttpTuned(AiohttpCachedTimeout):
    """Cached timeout + provider headers as session defaults + prebuilt yarl URL + no decompression
    (Accept-Encoding not sent, so the provider answers identity)."""

    name = "aiohttp-tuned"
    decompress = False
    skip = ("User-Agent", "Accept-Encoding")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.target = URL(self.url)
        self.call_headers = None

    def session_headers(self) -> dict[str, str] | None:
        return self.headers


class Httpx(Kind):
    name = "httpx"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        limits = httpx.Limits(max_connections=self.limit, max_keepalive_connections=self.limit, keepalive_expiry=60)
        self.client = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(TOTAL_S, connect=CONNECT_S, read=READ_S))

    async def whole(self) -> bytes:
        response = await self.client.post(self.url, content=self.body, headers=self.headers)
        check(response.status_code)
        return response.content

    async def stream(self) -> int:
        async with self.client.stream("POST", self.url, content=self.stream_body, headers=self.headers) as response:
            check(response.status_code)
            reads = 0
            async for _chunk in response.aiter_raw():
                reads += 1
            return reads

    async def close(self) -> None:
        await self.client.aclose()


class Aiosonic(Kind):
    name = "aiosonic"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        import aiosonic
        from aiosonic.connectors import TCPConnector
        from aiosonic.timeout import Timeouts

        self.timeouts = Timeouts(sock_connect=CONNECT_S, sock_read=READ_S, request_timeout=TOTAL_S)
        connector = TCPConnector(pool_configs={":default": {"max_conn_requests": 10**9}}, timeouts=self.timeouts)
        self.client = aiosonic.HTTPClient(connector=connector)

    async def whole(self) -> bytes:
        response = await self.client.post(self.url, data=self.body, headers=self.headers)
        check(response.status_code)
        content: bytes = await response.content()
        return content

    async def stream(self) -> int:
        response = await self.client.post(self.url, data=self.stream_body, headers=self.headers)
        check(response.status_code)
        reads = 0
        async for _chunk in response.read_chunks():
            reads += 1
        return reads

    async def close(self) -> None:
        await self.client.connector.cleanup()


class Pyreqwest(Kind):
    name = "pyreqwest"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        from pyreqwest.client import ClientBuilder

        self.client = (
            ClientBuilder()
            .connect_timeout(datetime.timedelta(seconds=CONNECT_S))
            .read_timeout(datetime.timedelta(seconds=READ_S))
            .timeout(datetime.timedelta(seconds=TOTAL_S))
            .max_connections(self.limit)
            .pool_idle_timeout(datetime.timedelta(seconds=60))
            .http1_only()
            .build()
        )

    async def whole(self) -> bytes:
        response = await self.client.post(self.url).headers(self.headers).body_bytes(self.body).build().send()
        check(response.status)
        return bytes(await response.bytes())

    async def stream(self) -> int:
        # without a 1-byte read-ahead limit pyreqwest holds chunks back until 64 KiB arrived (a relay must not)
        request = (self.client.post(self.url).headers(self.headers).body_bytes(self.stream_body)
                   .streamed_read_buffer_limit(1).build_streamed())
        async with request as response:
            check(response.status)
            reader = response.body_reader
            reads = 0
            while await reader.read_chunk() is not None:
                reads += 1
            return reads

    async def close(self) -> None:
        await self.client.close()


class Rnet(Kind):
    name = "rnet"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        import rnet

        self.client = rnet.Client(
            connect_timeout=int(CONNECT_S),
            read_timeout=int(READ_S),
            timeout=int(TOTAL_S),
            pool_idle_timeout=60,
            pool_max_size=self.limit,
            http1_only=True,
        )

    async def whole(self) -> bytes:
        response = await self.client.post(self.url, body=self.body, headers=self.headers)
        check(response.status)
        return bytes(await response.bytes())

    async def stream(self) -> int:
        response = await self.client.post(self.url, body=self.stream_body, headers=self.headers)
        check(response.status)
        reads = 0
        async with response.stream() as streamer:
            async for _chunk in streamer:
                reads += 1
        return reads


KINDS: list[Callable[..., Kind]] = [
    AiohttpGateway,
    GatewayCode,
    AiohttpCachedTimeout,
    AiohttpTuned,
    Httpx,
    Aiosonic,
    Pyreqwest,
    Rnet,
]


def available(names: list[str] | None) -> list[Callable[..., Kind]]:
    """The kinds asked for (all by default) whose package imports."""
    from upstream_floor import Floor  # imports this module: loaded here, not at the top

    chosen = []
    for kind in [*KINDS, Floor]:
        if names and kind.name not in names:  # type: ignore[attr-defined]
            continue
        module = {"aiosonic": "aiosonic", "pyreqwest": "pyreqwest", "rnet": "rnet"}.get(kind.name, "")  # type: ignore[attr-defined]
        if module:
            try:
                __import__(module)
            except ImportError:
                print(f"  skipped {kind.name}: {module} is not installed")  # type: ignore[attr-defined]
                continue
        chosen.append(kind)
    return chosen
