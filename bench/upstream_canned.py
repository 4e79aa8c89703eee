"""A canned HTTP/1.1 keep-alive upstream for bench/upstream_clients.py: cheap, so the client is measured.

Run: ``python bench/upstream_canned.py --port 0 [--chunks 100] [--gap-us 300]``; prints
``listening on http://127.0.0.1:<port>``. Every POST is answered with a ~500-byte chat completion
(``Content-Length``), or, when its body says ``"stream": true``, with ``--chunks`` SSE events in a
chunked body, one write every ``--gap-us`` µs (paced so each event reaches the client in its own
read, as tokens of a real provider do), then ``data: [DONE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from typing import Any

import orjson

HOST = "127.0.0.1"
STREAM_FLAG = re.compile(rb'"stream"\s*:\s*true')
COMPLETION = orjson.dumps(
    {
        "id": "chatcmpl-bench0000000000000000000000",
        "object": "chat.completion",
        "created": 1767225600,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Paris has about 2.1 million inhabitants (INSEE, 2021); the metropolitan area "
                    "has about 13 million. Sources: INSEE census figures.",
                    "refusal": None,
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 93, "completion_tokens": 38, "total_tokens": 131},
        "system_fingerprint": "fp_bench0000",
    }
)
WHOLE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
    b"x-request-id: req_bench\r\n\r\n%s" % (len(COMPLETION), COMPLETION)
)
STREAM_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def sse_chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


DELTA = sse_chunk(
    b"data: "
    + orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1767225600,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": " token"}, "finish_reason": None}],
        }
    )
    + b"\n\n"
)
DONE = sse_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"


class Canned(asyncio.Protocol):
    def __init__(self, chunks: int, gap_s: float) -> None:
        self.chunks, self.gap_s = chunks, gap_s
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            match = re.search(rb"\r\ncontent-length:\s*(\d+)", head)
            size = int(match.group(1)) if match else 0
            if len(self.buffer) < end + 4 + size:
                return
            body = self.buffer[end + 4 : end + 4 + size]
            self.buffer = self.buffer[end + 4 + size :]
            self.answer(body)

    def answer(self, body: bytes) -> None:
        assert self.transport is not None
        if STREAM_FLAG.search(body) is None:
            self.transport.write(WHOLE)
            return
        self.transport.write(STREAM_HEAD)
        asyncio.get_running_loop().create_task(self.stream(self.transport))

    async def stream(self, transport: asyncio.Transport) -> None:
        for _ in range(self.chunks):
            if transport.is_closing():
                return
            transport.write(DELTA)
            await asyncio.sleep(self.gap_s)
        transport.write(DONE)


async def serve(port: int, chunks: int, gap_s: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Canned(chunks, gap_s), HOST, port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on http://{HOST}:{bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--chunks", type=int, default=100, help="SSE events per streamed answer (default 100)")
    p.add_argument("--gap-us", type=float, default=300.0, help="µs between streamed events (default 300)")
    args = p.parse_args()
    try:
        import uvloop

        uvloop.run(serve(args.port, args.chunks, args.gap_us / 1e6))
    except ImportError:
        asyncio.run(serve(args.port, args.chunks, args.gap_us / 1e6))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
