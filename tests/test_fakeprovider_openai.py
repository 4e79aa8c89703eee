"""The fake provider's OpenAI surface, refereed by the official SDK with strict response validation."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from tests.fakeprovider import FakeProvider
from tests.fakeprovider.fixtures import fake, fake_provider
from tests.fakeprovider_helpers import OAI_HEADERS, TWO_CALLS, WEATHER_TOOLS, http, oai, sse_events

__all__ = ["fake", "fake_provider", "http", "oai"]  # re-exported so pytest sees the fixtures in this module


def test_openai_chat_non_stream(fake: FakeProvider, oai: openai.OpenAI) -> None:
    resp = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello big world"}],
    )
    assert resp.object == "chat.completion"
    assert resp.choices[0].message.content == "Echo: hello big world"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (5, 4, 9)
    rec = fake.last_request
    assert rec.path == "/v1/chat/completions" and rec.method == "POST" and rec.protocol == "openai"
    assert rec.body["model"] == "gpt-4o-mini"
    assert rec.headers["authorization"] == "Bearer sk-test"
    assert rec.completed and rec.status == 200 and rec.time <= time.time()


def test_openai_stream_include_usage(fake: FakeProvider, oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "one two three"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: one two three"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 4
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4
    assert all(c.usage is None for c in chunks[:-1])
    rec = fake.wait_idle()[-1]
    assert rec.stream and rec.completed and rec.chunks_sent == 8  # role, 4 words, finish, usage, [DONE]


def test_openai_stream_raw_bytes_end_with_done(http: httpx.Client) -> None:
    r = http.post(
        "/v1/chat/completions",
        headers=OAI_HEADERS,
        json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    assert events[-1] == (None, "[DONE]")
    assert all("usage" not in json.loads(d) for _, d in events[:-1])  # not requested, not sent
    assert r.text.endswith("data: [DONE]\n\n")


def test_openai_stream_helper_assembles_parallel_tool_calls(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.set(tool_calls=TWO_CALLS)
    with oai.chat.completions.stream(
        model="gpt-4o", messages=[{"role": "user", "content": "weather?"}], tools=WEATHER_TOOLS
    ) as stream:
        final = stream.get_final_completion()
    msg = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    assert msg.content is None
    assert [c.function.name for c in msg.tool_calls] == ["get_weather", "get_time"]
    assert json.loads(msg.tool_calls[0].function.arguments) == {"city": "Paris", "unit": "celsius"}
    assert json.loads(msg.tool_calls[1].function.arguments) == {"tz": "Europe/Paris"}
    assert msg.tool_calls[0].id != msg.tool_calls[1].id


def test_openai_non_stream_tool_call(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.set(tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}, "id": "call_abc"}])
    resp = oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}], tools=WEATHER_TOOLS)
    call = resp.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == ("call_abc", "get_weather", '{"city":"Oslo"}')
    assert resp.choices[0].finish_reason == "tool_calls"


def test_openai_max_tokens_truncates_with_length(oai: openai.OpenAI) -> None:
    resp = oai.chat.completions.create(model="m", max_tokens=2, messages=[{"role": "user", "content": "a b c d"}])
    assert resp.choices[0].message.content == "Echo: a"
    assert resp.choices[0].finish_reason == "length"


def test_openai_embeddings(fake: FakeProvider, oai: openai.OpenAI) -> None:
    # The SDK asks for base64 by default and decodes it after validation, which strict mode
    # cannot type-check (str vs list[float]), so that one call uses a lenient client.
    lenient = openai.OpenAI(base_url=fake.url + "/v1", api_key="k", max_retries=0)
    default = lenient.embeddings.create(model="text-embedding-3-small", input=["alpha beta", "gamma"])
    assert fake.last_request.body["encoding_format"] == "base64"  # SDK default, decoded by the SDK
    floats = oai.embeddings.create(
        model="text-embedding-3-small", input=["alpha beta", "gamma"], encoding_format="float"
    )
    assert [d.index for d in floats.data] == [0, 1]
    assert len(floats.data[0].embedding) == 16
    for a, b in zip(default.data[0].embedding, floats.data[0].embedding, strict=True):
        assert a == pytest.approx(b, abs=1e-6)
    assert floats.data[0].embedding != floats.data[1].embedding
    assert sum(v * v for v in floats.data[0].embedding) == pytest.approx(1.0, abs=1e-4)
    assert floats.usage.prompt_tokens == floats.usage.total_tokens == 3
    sized = oai.embeddings.create(model="e", input="x", dimensions=4, encoding_format="float")
    assert len(sized.data[0].embedding) == 4


def test_openai_models_list_and_pricing(fake: FakeProvider, oai: openai.OpenAI, http: httpx.Client) -> None:
    fake.set(models=["a/model-1", "b/model-2"], pricing={"a/model-1": {"prompt": "0.000001", "completion": "0.000002"}})
    page = oai.models.list()
    assert [m.id for m in page.data] == ["a/model-1", "b/model-2"]
    assert all(m.object == "model" for m in page.data)
    raw = http.get("/v1/models", headers=OAI_HEADERS).json()
    assert raw["object"] == "list"
    assert raw["data"][0]["pricing"] == {"prompt": "0.000001", "completion": "0.000002"}
    assert "pricing" not in raw["data"][1]


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (404, openai.NotFoundError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_openai_status_raises_typed_error(
    fake: FakeProvider, oai: openai.OpenAI, status: int, exc: type[openai.APIStatusError]
) -> None:
    fake.set(status=status, error_message="boom")
    with pytest.raises(exc) as info:
        oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == status
    assert info.value.message.endswith("boom") or "boom" in str(info.value.body)
    assert isinstance(info.value.body, dict) and set(info.value.body) == {"message", "type", "param", "code"}


def test_openai_api_key_enforced(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.set(api_key="sk-right")
    with pytest.raises(openai.AuthenticationError) as info:
        oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "invalid_api_key"
    good = openai.OpenAI(base_url=fake.url + "/v1", api_key="sk-right", max_retries=0)
    assert good.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}]).choices


def test_openai_strict_models_404(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.set(strict_models=True, models=["only-this"])
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(model="other", messages=[{"role": "user", "content": "x"}])
    assert oai.chat.completions.create(model="only-this", messages=[{"role": "user", "content": "x"}])


def test_status_for_next_n_requests_then_success_via_sdk_retries(fake: FakeProvider) -> None:
    fake.set(status=503, status_times=2, error_headers={"retry-after-ms": "5"})
    client = openai.OpenAI(base_url=fake.url + "/v1", api_key="k", max_retries=2)
    resp = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "retry me"}])
    assert resp.choices[0].message.content == "Echo: retry me"
    assert [r.status for r in fake.requests] == [503, 503, 200]


async def test_async_openai_client_from_event_loop(fake: FakeProvider) -> None:
    client = openai.AsyncOpenAI(base_url=fake.url + "/v1", api_key="k", _strict_response_validation=True)
    stream = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "async"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == "Echo: async"
    await client.close()
