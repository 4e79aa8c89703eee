"""Streams of the Responses and Messages faces when things go wrong: the client going away mid-stream
(billed for what was relayed, once), a provider failing before the first byte (failover, billed at
the provider that answered), and a provider cutting the stream after bytes went out (no switch; the
stream ends with the face's own error event, which the official SDKs report as they would against
the real API)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.fakeprovider import FakeProvider
from tests.support.clients import openai_client
from tests.support.faces import (
    ANTHROPIC_ERROR_TYPES,
    ECHO,
    HELLO,
    anthropic_client,
    client_id,
    held,
    ledger,
    posts,
    received,
    sse,
    sse_lines,
    tagged,
    usage_row,
)
from tests.support.identity import GwUser

NATIVE = "fakeanthropic/claude-haiku-4-5"
TRANSLATED = "fakeopenai/gpt-4o-mini"
PRICES = {NATIVE: (1000, 5000), TRANSLATED: (150, 600)}  # nanos per prompt / completion token
LONG_REPLY = " ".join(f"word{i}" for i in range(60))
A_THEN_B = {"provider": {"order": ["fakeopenai", "fakebackup"]}}
USER_HELLO = [{"role": "user", "content": HELLO}]


@pytest.fixture
def sdk(gateway: Any, funded: GwUser) -> Iterator[openai.OpenAI]:
    with openai_client(gateway.url, funded.key) as client:
        yield client


@pytest.fixture
def ant(gateway: Any, funded: GwUser) -> Iterator[anthropic.Anthropic]:
    with anthropic_client(gateway.url, funded.key) as client:
        yield client


def _assert_billed_for_what_was_relayed(database_url: str, funded: GwUser, tag: str, provider: str,
                                        prices: tuple[int, int]) -> None:
    row = usage_row(database_url, tag)
    assert (row["provider"], row["status"], row["stream"]) == (provider, 499, True)
    # what was relayed (the client read 5 words, each one token to the fake), not the whole answer
    assert 5 <= row["completion_tokens"] < 60
    assert row["cost"] == row["prompt_tokens"] * prices[0] + row["completion_tokens"] * prices[1]
    assert ledger(database_url, row["request_id"]) == [("usage", -row["cost"])]
    assert held(funded.client) == "0.000000000"


# -- the client goes away ------------------------------------------------------------------------------


def test_responses_disconnect_is_billed_for_what_was_relayed(
    gateway: Any, funded: GwUser, fake_a: FakeProvider, database_url: str
) -> None:
    fake_a.set(chunk_delay_ms=120, reply=LONG_REPLY)
    tag = client_id()
    deltas = 0
    with httpx.stream(
        "POST", f"{gateway.url}/v1/responses",
        headers={"Authorization": f"Bearer {funded.key}", **tagged(tag)},
        json={"model": TRANSLATED, "input": HELLO, "stream": True},
    ) as response:
        assert response.status_code == 200
        for event, _ in sse_lines(response):
            deltas += event == "response.output_text.delta"
            if deltas == 5:
                break
    record = fake_a.wait_for_disconnect()
    assert not record.completed
    _assert_billed_for_what_was_relayed(database_url, funded, tag, "fakeopenai", PRICES[TRANSLATED])


@pytest.mark.parametrize("model", [NATIVE, TRANSLATED])
def test_messages_disconnect_is_billed_for_what_was_relayed(
    gateway: Any, funded: GwUser, fake_a: FakeProvider, database_url: str, model: str
) -> None:
    fake_a.set(chunk_delay_ms=120, reply=LONG_REPLY)
    tag = client_id()
    deltas = 0
    with httpx.stream(
        "POST", f"{gateway.url}/v1/messages",
        headers={"x-api-key": funded.key, "anthropic-version": "2023-06-01", **tagged(tag)},
        json={"model": model, "max_tokens": 200, "messages": USER_HELLO, "stream": True},
    ) as response:
        assert response.status_code == 200
        for event, _ in sse_lines(response):
            deltas += event == "content_block_delta"
            if deltas == 5:
                break
    record = fake_a.wait_for_disconnect()
    assert not record.completed
    _assert_billed_for_what_was_relayed(database_url, funded, tag, model.split("/")[0], PRICES[model])


# -- the provider fails before the first byte: failover ---------------------------------------------------


def test_responses_stream_fails_over_before_the_first_byte(
    sdk: openai.OpenAI, fake_a: FakeProvider, fake_b: FakeProvider, database_url: str
) -> None:
    fake_a.set(status=502)
    tag = client_id()
    with sdk.responses.stream(model="gpt-4o-mini", input=HELLO, extra_body=A_THEN_B,
                              extra_headers=tagged(tag)) as stream:
        final = stream.get_final_response()
    assert final.output_text == ECHO and final.status == "completed"
    assert [r.status for r in received(fake_a, "openai")] == [502, 502, 502]  # first try + 2 retries
    assert len(received(fake_b, "openai")) == 1
    row = usage_row(database_url, tag)
    expected = 2 * 1000 + 3 * 2000  # at fakebackup's price
    assert (row["provider"], row["cost"], row["status"]) == ("fakebackup", expected, 200)
    assert ledger(database_url, row["request_id"]) == [("usage", -expected)]


@pytest.mark.parametrize("stream", [True, False])
def test_messages_native_provider_fails_over_to_a_translated_one(
    ant: anthropic.Anthropic, fake_a: FakeProvider, fake_b: FakeProvider, database_url: str, stream: bool
) -> None:
    fake_a.set(status=500)
    tag = client_id()
    options: dict[str, Any] = {"model": NATIVE, "max_tokens": 64, "messages": USER_HELLO,
                               "extra_body": {"models": ["fakebackup/gpt-4o-mini"]}, "extra_headers": tagged(tag)}
    if stream:
        with ant.messages.stream(**options) as opened:
            message = opened.get_final_message()
    else:
        message = ant.messages.create(**options)
    assert message.content[0].text == ECHO and message.stop_reason == "end_turn"  # type: ignore[union-attr]
    assert [r.status for r in received(fake_a, "anthropic")] == [500, 500, 500]
    upstream = received(fake_b, "openai")
    assert len(upstream) == 1 and upstream[0].path == "/v1/chat/completions" and upstream[0].stream is stream
    assert "models" not in upstream[0].body
    row = usage_row(database_url, tag)
    assert (row["provider"], row["cost"], row["status"]) == ("fakebackup", 2 * 1000 + 3 * 2000, 200)


# -- the provider cuts the stream after bytes went out: the face's own error event ----------------------


def test_responses_cut_stream_ends_with_response_failed(
    sdk: openai.OpenAI, fake_a: FakeProvider, fake_b: FakeProvider, database_url: str
) -> None:
    fake_a.set(cut_after_chunks=3)  # role, "Echo:", " hello", then the socket closes
    tag = client_id()
    events = list(sdk.responses.create(model="gpt-4o-mini", input=HELLO, stream=True, extra_body=A_THEN_B,
                                       extra_headers=tagged(tag)))
    kinds = [e.type for e in events]
    assert "response.completed" not in kinds
    assert kinds[-1] == "response.failed"
    assert [e.delta for e in events if e.type == "response.output_text.delta"] == ["Echo:", " hello"]
    failed = events[-1].response  # type: ignore[union-attr]
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.code == "server_error" and "fakeopenai" in failed.error.message
    assert posts(fake_b) == []  # once bytes reached the client, the provider is never switched
    assert sdk.responses.retrieve(failed.id).status == "failed"
    row = usage_row(database_url, tag)
    assert (row["provider"], row["status"]) == ("fakeopenai", 502)
    assert ledger(database_url, row["request_id"]) == ([("usage", -row["cost"])] if row["cost"] else [])

    fake_a.clear_requests()
    with sdk.responses.stream(model=TRANSLATED, input=HELLO) as stream, pytest.raises(
        RuntimeError, match=r"response\.completed"
    ):
        stream.get_final_response()


def test_responses_upstream_error_event_ends_with_response_failed(
    sdk: openai.OpenAI, fake_a: FakeProvider
) -> None:
    fake_a.set(error_after_chunks=4)  # Anthropic's own `event: error` (overloaded) mid-stream
    events = list(sdk.responses.create(model=NATIVE, input=HELLO, stream=True))
    kinds = [e.type for e in events]
    assert kinds[-1] == "response.failed" and "response.completed" not in kinds
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Echo:"
    assert "fakeanthropic" in events[-1].response.error.message  # type: ignore[union-attr]


@pytest.mark.parametrize(("model", "knob"), [(NATIVE, {"cut_after_chunks": 5}), (TRANSLATED, {"cut_after_chunks": 3}),
                                             (TRANSLATED, {"error_after_chunks": 3})])
def test_messages_cut_stream_ends_with_an_error_event(
    gateway: Any, ant: anthropic.Anthropic, funded: GwUser, fake_a: FakeProvider, model: str, knob: dict[str, int]
) -> None:
    fake_a.set(**knob)  # the upstream has sent "Echo:" and " hello" when it breaks off
    pieces: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as raised, ant.messages.stream(
        model=model, max_tokens=64, messages=USER_HELLO
    ) as stream:
        for text in stream.text_stream:
            pieces.append(text)
    assert pieces == ["Echo:", " hello"]
    body = raised.value.body
    assert isinstance(body, dict) and body["type"] == "error", body
    assert body["error"]["type"] in ANTHROPIC_ERROR_TYPES and model.split("/")[0] in body["error"]["message"]

    fake_a.clear_requests()
    response = httpx.post(f"{gateway.url}/v1/messages",
                          headers={"x-api-key": funded.key, "anthropic-version": "2023-06-01"},
                          json={"model": model, "max_tokens": 64, "messages": USER_HELLO, "stream": True})
    names = [name for name, _ in sse(response.text)]
    assert names[0] == "message_start" and names[-1] == "error"
    assert "message_stop" not in names and names.count("error") == 1
