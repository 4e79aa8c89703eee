"""The fake provider must speak each protocol well enough that the official SDKs accept it.

Strict response validation in the OpenAI SDK and the Anthropic SDK's stream
accumulator are the referees: if they parse our bytes, gateway tests built on the
fake exercise realistic wire formats. The knob tests pin the failure modes
gateway tests rely on (cuts, delays, injected statuses, disconnect detection).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.fakeprovider import FakeProvider, Scenario
from tests.fakeprovider.fixtures import fake, fake_provider

__all__ = ["fake", "fake_provider"]  # re-exported so pytest sees the fixtures in this module

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


# --------------------------------------------------------------------------- OpenAI


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


# --------------------------------------------------------------------------- Anthropic


def test_anthropic_messages_create(fake: FakeProvider, ant: anthropic.Anthropic) -> None:
    msg = ant.messages.create(
        model="claude-haiku-4-5",
        max_tokens=100,
        system="sys words here",
        messages=[{"role": "user", "content": [{"type": "text", "text": "hi claude"}]}],
    )
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.content[0].type == "text" and msg.content[0].text == "Echo: hi claude"
    assert msg.stop_reason == "end_turn"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (5, 3)
    assert fake.last_request.headers["anthropic-version"]
    assert fake.last_request.headers["authorization"] == "Bearer sk-ant-test"  # how SDK 2.x sends keys


def test_anthropic_stream_with_parallel_tool_use(fake: FakeProvider, ant: anthropic.Anthropic) -> None:
    fake.set(tool_calls=TWO_CALLS, reply="Let me check.")
    tools = [{"name": n, "input_schema": {"type": "object"}} for n in ("get_weather", "get_time")]
    with ant.messages.stream(
        model="claude", max_tokens=100, tools=tools, messages=[{"role": "user", "content": "weather?"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Let me check."
    assert [b.type for b in final.content] == ["text", "tool_use", "tool_use"]
    assert final.content[1].name == "get_weather"
    assert final.content[1].input == {"city": "Paris", "unit": "celsius"}
    assert final.content[2].input == {"tz": "Europe/Paris"}
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens == 3 + (1 + 1) + (1 + 2)  # reply words + names + argument words


def test_anthropic_raw_event_sequence(http: httpx.Client) -> None:
    r = http.post(
        "/v1/messages",
        headers=ANT_HEADERS,
        json={"model": "c", "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "a b"}]},
    )
    names = [e for e, _ in sse_events(r.text)]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    datas = [json.loads(d) for _, d in sse_events(r.text)]
    assert all(d["type"] == n for d, n in zip(datas, names, strict=True))
    assert datas[-2]["delta"]["stop_reason"] == "end_turn" and datas[-2]["usage"]["output_tokens"] == 3


def test_anthropic_tool_stream_uses_input_json_delta(fake: FakeProvider, http: httpx.Client) -> None:
    fake.set(tool_calls=[TWO_CALLS[0]])
    r = http.post(
        "/v1/messages",
        headers=ANT_HEADERS,
        json={"model": "c", "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "x"}]},
    )
    datas = [json.loads(d) for _, d in sse_events(r.text)]
    deltas = [d["delta"] for d in datas if d["type"] == "content_block_delta"]
    assert {d["type"] for d in deltas} == {"input_json_delta"}
    assert json.loads("".join(d["partial_json"] for d in deltas)) == {"city": "Paris", "unit": "celsius"}
    assert datas[1]["content_block"] == {"type": "tool_use", "id": "toolu_fake_0", "name": "get_weather", "input": {}}


def test_anthropic_header_checks_and_error_shape(fake: FakeProvider, http: httpx.Client) -> None:
    body = {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    r = http.post("/v1/messages", json=body, headers={"anthropic-version": "2023-06-01"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    assert r.json()["type"] == "error"
    r = http.post("/v1/messages", json=body, headers={"x-api-key": "k"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    fake.set(api_key="right")
    assert http.post("/v1/messages", json=body, headers=ANT_HEADERS).status_code == 401
    assert http.post("/v1/messages", json=body, headers={**ANT_HEADERS, "x-api-key": "right"}).status_code == 200


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (429, anthropic.RateLimitError),
        (529, anthropic.OverloadedError),
        (500, anthropic.InternalServerError),
    ],
)
def test_anthropic_status_raises_typed_error(
    fake: FakeProvider, ant: anthropic.Anthropic, status: int, exc: type[anthropic.APIStatusError]
) -> None:
    fake.set(status=status)
    with pytest.raises(exc):
        ant.messages.create(model="c", max_tokens=5, messages=[{"role": "user", "content": "x"}])


def test_anthropic_models_list_by_version_header(ant: anthropic.Anthropic) -> None:
    ids = [m.id for m in ant.models.list()]
    assert "claude-haiku-4-5" in ids and "gpt-4o" in ids


# --------------------------------------------------------------------------- Gemini


GEM_BODY = {
    "systemInstruction": {"parts": [{"text": "be nice"}]},
    "contents": [{"role": "user", "parts": [{"text": "hello gemini"}]}],
}


def test_gemini_generate_content(http: httpx.Client) -> None:
    r = http.post("/v1beta/models/gemini-2.0-flash:generateContent", headers=GEM_HEADERS, json=GEM_BODY)
    assert r.status_code == 200
    data = r.json()
    cand = data["candidates"][0]
    assert cand["content"] == {"parts": [{"text": "Echo: hello gemini"}], "role": "model"}
    assert cand["finishReason"] == "STOP"
    assert data["usageMetadata"] == {"promptTokenCount": 4, "candidatesTokenCount": 3, "totalTokenCount": 7}
    assert data["modelVersion"] == "gemini-2.0-flash"


def test_gemini_stream_sse_with_query_key(fake: FakeProvider, http: httpx.Client) -> None:
    r = http.post(
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent", params={"alt": "sse", "key": "g-test"}, json=GEM_BODY
    )
    assert r.headers["content-type"].startswith("text/event-stream")
    assert "[DONE]" not in r.text and "\r\n\r\n" in r.text
    chunks = [json.loads(d) for _, d in sse_events(r.text)]
    assert len(chunks) == 3
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == "Echo: hello gemini"
    assert [c["candidates"][0].get("finishReason") for c in chunks] == [None, None, "STOP"]
    assert [c["usageMetadata"]["candidatesTokenCount"] for c in chunks] == [1, 2, 3]  # cumulative
    assert fake.last_request.query == {"alt": "sse", "key": "g-test"}


def test_gemini_stream_without_alt_is_json_array(http: httpx.Client) -> None:
    r = http.post("/v1beta/models/g:streamGenerateContent", headers=GEM_HEADERS, json=GEM_BODY)
    arr = r.json()
    assert isinstance(arr, list) and arr[-1]["candidates"][0]["finishReason"] == "STOP"


def test_gemini_function_calls_and_auth(fake: FakeProvider, http: httpx.Client) -> None:
    url = "/v1beta/models/g:generateContent"
    r = http.post(url, json=GEM_BODY)
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    fake.set(tool_calls=TWO_CALLS, api_key="g-right")
    assert http.post(url, json=GEM_BODY, headers=GEM_HEADERS).status_code == 401
    r = http.post(url, json=GEM_BODY, params={"key": "g-right"})
    parts = r.json()["candidates"][0]["content"]["parts"]
    assert parts == [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris", "unit": "celsius"}}},
        {"functionCall": {"name": "get_time", "args": {"tz": "Europe/Paris"}}},
    ]
    fake.set(api_key=None, status=429)
    r = http.post(url, json=GEM_BODY, headers=GEM_HEADERS)
    assert r.status_code == 429
    assert r.json()["error"] == {
        "code": 429,
        "message": "fake provider injected status 429",
        "status": "RESOURCE_EXHAUSTED",
    }


def test_gemini_stream_parallel_function_calls(fake: FakeProvider, http: httpx.Client) -> None:
    fake.set(tool_calls=TWO_CALLS)
    r = http.post("/v1beta/models/g:streamGenerateContent?alt=sse", headers=GEM_HEADERS, json=GEM_BODY)
    chunks = [json.loads(d) for _, d in sse_events(r.text)]
    last = chunks[-1]["candidates"][0]
    assert [p["functionCall"]["name"] for p in last["content"]["parts"]] == ["get_weather", "get_time"]
    assert last["finishReason"] == "STOP"


def test_malformed_body_is_recorded_and_rejected(fake: FakeProvider, http: httpx.Client) -> None:
    r = http.post("/v1/messages", headers={**ANT_HEADERS, "content-type": "application/json"}, content=b"{oops")
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    rec = fake.wait_idle()[-1]
    assert rec.body == "{oops" and rec.status == 400 and not rec.completed


# --------------------------------------------------------------------------- knobs


def test_cut_stream_after_k_chunks(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.set(cut_after_chunks=2)
    got = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in oai.chat.completions.create(
            model="m", stream=True, messages=[{"role": "user", "content": "a b c d e"}]
        ):
            got.append(chunk)
    assert len(got) == 2
    rec = fake.wait_idle()[-1]
    assert rec.cut and rec.chunks_sent == 2 and not rec.disconnected and not rec.completed


def test_cut_raw_stream_has_no_done(fake: FakeProvider, http: httpx.Client) -> None:
    fake.set(cut_after_chunks=3)
    body = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        http.stream(
            "POST",
            "/v1/chat/completions",
            headers=OAI_HEADERS,
            json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "a b c d e"}]},
        ) as r,
    ):
        for part in r.iter_bytes():
            body += part
    assert body.count(b"data: ") == 3 and b"[DONE]" not in body


def test_slow_first_byte_and_latency(fake: FakeProvider, http: httpx.Client) -> None:
    fake.set(latency_ms=150, first_byte_delay_ms=300)
    start = time.perf_counter()
    with http.stream(
        "POST",
        "/v1/chat/completions",
        headers=OAI_HEADERS,
        json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]},
    ) as r:
        headers_at = time.perf_counter() - start
        first = next(r.iter_raw())
        first_at = time.perf_counter() - start
    assert first.startswith(b"data: ")
    assert 0.14 <= headers_at < 0.45
    assert first_at - headers_at >= 0.28


def test_slow_first_byte_non_stream_sends_headers_first(fake: FakeProvider, http: httpx.Client) -> None:
    fake.set(first_byte_delay_ms=400)
    start = time.perf_counter()
    with http.stream(
        "POST",
        "/v1/chat/completions",
        headers=OAI_HEADERS,
        json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
    ) as r:
        headers_at = time.perf_counter() - start
        body = r.read()
    assert headers_at < 0.3 and time.perf_counter() - start >= 0.39
    assert json.loads(body)["choices"][0]["message"]["content"] == "Echo: x"


def test_chunk_delay(fake: FakeProvider, http: httpx.Client) -> None:
    fake.set(chunk_delay_ms=40)
    start = time.perf_counter()
    r = http.post(
        "/v1/chat/completions",
        headers=OAI_HEADERS,
        json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "a b"}]},
    )
    # role + 3 words + finish + [DONE] = 6 events, 5 gaps
    assert len(sse_events(r.text)) == 6 and time.perf_counter() - start >= 0.2


def test_status_for_n_requests_over_http_control(fake: FakeProvider, http: httpx.Client) -> None:
    r = http.post("/_fake/scenario", json={"status": 500, "status_times": 1})
    assert r.json()["status"] == 500
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert http.post("/v1/chat/completions", headers=OAI_HEADERS, json=body).status_code == 500
    assert http.post("/v1/chat/completions", headers=OAI_HEADERS, json=body).status_code == 200
    recorded = http.get("/_fake/requests").json()
    assert [r["status"] for r in recorded] == [500, 200]
    assert http.post("/_fake/scenario", json={"nope": 1}).status_code == 400
    http.post("/_fake/reset")
    assert http.get("/_fake/requests").json() == []
    assert http.get("/_fake/scenario").json() == Scenario().to_dict()


def test_status_always_when_times_unset(fake: FakeProvider, http: httpx.Client) -> None:
    fake.set(status=502)
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert {http.post("/v1/chat/completions", headers=OAI_HEADERS, json=body).status_code for _ in range(3)} == {502}


def test_disconnect_mid_stream_is_recorded(fake: FakeProvider) -> None:
    fake.set(chunk_delay_ms=300)
    with (
        httpx.Client(base_url=fake.url) as client,
        client.stream(
            "POST",
            "/v1/chat/completions",
            headers=OAI_HEADERS,
            json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "a b c d"}]},
        ) as r,
    ):
        next(r.iter_raw())
    rec = fake.wait_for_disconnect(timeout=5)
    assert rec.disconnected and not rec.completed and not rec.cut
    assert rec.chunks_sent < 6


def test_disconnect_during_latency_is_recorded(fake: FakeProvider) -> None:
    fake.set(latency_ms=3000)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            fake.url + "/v1/messages",
            headers=ANT_HEADERS,
            timeout=0.3,
            json={"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
        )
    rec = fake.wait_for_disconnect(timeout=5)
    assert rec.protocol == "anthropic" and rec.status is None


def test_per_request_header_override(fake: FakeProvider, http: httpx.Client) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    r = http.post(
        "/v1/chat/completions",
        json=body,
        headers={**OAI_HEADERS, "x-fake-scenario": json.dumps({"reply": "special", "omit_usage": True})},
    )
    assert r.json()["choices"][0]["message"]["content"] == "special" and "usage" not in r.json()
    r = http.post("/v1/chat/completions", json=body, headers=OAI_HEADERS)
    assert r.json()["choices"][0]["message"]["content"] == "Echo: x"
    fake.set(status=500, status_times=1)
    override = {**OAI_HEADERS, "x-fake-scenario": '{"status": 418}'}
    assert http.post("/v1/chat/completions", json=body, headers=override).status_code == 418
    assert http.post("/v1/chat/completions", json=body, headers=OAI_HEADERS).status_code == 500  # not consumed
    bad = http.post("/v1/chat/completions", json=body, headers={**OAI_HEADERS, "x-fake-scenario": '{"zz": 1}'})
    assert bad.status_code == 400 and "zz" in bad.json()["error"]["message"]


def test_inline_directive_survives_protocol_translation(fake: FakeProvider, ant: anthropic.Anthropic) -> None:
    msg = ant.messages.create(
        model="c",
        max_tokens=50,
        messages=[{"role": "user", "content": '[[fake:{"reply": "from directive"}]] ignored words'}],
    )
    assert msg.content[0].text == "from directive"
    assert msg.usage.input_tokens == 2  # the directive itself is not counted
    with pytest.raises(anthropic.RateLimitError):
        ant.messages.create(
            model="c", max_tokens=5, messages=[{"role": "user", "content": '[[fake:{"status": 429}]] hi'}]
        )
    echoed = ant.messages.create(
        model="c", max_tokens=50, messages=[{"role": "user", "content": '[[fake:{"latency_ms": 1}]] plain'}]
    )
    assert echoed.content[0].text == "Echo: plain"


def test_error_after_chunks_sends_protocol_error_event(
    fake: FakeProvider, ant: anthropic.Anthropic, oai: openai.OpenAI
) -> None:
    fake.set(error_after_chunks=3)
    with (
        pytest.raises(anthropic.APIStatusError) as info,
        ant.messages.stream(model="c", max_tokens=50, messages=[{"role": "user", "content": "a b c"}]) as stream,
    ):
        stream.get_final_message()
    assert "overloaded_error" in str(info.value)
    with pytest.raises(openai.APIError):
        list(oai.chat.completions.create(model="m", stream=True, messages=[{"role": "user", "content": "a"}]))


def test_omit_usage(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.set(omit_usage=True)
    assert oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}]).usage is None
    chunks = list(
        oai.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True, stream_options={"include_usage": True}
        )
    )
    assert all(c.usage is None for c in chunks) and all(c.choices for c in chunks)


def test_drop_connection(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.set(drop_connection=True)
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert fake.wait_idle()[-1].cut


def test_set_rejects_unknown_fields_and_reset_restores(fake: FakeProvider) -> None:
    with pytest.raises(TypeError):
        fake.set(latncy_ms=5)
    fake.set(reply="r", latency_ms=1)
    fake.reset()
    assert fake.scenario == Scenario() and fake.requests == []


def test_concurrent_requests(fake: FakeProvider) -> None:
    import concurrent.futures

    fake.set(latency_ms=100)
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    start = time.perf_counter()
    with (
        httpx.Client(base_url=fake.url, limits=httpx.Limits(max_connections=20)) as client,
        concurrent.futures.ThreadPoolExecutor(20) as pool,
    ):
        codes = list(
            pool.map(
                lambda _: client.post("/v1/chat/completions", json=body, headers=OAI_HEADERS).status_code, range(20)
            )
        )
    assert codes == [200] * 20
    assert time.perf_counter() - start < 1.5  # latency overlaps; handlers don't serialise


def test_separate_process_mode() -> None:
    cmd = [sys.executable, "-m", "tests.fakeprovider", "--port", "0", "--latency-ms", "20", "--reply", "proc"]
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("fakeprovider listening on http://127.0.0.1:"), line
            url = line.split()[-1]
            with openai.OpenAI(
                base_url=url + "/v1", api_key="k", max_retries=0, _strict_response_validation=True
            ) as client:
                resp = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
            assert resp.choices[0].message.content == "proc"
            assert httpx.get(url + "/_fake/requests").json()[0]["path"] == "/v1/chat/completions"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    assert proc.returncode == 0  # SIGTERM is handled as a clean shutdown
