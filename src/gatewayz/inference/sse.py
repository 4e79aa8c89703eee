"""Server-sent events: reading an upstream stream and writing ours."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


def encode(chunk: Any) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


async def read_events(lines: AsyncIterator[bytes]) -> AsyncIterator[tuple[str | None, bytes]]:
    """(event name, data) per SSE event; multi-line data joined with newlines, comments skipped."""
    event: str | None = None
    data: list[bytes] = []
    async for raw in lines:
        line = raw.rstrip(b"\r\n")
        if not line:
            if data:
                yield event, b"\n".join(data)
            event, data = None, []
            continue
        if line.startswith(b":"):
            continue
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data.append(value)
        elif name == b"event":
            event = value.decode("utf-8", "replace")
    if data:
        yield event, b"\n".join(data)
