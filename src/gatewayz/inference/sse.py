"""Server-sent events: reading an upstream stream and writing ours.

Upstream framing is parsed here, from the raw body chunks, rather than with aiohttp's line
iteration: that one caps a line at 128 KiB-512 KiB (it raises `LineTooLong`), and real events are
bigger (large tool-call arguments, images). Events up to `MAX_EVENT_BYTES` are accepted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"

MAX_EVENT_BYTES = 16 * 1024 * 1024
"""The largest upstream stream event accepted (16 MiB of data, or of one unfinished line).

A bigger one is a protocol failure of that provider: buffering without bound would let one
upstream exhaust the gateway's memory.
"""

Event = tuple[str | None, bytes]


class EventTooLarge(Exception):
    """An upstream stream event exceeded the limit."""

    def __init__(self, limit: int) -> None:
        self.message = f"sent a stream event larger than {limit / (1024 * 1024):g} MiB"
        super().__init__(self.message)


def encode(chunk: Any) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


class EventParser:
    """Incremental SSE framing (WHATWG): lines end in CRLF, LF or CR; a blank line ends an event.

    Every byte is scanned once: a chunk's complete lines are split off with `bytes.splitlines`
    (which knows exactly those three line ends), and only an unfinished line is kept, as a list of
    pieces joined once when it ends. A multi-megabyte event arriving in small reads therefore costs
    linear time, and memory is bounded by the limit.
    """

    __slots__ = ("_data", "_event", "_pending", "_pieces", "_size", "_skip_lf", "limit")

    def __init__(self, limit: int = MAX_EVENT_BYTES) -> None:
        self.limit = limit
        self._pieces: list[bytes] = []  # the unfinished last line
        self._pending = 0  # its length
        self._skip_lf = False  # the last chunk ended in CR: a LF opening the next one completes a CRLF
        self._event: str | None = None
        self._data: list[bytes] = []
        self._size = 0  # data bytes of the event being read

    def feed(self, chunk: bytes) -> list[Event]:
        """The events completed by this chunk, in order."""
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if not chunk:
            return []
        lines = chunk.splitlines(True)
        end = lines[-1][-1:]
        tail = None
        if end == b"\r":
            self._skip_lf = True
        elif end != b"\n":
            tail = lines.pop()
        out: list[Event] = []
        pieces = self._pieces
        for line in lines:
            if pieces:
                pieces.append(line)
                line = b"".join(pieces)
                pieces.clear()
                self._pending = 0
            line = line.rstrip(b"\r\n")
            if not line:  # blank line: dispatch
                data = self._data
                if data:
                    out.append((self._event, data[0] if len(data) == 1 else b"\n".join(data)))
                    self._data = []
                    self._size = 0
                self._event = None
                continue
            if line[0] == 0x3A:  # ":" starts a comment
                continue
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                self._size += len(value) + 1
                if self._size > self.limit:
                    raise EventTooLarge(self.limit)
                self._data.append(value)
            elif name == b"event":
                self._event = value.decode("utf-8", "replace")
        if tail is not None:
            pieces.append(tail)
            self._pending += len(tail)
            if self._size + self._pending > self.limit:
                raise EventTooLarge(self.limit)
        return out

    def close(self) -> list[Event]:
        """At the end of the body: an unfinished last line and event still count (lenient)."""
        return self.feed(b"\n\n")


async def read_events(chunks: AsyncIterator[bytes], limit: int = MAX_EVENT_BYTES) -> AsyncIterator[Event]:
    """(event name, data) per SSE event from raw body chunks; raises EventTooLarge over the limit."""
    parser = EventParser(limit)
    feed = parser.feed
    async for chunk in chunks:
        for event in feed(chunk):
            yield event
    for event in parser.close():
        yield event
