"""Pytest fixtures for the fake provider.

Import them into a test module (``from tests.fakeprovider.fixtures import fake, fake_provider``)
or list this module in ``pytest_plugins``. One server is shared by the session because
starting a thread and binding a port per test adds up; ``fake`` resets it so tests
cannot leak scenario or recorded requests into each other.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import FakeProvider


@pytest.fixture(scope="session")
def fake_provider() -> Iterator[FakeProvider]:
    """Session-wide fake provider on a free loopback port."""
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def fake(fake_provider: FakeProvider) -> Iterator[FakeProvider]:
    """The shared fake provider, reset to defaults before (and after) each test."""
    fake_provider.reset()
    yield fake_provider
    fake_provider.reset()
