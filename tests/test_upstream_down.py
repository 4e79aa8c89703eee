"""A provider that is down or struggling, through a gateway with a hair-trigger circuit breaker:
every kind of probe outcome lets the provider back in, and errors never show internal addresses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import providers_config, settings_from_env
from tests.fakeprovider import FakeProvider
from tests.support.clients import inference_key, openai_client
from tests.support.servers import ThreadedGateway, free_port

HELLO = [{"role": "user", "content": "hello there"}]
A_THEN_B = {"provider": {"order": ["fakeopenai", "fakebackup"]}}
COOLDOWN = 1.0  # long enough that "still open" checks hold on a busy machine
DEAD_PORT = free_port()  # nothing listens there: connections are refused


@pytest.fixture(scope="module")
def edgy(
    gateway: ThreadedGateway, base_env: dict[str, str], upstream_a: FakeProvider, upstream_b: FakeProvider
) -> Iterator[ThreadedGateway]:
    """A second gateway on the same database: breaker opens at the first failure, short cooldown."""
    providers = providers_config(upstream_a, upstream_b)
    providers["fakedown"] = {
        "protocol": "openai",
        "base_url": f"http://127.0.0.1:{DEAD_PORT}/v1",
        "api_key": "sk-down",
        "models": ["down-model"],
        "pricing": {"down-model": {"prompt": 1.0, "completion": 2.0}},
    }
    settings = settings_from_env(
        base_env,
        providers=providers,
        retry_base_delay_seconds=0.01,
        retry_max_delay_seconds=0.02,
        breaker_threshold=1,
        breaker_cooldown_seconds=COOLDOWN,
        billing_job_interval_seconds=0.3,
    )
    server = ThreadedGateway(settings).start()
    yield server
    server.stop()


@pytest.fixture
def sdk(edgy: ThreadedGateway, admin: httpx.Client, fake_a: FakeProvider, fake_b: FakeProvider) -> Iterator[Any]:
    with openai_client(edgy.url, inference_key(admin)) as client:
        yield client


def _served_by(sdk: openai.OpenAI) -> str:
    raw = sdk.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HELLO, extra_body=A_THEN_B)
    return str(raw.headers["x-gatewayz-provider"])


def _trip(sdk: openai.OpenAI, fake_a: FakeProvider) -> None:
    """Open fakeopenai's breaker, check traffic avoids it, then wait until it is half-open."""
    fake_a.set(status=500)
    assert _served_by(sdk) == "fakebackup"
    fake_a.reset()
    assert _served_by(sdk) == "fakebackup"
    assert fake_a.requests == []  # open: skipped while another provider remains
    time.sleep(COOLDOWN + 0.05)


def test_a_probe_answered_with_a_400_closes_the_breaker(sdk: openai.OpenAI, fake_a: FakeProvider) -> None:
    _trip(sdk, fake_a)
    fake_a.set(status=400, error_message="bad tool schema")
    with pytest.raises(openai.BadRequestError):  # the probe: the provider answered, about the request
        sdk.chat.completions.create(model="gpt-4o-mini", messages=HELLO, extra_body=A_THEN_B)
    fake_a.reset()
    assert [_served_by(sdk) for _ in range(3)] == ["fakeopenai"] * 3


def test_a_probe_answered_with_a_429_lets_the_next_request_probe(
    sdk: openai.OpenAI, fake_a: FakeProvider
) -> None:
    _trip(sdk, fake_a)
    fake_a.set(status=429, error_headers={"retry-after": "0"})
    assert _served_by(sdk) == "fakebackup"  # the probe was rate limited: failed over
    assert fake_a.requests  # ... after trying fakeopenai
    fake_a.reset()
    assert [_served_by(sdk) for _ in range(3)] == ["fakeopenai"] * 3


def test_a_probe_whose_client_went_away_lets_the_next_request_probe(
    sdk: openai.OpenAI, edgy: ThreadedGateway, fake_a: FakeProvider
) -> None:
    _trip(sdk, fake_a)
    fake_a.set(latency_ms=3000)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{edgy.url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {sdk.api_key}"},
            json={"model": "gpt-4o-mini", "messages": HELLO, **A_THEN_B},
            timeout=0.3,
        )
    assert fake_a.wait_for_disconnect(timeout=3).disconnected
    fake_a.reset()
    assert [_served_by(sdk) for _ in range(3)] == ["fakeopenai"] * 3


def test_a_failed_probe_opens_the_breaker_again(sdk: openai.OpenAI, fake_a: FakeProvider) -> None:
    _trip(sdk, fake_a)
    fake_a.set(status=503)
    assert _served_by(sdk) == "fakebackup"  # the probe failed
    fake_a.reset()
    assert _served_by(sdk) == "fakebackup"
    assert fake_a.requests == []  # open again for another cooldown
    time.sleep(COOLDOWN + 0.05)
    assert _served_by(sdk) == "fakeopenai"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_an_unreachable_provider_is_named_with_a_reason_never_an_address(sdk: openai.OpenAI, stream: bool) -> None:
    with pytest.raises(openai.InternalServerError) as raised:
        sdk.chat.completions.create(model="fakedown/down-model", messages=HELLO, stream=stream)
    assert raised.value.status_code == 502
    error = raised.value.response.json()["error"]
    assert error["message"] == "Upstream provider fakedown failed: connection refused"
    assert error["code"] == "upstream_error"
    leaked = ("127.0.0.1", str(DEAD_PORT), "Cannot connect", "Connect call failed", "http")
    assert not [part for part in leaked if part in raised.value.response.text]
