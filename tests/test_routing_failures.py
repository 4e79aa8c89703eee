"""Retries, failover, error mapping, timeouts and disconnects, seen through the openai SDK."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.fakeprovider import FakeProvider
from tests.support.clients import inference_key, openai_client

HELLO = [{"role": "user", "content": "hello there"}]
A_THEN_B = {"provider": {"order": ["fakeopenai", "fakebackup"]}}
ONLY_A = {"provider": "fakeopenai"}


@pytest.fixture(scope="module")
def key(admin: httpx.Client) -> str:
    return inference_key(admin)


@pytest.fixture
def client(gateway: Any, key: str, fake_a: FakeProvider, fake_b: FakeProvider) -> Iterator[openai.OpenAI]:
    with openai_client(gateway.url, key) as sdk:
        yield sdk


def _create(client: openai.OpenAI, **extra: Any) -> Any:
    return client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=HELLO, extra_body=extra.pop("extra_body", A_THEN_B), **extra
    )


def test_retry_then_success_on_the_same_provider(client: openai.OpenAI, fake_a: FakeProvider) -> None:
    fake_a.set(status=503, status_times=1)
    raw = _create(client)
    assert raw.headers["x-gatewayz-provider"] == "fakeopenai"
    assert [r.status for r in fake_a.wait_idle()] == [503, 200]


def test_failover_to_the_next_provider_after_retries(
    client: openai.OpenAI, fake_a: FakeProvider, fake_b: FakeProvider
) -> None:
    fake_a.set(status=500)
    raw = _create(client)
    assert raw.headers["x-gatewayz-provider"] == "fakebackup"
    assert raw.parse().choices[0].message.content == "Echo: hello there"
    assert len(fake_a.wait_idle()) == 3  # first try + 2 retries
    assert len(fake_b.wait_idle()) == 1


def test_allow_fallbacks_false_keeps_to_the_ordered_providers(
    client: openai.OpenAI, fake_a: FakeProvider, fake_b: FakeProvider
) -> None:
    fake_a.set(status=500)
    with pytest.raises(openai.InternalServerError) as raised:
        _create(client, extra_body={"provider": {"order": ["fakeopenai"], "allow_fallbacks": False}})
    assert raised.value.status_code == 502
    assert fake_b.requests == []


def test_ignore_and_only(client: openai.OpenAI) -> None:
    raw = _create(client, extra_body={"provider": {"ignore": ["fakeopenai"]}})
    assert raw.headers["x-gatewayz-provider"] == "fakebackup"
    raw = _create(client, extra_body={"provider": {"only": ["fakeopenai"]}})
    assert raw.headers["x-gatewayz-provider"] == "fakeopenai"


def test_models_fallback_list(client: openai.OpenAI, fake_a: FakeProvider) -> None:
    fake_a.set(strict_models=True)
    raw = client.chat.completions.with_raw_response.create(
        model="fakeopenai/no-such-model", messages=HELLO, extra_body={"models": ["fakebackup/gpt-4o-mini"]}
    )
    assert raw.headers["x-gatewayz-provider"] == "fakebackup"
    assert raw.headers["x-gatewayz-model"] == "gpt-4o-mini"


@pytest.mark.parametrize(
    ("upstream_status", "sdk_error", "gateway_status"),
    [
        (400, openai.BadRequestError, 400),
        (422, openai.BadRequestError, 400),
        (401, openai.InternalServerError, 502),
        (403, openai.InternalServerError, 502),
        (429, openai.RateLimitError, 429),
        (500, openai.InternalServerError, 502),
        (503, openai.InternalServerError, 502),
    ],
)
def test_upstream_errors_map_to_openai_statuses(
    client: openai.OpenAI, fake_a: FakeProvider, upstream_status: int, sdk_error: type[Exception], gateway_status: int
) -> None:
    fake_a.set(status=upstream_status, error_message="upstream says no", error_headers={"retry-after": "0"})
    with pytest.raises(sdk_error) as raised:
        _create(client, extra_body=ONLY_A)
    error = raised.value
    assert isinstance(error, openai.APIStatusError)
    assert error.status_code == gateway_status
    body = error.response.json()["error"]
    assert set(body) == {"message", "type", "param", "code"}
    if gateway_status == 400:
        assert "upstream says no" in body["message"]  # the provider's own validation message
        assert len(fake_a.wait_idle()) == 1  # a bad request is not retried
    if upstream_status in (401, 403):
        assert "credentials" in body["message"]
    if gateway_status == 429:
        assert error.response.headers.get("retry-after") is not None


def test_unknown_model_is_404_model_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="nobody-serves-this", messages=HELLO)
    assert raised.value.response.json()["error"]["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="openrouter/some-model", messages=HELLO)  # no key: not offered


def test_first_byte_timeout_is_504(client: openai.OpenAI, fake_a: FakeProvider) -> None:
    fake_a.set(latency_ms=2500)  # `fakeslow` allows 1 s to the first byte and no retries
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model="fakeslow/slow-model", messages=HELLO)
    assert raised.value.status_code == 504
    assert raised.value.response.json()["error"]["code"] == "upstream_timeout"
    assert time.monotonic() - started < 2.4


def test_slow_first_byte_within_the_limit_is_fine(client: openai.OpenAI, fake_a: FakeProvider) -> None:
    fake_a.set(first_byte_delay_ms=300)
    assert client.chat.completions.create(model="fakeslow/slow-model", messages=HELLO).choices


def test_invalid_bodies_are_400_naming_the_param(gateway: Any, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    url = f"{gateway.url}/v1/chat/completions"
    cases = [
        ({"messages": HELLO}, "model"),
        ({"model": "gpt-4o-mini"}, "messages"),
        ({"model": "gpt-4o-mini", "messages": []}, "messages"),
        ({"model": "gpt-4o-mini", "messages": [{"content": "x"}]}, "messages[0].role"),
        ({"model": "gpt-4o-mini", "messages": HELLO, "stream": "yes"}, "stream"),
        ({"model": "gpt-4o-mini", "messages": HELLO, "provider": 5}, "provider"),
        ({"model": "gpt-4o-mini", "messages": HELLO, "models": "x"}, "models"),
    ]
    for body, param in cases:
        response = httpx.post(url, json=body, headers=headers)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["param"] == param
    for raw in (b"{nope", b"[1,2]", b""):
        response = httpx.post(url, content=raw, headers={**headers, "content-type": "application/json"})
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"


def test_inference_needs_a_valid_key_and_the_inference_scope(gateway: Any, admin: httpx.Client) -> None:
    with openai_client(gateway.url, "gw_live_" + "x" * 43) as sdk, pytest.raises(openai.AuthenticationError):
        sdk.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    no_inference = inference_key(admin, scopes=["keys"])
    with openai_client(gateway.url, no_inference) as sdk, pytest.raises(openai.PermissionDeniedError):
        sdk.chat.completions.create(model="gpt-4o-mini", messages=HELLO)


def test_model_allowlist_on_the_key(gateway: Any, admin: httpx.Client, fake_a: FakeProvider) -> None:
    limited = inference_key(admin, allowed_models=["fakeopenai/*"])
    with openai_client(gateway.url, limited) as sdk:
        assert sdk.chat.completions.create(model="fakeopenai/gpt-4o-mini", messages=HELLO).choices
        with pytest.raises(openai.PermissionDeniedError) as raised:
            sdk.chat.completions.create(model="fakebackup/gpt-4o-mini", messages=HELLO)
        assert raised.value.response.json()["error"]["code"] == "model_not_allowed"
        with pytest.raises(openai.PermissionDeniedError):  # fallbacks are checked too
            sdk.chat.completions.create(
                model="fakeopenai/gpt-4o-mini", messages=HELLO, extra_body={"models": ["fakebackup/gpt-4o-mini"]}
            )
        listed = [m.id for m in sdk.models.list()]
        assert listed and all(m.startswith("fakeopenai/") for m in listed)


def test_stream_failure_before_first_byte_fails_over(
    client: openai.OpenAI, fake_a: FakeProvider, fake_b: FakeProvider
) -> None:
    fake_a.set(status=502)
    stream = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=HELLO, stream=True, extra_body=A_THEN_B
    )
    assert stream.headers["x-gatewayz-provider"] == "fakebackup"
    text = "".join(c.choices[0].delta.content or "" for c in stream.parse() if c.choices)
    assert text == "Echo: hello there"


def test_stream_cut_mid_way_ends_with_an_error_event_and_no_switch(
    client: openai.OpenAI, fake_a: FakeProvider, fake_b: FakeProvider
) -> None:
    fake_a.set(cut_after_chunks=3)
    received: list[str] = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in client.chat.completions.create(
            model="gpt-4o-mini", messages=HELLO, stream=True, extra_body=A_THEN_B
        ):
            if chunk.choices:
                received.append(chunk.choices[0].delta.content or "")
    assert "fakeopenai" in str(raised.value)
    assert 0 < len(received) <= 3
    assert fake_b.requests == []  # once bytes reached the client, the provider is never switched


def test_client_disconnect_mid_stream_cancels_upstream(gateway: Any, key: str, fake_a: FakeProvider) -> None:
    fake_a.set(chunk_delay_ms=300, reply=" ".join(["word"] * 40))
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "fakeopenai/gpt-4o-mini", "messages": HELLO, "stream": True},
    ) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data:"))
        assert first
    started = time.monotonic()
    record = fake_a.wait_for_disconnect()
    assert record.disconnected and not record.completed
    assert time.monotonic() - started < 2.0


def test_client_disconnect_while_waiting_cancels_upstream(gateway: Any, key: str, fake_a: FakeProvider) -> None:
    fake_a.set(latency_ms=5000)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{gateway.url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": "fakeopenai/gpt-4o-mini", "messages": HELLO},
            timeout=0.5,
        )
    record = fake_a.wait_for_disconnect(timeout=3)
    assert record.disconnected
