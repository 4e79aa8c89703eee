"""What the gateway needs of its upstream HTTP client, beyond answering (guards for a client change).

- a stream reaches the client event by event, as the provider sends them (no read-ahead buffer
  holding the first events back until more arrived);
- a client that leaves while the provider has not even sent its response head gets the upstream
  request dropped at once, for streams as for whole answers (tests/test_routing_failures.py has
  the whole-answer case and the mid-stream one).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.fakeprovider import FakeProvider
from tests.support.clients import inference_key

HELLO = [{"role": "user", "content": "hello there"}]
WORDS = 8
CHUNK_DELAY_MS = 200


@pytest.fixture(scope="module")
def key(admin: httpx.Client) -> str:
    return inference_key(admin)


def test_a_stream_reaches_the_client_event_by_event(gateway: Any, key: str, fake_a: FakeProvider) -> None:
    fake_a.set(chunk_delay_ms=CHUNK_DELAY_MS, reply=" ".join(["word"] * WORDS))
    arrivals: list[float] = []
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "fakeopenai/gpt-4o-mini", "messages": HELLO, "stream": True},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data:") and '"content"' in line:
                arrivals.append(time.monotonic())
    assert len(arrivals) >= WORDS // 2
    spread = arrivals[-1] - arrivals[0]
    # the provider spent ~WORDS x 200 ms; a buffered relay would deliver the events in one burst
    assert spread > (WORDS // 2) * CHUNK_DELAY_MS / 1000


def test_client_disconnect_before_the_stream_head_cancels_upstream(
    gateway: Any, key: str, fake_a: FakeProvider
) -> None:
    fake_a.set(latency_ms=5000)
    with pytest.raises(httpx.ReadTimeout):
        with httpx.stream(
            "POST",
            f"{gateway.url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": "fakeopenai/gpt-4o-mini", "messages": HELLO, "stream": True},
            timeout=0.5,
        ) as response:
            response.read()
    record = fake_a.wait_for_disconnect(timeout=3)
    assert record.disconnected and not record.completed
