"""Shared constants, SDK client fixtures and an SSE parser for the fake provider tests.

Test modules import the fixtures (and ``fake``/``fake_provider`` from ``tests.fakeprovider.fixtures``)
and list them in ``__all__`` so pytest sees them in the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.fakeprovider import FakeProvider

ROOT = Path(__file__).resolve().parents[1]
OAI_HEADERS = {"Authorization": "Bearer sk-test"}
ANT_HEADERS = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}
GEM_HEADERS = {"x-goog-api-key": "g-test"}
WEATHER_TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
    for n in ("get_weather", "get_time")
]
TWO_CALLS = [
    {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
    {"name": "get_time", "arguments": '{"tz": "Europe/Paris"}'},
]


@pytest.fixture
def oai(fake: FakeProvider) -> Iterator[openai.OpenAI]:
    """Strict OpenAI client without retries, so each call is exactly one upstream request."""
    client = openai.OpenAI(
        base_url=fake.url + "/v1", api_key="sk-test", max_retries=0, _strict_response_validation=True
    )
    yield client
    client.close()


@pytest.fixture
def ant(fake: FakeProvider) -> Iterator[anthropic.Anthropic]:
    """Strict Anthropic client without retries."""
    client = anthropic.Anthropic(
        base_url=fake.url, api_key="sk-ant-test", max_retries=0, _strict_response_validation=True
    )
    yield client
    client.close()


@pytest.fixture
def http(fake: FakeProvider) -> Iterator[httpx.Client]:
    """Raw client for Gemini and byte-level assertions."""
    with httpx.Client(base_url=fake.url, timeout=10) as client:
        yield client


def sse_events(text: str) -> list[tuple[str | None, str]]:
    """Minimal SSE parser returning (event, data) pairs; accepts LF and CRLF framing."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        event, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        out.append((event, "\n".join(data)))
    return out
