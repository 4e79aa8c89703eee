"""A real loopback HTTP server speaking OpenAI, Anthropic and Gemini, for tests and benchmarks.

Use :class:`FakeProvider` in-process (see ``fixtures.py`` for pytest fixtures) or run
``python -m tests.fakeprovider --port N`` as a separate process.

Behaviour comes from a :class:`Scenario`, changed with ``FakeProvider.set(**fields)`` or
``POST /_fake/scenario`` (partial JSON); ``POST /_fake/reset`` restores it and clears
``GET /_fake/requests``. A single request can override fields without touching shared
state, either with the header ``x-fake-scenario: {"status": 503}`` or, when a gateway
would not forward that header, by starting the last user message with
``[[fake:{"status": 503}]]`` (stripped before echoing and token counting).
"""

from .scenario import DEFAULT_MODELS, OVERRIDE_HEADER, RecordedRequest, Scenario
from .server import FakeProvider, build_app

__all__ = ["DEFAULT_MODELS", "OVERRIDE_HEADER", "FakeProvider", "RecordedRequest", "Scenario", "build_app"]
