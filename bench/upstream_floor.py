"""The floor for bench/upstream_clients.py: a minimal keep-alive HTTP/1.1 client on httptools.

Not a candidate (no TLS, proxies, timeouts beyond the caller's, redirects, decompression or error
recovery): it shows how much CPU any Python-driven client must spend at least — an asyncio
Protocol per connection, the request written in one ``write``, the answer parsed by llhttp
(httptools, already a dependency of the server), a future per answer or per body chunk.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import httptools

from upstream_kinds import Kind, check


class Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.parts: list[bytes] = []
        self.done: asyncio.Future[bytes] | None = None
        self.chunks: deque[bytes | None] = deque()
        self.wake: asyncio.Future[None] | None = None
        self.streaming = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        error = exc or ConnectionResetError("upstream closed the connection")
        if self.done is not None and not self.done.done():
            self.done.set_exception(error)
        if self.wake is not None and not self.wake.done():
            self.wake.set_exception(error)

    def on_body(self, body: bytes) -> None:
        if self.streaming:
            self.chunks.append(body)
            self.signal()
        else:
            self.parts.append(body)

    def on_message_complete(self) -> None:
        if self.streaming:
            self.chunks.append(None)
            self.signal()
        elif self.done is not None:
            self.done.set_result(b"".join(self.parts))

    def signal(self) -> None:
        if self.wake is not None and not self.wake.done():
            self.wake.set_result(None)

    def start(self, request: bytes, streaming: bool) -> None:
        assert self.transport is not None
        self.parts, self.streaming = [], streaming
        self.done = None if streaming else asyncio.get_running_loop().create_future()
        self.wake = None
        self.transport.write(request)

    async def next_chunk(self) -> bytes | None:
        while not self.chunks:
            self.wake = asyncio.get_running_loop().create_future()
            await self.wake
        return self.chunks.popleft()


class Floor(Kind):
    name = "floor-httptools"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        parts = urlsplit(self.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        head = f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in self.headers.items())
        self.head = head.encode()
        self.idle: list[Connection] = []

    def request(self, body: bytes) -> bytes:
        return self.head + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)

    async def connection(self) -> Connection:
        if self.idle:
            return self.idle.pop()
        _, protocol = await asyncio.get_running_loop().create_connection(Connection, self.host, self.port)
        return protocol

    async def whole(self) -> bytes:
        conn = await self.connection()
        conn.start(self.request(self.body), streaming=False)
        assert conn.done is not None
        answer = await conn.done
        check(conn.parser.get_status_code())
        self.idle.append(conn)
        return answer

    async def stream(self) -> int:
        conn = await self.connection()
        conn.start(self.request(self.stream_body), streaming=True)
        reads = 0
        while await conn.next_chunk() is not None:
            reads += 1
        check(conn.parser.get_status_code())
        self.idle.append(conn)
        return reads

    async def close(self) -> None:
        for conn in self.idle:
            if conn.transport is not None:
                conn.transport.close()
        self.idle.clear()
