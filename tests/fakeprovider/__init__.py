"""A real loopback HTTP server speaking OpenAI, Anthropic and Gemini, for tests and benchmarks.

Use :class:`FakeProvider` in-process (see ``fixtures.py`` for pytest fixtures) or run
``python -m tests.fakeprovider --port N`` as a separate process.
"""

from .scenario import DEFAULT_MODELS, OVERRIDE_HEADER, RecordedRequest, Scenario
from .server import FakeProvider, build_app

__all__ = ["DEFAULT_MODELS", "OVERRIDE_HEADER", "FakeProvider", "RecordedRequest", "Scenario", "build_app"]
