"""The aiohttp application plus :class:`FakeProvider`, which runs it on a loopback port.

The server runs in its own thread and event loop so that synchronous tests, async
tests on any loop, and SDK clients all talk to it over a real socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import orjson
from aiohttp import web

from . import anthropic_routes, gemini_routes, images_routes, openai_routes
from .core import JSON_CT, provider_route
from .scenario import RecordedRequest, Scenario, State

STATE_KEY = web.AppKey("fakeprovider_state", State)


def _json(data: Any, status: int = 200) -> web.Response:
    """Control-plane JSON response."""
    return web.Response(body=orjson.dumps(data), status=status, content_type=JSON_CT)


async def _get_scenario(request: web.Request) -> web.Response:
    """The active scenario, so out-of-process callers can check what they set."""
    return _json(request.app[STATE_KEY].scenario.to_dict())


async def _post_scenario(request: web.Request) -> web.Response:
    """Partial update; unknown fields are a 400 so typos don't silently do nothing."""
    state = request.app[STATE_KEY]
    try:
        fields = orjson.loads(await request.read() or b"{}")
        if not isinstance(fields, dict):
            raise TypeError("expected a JSON object")
        scenario = state.update(**fields)
    except (ValueError, TypeError) as exc:
        return _json({"error": str(exc)}, status=400)
    return _json(scenario.to_dict())


async def _reset(request: web.Request) -> web.Response:
    """Back to the startup scenario with no recorded requests (between tests)."""
    request.app[STATE_KEY].reset()
    return _json({"ok": True})


async def _get_requests(request: web.Request) -> web.Response:
    """Recorded requests, for asserting what a gateway sent from another process."""
    return _json([r.to_dict() for r in request.app[STATE_KEY].records()])


async def _clear_requests(request: web.Request) -> web.Response:
    """Forget recorded requests while keeping the scenario."""
    request.app[STATE_KEY].clear_records()
    return _json({"ok": True})


async def _health(request: web.Request) -> web.Response:
    """Readiness probe for process-mode launchers."""
    return _json({"ok": True})


def build_app(state: State | None = None) -> web.Application:
    """Create the application serving all three protocols plus the ``/_fake`` control plane."""
    state = state or State()
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[STATE_KEY] = state
    openai_routes.add_routes(app, state)
    anthropic_routes.add_routes(app, state)
    images_routes.add_routes(app, state)  # before Gemini's: `{model}:predict` goes first
    gemini_routes.add_routes(app, state)

    # ``GET /v1/models`` exists in both OpenAI and Anthropic; the version header tells them apart,
    # and it must be decided before auth since the two authenticate differently.
    openai_models = provider_route(state, openai_routes.PROTOCOL, openai_routes.list_models)
    anthropic_models = provider_route(state, anthropic_routes.PROTOCOL, anthropic_routes.list_models)

    async def models(request: web.Request) -> web.StreamResponse:
        if "anthropic-version" in request.headers:
            return await anthropic_models(request)
        return await openai_models(request)

    app.router.add_get("/v1/models", models)
    app.router.add_get("/_fake/scenario", _get_scenario)
    app.router.add_post("/_fake/scenario", _post_scenario)
    app.router.add_post("/_fake/reset", _reset)
    app.router.add_get("/_fake/requests", _get_requests)
    app.router.add_delete("/_fake/requests", _clear_requests)
    app.router.add_get("/_fake/health", _health)
    return app


def make_runner(app: web.Application) -> web.AppRunner:
    """Runner config shared by the thread and CLI modes.

    ``handler_cancellation`` makes a client disconnect cancel the handler at once, which is
    how the fake notices a gateway abandoning an upstream call mid-sleep; access logs are
    off because they dominate per-request cost in benchmarks.
    """
    return web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)


class FakeProvider:
    """A fake OpenAI + Anthropic + Gemini server on ``127.0.0.1`` in a daemon thread.

    >>> with FakeProvider() as fake:
    ...     fake.set(reply="hi", latency_ms=50)
    ...     base_url = fake.url + "/v1"
    """

    def __init__(self, scenario: Scenario | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 record: bool = True, **fields: Any) -> None:
        base = (scenario or Scenario()).merged(fields)
        self.state = State(base, record=record)
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeProvider:
        """Bind (port 0 picks a free one) and serve; returns once the socket is listening."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # surfaced to start()'s caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name=f"fakeprovider-{id(self):x}", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            self._thread = None
            raise RuntimeError("fake provider failed to start") from failure[0]
        return self

    async def _serve(self) -> None:
        runner = make_runner(build_app(self.state))
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]

    def stop(self) -> None:
        """Shut the server down and join the thread; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._runner is not None:
            fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop)
            with contextlib.suppress(Exception):  # best effort: the thread is a daemon anyway
                fut.result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = self._loop = self._runner = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:54321`` (Anthropic SDK ``base_url``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """``base_url`` for the OpenAI SDK."""
        return self.url + "/v1"

    @property
    def gemini_base_url(self) -> str:
        """Prefix for Gemini REST calls."""
        return self.url + "/v1beta"

    # -- scenario control ----------------------------------------------------------------------
    @property
    def scenario(self) -> Scenario:
        """The currently active scenario."""
        return self.state.scenario

    def set(self, **fields: Any) -> Scenario:
        """Change some scenario fields (others keep their value); unknown names raise TypeError."""
        return self.state.update(**fields)

    def reset(self) -> None:
        """Restore the constructor's scenario and forget recorded requests."""
        self.state.reset()

    # -- recorded requests ----------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of received provider requests, oldest first."""
        return self.state.records()

    @property
    def last_request(self) -> RecordedRequest:
        """Most recent request; IndexError when none arrived (a clearer failure than None)."""
        return self.state.records()[-1]

    def clear_requests(self) -> None:
        """Forget recorded requests but keep the scenario."""
        self.state.clear_records()

    def wait_for(self, predicate: Callable[[list[RecordedRequest]], bool], timeout: float = 5.0) -> bool:
        """Block until ``predicate(requests)`` is true; False on timeout."""
        return self.state.wait_for(predicate, timeout)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Wait until at least ``count`` requests arrived and return them."""
        if not self.wait_for(lambda rs: len(rs) >= count, timeout):
            raise TimeoutError(f"expected {count} requests, got {len(self.requests)}")
        return self.requests

    def wait_idle(self, timeout: float = 5.0) -> list[RecordedRequest]:
        """Wait until every recorded request's handler has finished, then return the records.

        A client can see the last stream byte before the server-side handler has returned,
        so assertions on ``completed``/``cut``/``chunks_sent`` should go through this.
        """
        if not self.wait_for(lambda rs: all(r.finished_at is not None for r in rs), timeout):
            raise TimeoutError("requests still in flight")
        return self.requests

    def wait_for_disconnect(self, timeout: float = 5.0) -> RecordedRequest:
        """Wait until some request was abandoned by its client and return that record.

        Disconnects are observed by the server thread asynchronously, so asserting on
        ``requests`` right after the client closes would be racy.
        """
        if not self.wait_for(lambda rs: any(r.disconnected for r in rs), timeout):
            raise TimeoutError("no client disconnect was recorded")
        return next(r for r in self.requests if r.disconnected)
