"""ASGI responses that notice a client disconnect at once and cancel the work behind them.

Starlette's StreamingResponse (on ASGI spec 2.4 servers) only learns of a disconnect when a write
fails, i.e. when the next upstream chunk arrives; a slow upstream would keep generating (and
costing) for nothing. These watch `receive()` for `http.disconnect` in parallel instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

T = TypeVar("T")


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class ClientDisconnected(Exception):
    """The client went away before the answer was ready."""


WATCH_AFTER_SECONDS = 0.02  # work that ends sooner never pays for a watcher task


async def until_disconnect(receive: Receive, work: Awaitable[T]) -> T:
    """Run `work` in this task; cancel it if the client disconnects first (then raise
    ClientDisconnected). The watcher task starts only once the work has run WATCH_AFTER_SECONDS
    (a timer until then): a quick answer costs no task, a disconnect is noticed within 20 ms."""
    current = asyncio.current_task()
    if current is None:  # not in a task (never, under a server): nothing to cancel with
        return await work
    state = {"running": True, "gone": False}
    tasks: list[asyncio.Future[None]] = []

    async def watch() -> None:
        await _wait_disconnect(receive)
        if state["running"]:
            state["gone"] = True
            current.cancel()

    def start_watching() -> None:
        if state["running"]:
            tasks.append(asyncio.ensure_future(watch()))

    timer = asyncio.get_running_loop().call_later(WATCH_AFTER_SECONDS, start_watching)
    try:
        return await work
    except asyncio.CancelledError:
        if state["gone"]:
            state["gone"] = False  # our cancel, undone here
            if current.uncancel() == 0:
                raise ClientDisconnected() from None
        raise  # cancelled by someone else too (the server shutting down): theirs to handle
    finally:
        state["running"] = False
        timer.cancel()
        for watcher in tasks:
            watcher.cancel()
        if state["gone"]:
            current.uncancel()  # the work swallowed our cancel and finished: the count is ours to undo


class EventStreamResponse(Response):
    """`text/event-stream` relayed chunk by chunk; a disconnect cancels the producer."""

    def __init__(
        self,
        body: AsyncIterator[bytes],
        headers: dict[str, str],
        cleanup: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(status_code=200)
        self.stream = body
        self.extra_headers = headers
        self.cleanup = cleanup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
            *((k.lower().encode(), v.encode()) for k, v in self.extra_headers.items()),
        ]
        try:
            await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
            await self._relay(send, receive)
        finally:
            # Runs even if the body generator never started (client gone at once).
            if self.cleanup is not None:
                await self.cleanup()

    async def _relay(self, send: Send, receive: Receive) -> None:
        async def pump() -> None:
            async for chunk in self.stream:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        producer = asyncio.ensure_future(pump())
        watcher = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            await asyncio.wait((producer, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not producer.done():
                producer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await producer
                # The producer may have been cancelled inside send() with the generator parked at
                # a yield: close it so its cleanup (closing the upstream response) runs now.
                aclose = getattr(self.stream, "aclose", None)
                if aclose is not None:
                    with contextlib.suppress(Exception):
                        await aclose()
            watcher.cancel()
        if producer.done() and not producer.cancelled() and producer.exception() is not None:
            exc = producer.exception()
            if not isinstance(exc, OSError):
                raise exc  # type: ignore[misc]
