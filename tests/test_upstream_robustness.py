"""Odd but real upstream answers, through the official openai SDK: huge stream events, SSE line
endings, a server that ignores `stream: true`, redirects, error bodies sent with status 200."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState

from tests.fakeprovider import FakeProvider
from tests.support.clients import inference_key, openai_client
from tests.support.databases import run_sql
from tests.support.identity import UPSTREAM_KEY_A

HELLO = [{"role": "user", "content": "hello there"}]
A_THEN_B = {"provider": {"order": ["fakeopenai", "fakebackup"]}}
ONLY_A = {"provider": "fakeopenai"}
OVER_LIMIT = 17_000_000  # bytes; the gateway accepts stream events up to 16 MiB (16,777,216 bytes)
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


@pytest.fixture(scope="module")
def key(admin: httpx.Client) -> str:
    return inference_key(admin)


@pytest.fixture
def client(gateway: Any, key: str, fake_a: FakeProvider, fake_b: FakeProvider) -> Iterator[openai.OpenAI]:
    with openai_client(gateway.url, key, timeout=60) as sdk:
        yield sdk


def _usage_row(database_url: str, request_id: str) -> tuple[Any, ...]:
    """The billed usage row of a request (written when the stream ends; waits for it briefly)."""
    deadline = time.monotonic() + 5
    while True:
        rows = run_sql(
            database_url,
            "SELECT provider, prompt_tokens, completion_tokens, cost, estimated, status "
            "FROM usage_records WHERE request_id = :p0",
            request_id,
        )
        if rows or time.monotonic() > deadline:
            assert len(rows) == 1, rows
            return tuple(rows[0])
        time.sleep(0.05)


def _final_completion(chunks: Iterable[Any]) -> Any:
    """The SDK's own accumulation of a stream (strict: tool-call deltas need index, id, function)."""
    state = ChatCompletionStreamState(input_tools=[WEATHER_TOOL])
    for chunk in chunks:
        state.handle_chunk(chunk)
    return state.get_final_completion()


# -- large stream events -------------------------------------------------------------------------


def test_a_600_kb_stream_event_reaches_the_client_whole(client: openai.OpenAI, fake_a: FakeProvider) -> None:
    fake_a.set(reply="x" * 600_000)  # one word: one content event of ~600 KB
    stream = client.chat.completions.create(model="fakeopenai/gpt-4o-mini", messages=HELLO, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "x" * 600_000


def test_large_tool_call_arguments_stream_through(client: openai.OpenAI, fake_a: FakeProvider) -> None:
    blob = "y" * 2_000_000  # streamed as three argument fragments of ~670 KB each
    fake_a.set(tool_calls=[{"id": "call_big", "name": "save", "arguments": {"blob": blob}}])
    with client.chat.completions.stream(
        model="fakeopenai/gpt-4o-mini", messages=HELLO, tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    [call] = choice.message.tool_calls
    assert (call.id, call.type, call.function.name) == ("call_big", "function", "save")
    assert call.function.arguments == '{"blob":"' + blob + '"}'


def test_an_event_over_the_limit_mid_stream_ends_with_an_error_event_billed_as_502(
    client: openai.OpenAI, fake_a: FakeProvider, fake_b: FakeProvider, database_url: str
) -> None:
    fake_a.set(reply="x" * OVER_LIMIT)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=HELLO, stream=True, extra_body=A_THEN_B
    )
    request_id = raw.headers["x-request-id"]
    assert raw.headers["x-gatewayz-provider"] == "fakeopenai"
    with pytest.raises(openai.APIError) as raised:
        for _ in raw.parse():
            pass
    message = str(raised.value)
    assert "fakeopenai" in message and "16 MiB" in message
    assert fake_b.requests == []  # the stream was committed: no switch after the first byte
    provider, *_, status = _usage_row(database_url, request_id)
    assert (provider, status) == ("fakeopenai", 502)  # a provider failure, not a client disconnect (499)


def test_an_event_over_the_limit_before_the_first_byte_fails_over(
    client: openai.OpenAI, fake_a: FakeProvider, fake_b: FakeProvider
) -> None:
    fake_a.set(stream_prefix='data: {"pad": "' + "x" * OVER_LIMIT + '"}\n\n')
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=HELLO, stream=True, extra_body=A_THEN_B
    )
    assert raw.headers["x-gatewayz-provider"] == "fakebackup"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in raw.parse() if chunk.choices)
    assert text == "Echo: hello there"


def test_an_event_over_the_limit_with_no_other_provider_is_502(client: openai.OpenAI, fake_a: FakeProvider) -> None:
    fake_a.set(stream_prefix='data: {"pad": "' + "x" * OVER_LIMIT + '"}\n\n')
    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True, extra_body=ONLY_A)
    assert raised.value.status_code == 502
    error = raised.value.response.json()["error"]
    assert error["code"] == "upstream_error" and "16 MiB" in error["message"]


@pytest.mark.parametrize("ending", ["\r\n", "\r"], ids=["crlf", "cr"])
def test_sse_line_endings_crlf_and_cr(client: openai.OpenAI, fake_a: FakeProvider, ending: str) -> None:
    fake_a.set(sse_line_ending=ending, stream_prefix=": keep-alive" + ending + ending)
    stream = client.chat.completions.create(
        model="fakeopenai/gpt-4o-mini", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: hello there"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


# -- a server that ignores stream: true ----------------------------------------------------------


def test_a_json_answer_to_a_stream_request_becomes_a_stream_and_is_billed(
    client: openai.OpenAI, fake_a: FakeProvider, database_url: str
) -> None:
    fake_a.set(ignore_stream=True, reply="Let me check.", tool_calls=[
        {"id": "call_w1", "name": "get_weather", "arguments": {"city": "Paris"}},
        {"id": "call_w2", "name": "get_weather", "arguments": {"city": "Rome"}},
    ])
    raw = client.chat.completions.with_raw_response.create(
        model="fakeopenai/gpt-4o-mini", messages=HELLO, tools=[WEATHER_TOOL], stream=True,
        stream_options={"include_usage": True},
    )
    final = _final_completion(raw.parse())
    assert fake_a.requests[0].body["stream"] is True  # the gateway asked for a stream and got JSON
    choice = final.choices[0]
    assert choice.message.content == "Let me check."
    assert choice.finish_reason == "tool_calls"
    assert [(c.id, c.function.name, c.function.arguments) for c in choice.message.tool_calls or []] == [
        ("call_w1", "get_weather", '{"city":"Paris"}'),
        ("call_w2", "get_weather", '{"city":"Rome"}'),
    ]
    usage = final.usage
    assert usage is not None
    # the fake counts words: prompt "hello there" = 2; completion = 3 reply words + name + args per call
    assert (usage.prompt_tokens, usage.completion_tokens) == (2, 7)
    row = _usage_row(database_url, raw.headers["x-request-id"])
    assert row == ("fakeopenai", 2, 7, 2 * 150 + 7 * 600, False, 200)  # gpt-4o-mini: $0.15 / $0.60 per 1M


def test_a_json_answer_to_a_stream_request_without_include_usage(client: openai.OpenAI, fake_a: FakeProvider) -> None:
    fake_a.set(ignore_stream=True)
    chunks = list(client.chat.completions.create(model="fakeopenai/gpt-4o-mini", messages=HELLO, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Echo: hello there"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)  # not asked for: no usage chunk


def test_a_json_error_body_with_status_200_is_still_an_error(client: openai.OpenAI, fake_a: FakeProvider) -> None:
    fake_a.set(status=500, error_http_status=200, error_message="model is overloaded")
    for stream in (True, False):
        with pytest.raises(openai.InternalServerError) as raised:
            client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=stream, extra_body=ONLY_A)
        assert raised.value.status_code == 502
        assert "model is overloaded" in raised.value.response.json()["error"]["message"]


# -- redirects -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_redirects_are_not_followed_and_the_provider_key_stays_home(
    client: openai.OpenAI, fake_a: FakeProvider, fake_b: FakeProvider, stream: bool
) -> None:
    fake_a.set(redirect_to=fake_b.url + "/v1/messages")  # another origin; `fakeanthropic` sends x-api-key
    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model="fakeanthropic/claude-haiku-4-5", messages=HELLO, stream=stream)
    assert raised.value.status_code == 502
    assert "redirect" in raised.value.response.json()["error"]["message"]
    assert [r.status for r in fake_a.requests] == [307]  # a redirect is not retried
    assert all(r.headers.get("x-api-key") != UPSTREAM_KEY_A for r in fake_b.requests)
    assert fake_b.requests == []


def test_a_redirect_fails_over_to_the_next_provider(
    client: openai.OpenAI, fake_a: FakeProvider, fake_b: FakeProvider
) -> None:
    fake_a.set(redirect_to=fake_b.openai_base_url + "/chat/completions", redirect_status=308)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HELLO, extra_body=A_THEN_B)
    assert raw.headers["x-gatewayz-provider"] == "fakebackup"
    assert raw.parse().choices[0].message.content == "Echo: hello there"
    assert [r.status for r in fake_a.requests] == [308]
    assert len(fake_b.requests) == 1  # the failover's own request; the redirect was not followed


# -- transport failures --------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_dropped_connection_is_reported_as_a_reason_not_exception_text(
    client: openai.OpenAI, fake_a: FakeProvider, stream: bool
) -> None:
    fake_a.set(drop_connection=True)
    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=stream, extra_body=ONLY_A)
    message = raised.value.response.json()["error"]["message"]
    assert message == "Upstream provider fakeopenai failed: closed the connection"


# -- whole answers are bounded too ---------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "json-to-stream"])
def test_a_whole_answer_over_64_mib_is_that_providers_failure(
    client: openai.OpenAI, fake_a: FakeProvider, fake_b: FakeProvider, stream: bool
) -> None:
    fake_a.set(reply="x" * (65 * 1024 * 1024), ignore_stream=True)
    answer = client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=stream, extra_body=A_THEN_B)
    if stream:
        assert "".join(c.choices[0].delta.content or "" for c in answer if c.choices) == "Echo: hello there"
    else:
        assert answer.choices[0].message.content == "Echo: hello there"  # failed over to fakebackup
    assert len(fake_b.requests) == 1
