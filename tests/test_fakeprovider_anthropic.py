"""The fake provider's Anthropic Messages surface, refereed by the official SDK and its stream accumulator."""

from __future__ import annotations

import json

import anthropic
import httpx
import pytest

from tests.fakeprovider import FakeProvider
from tests.fakeprovider.fixtures import fake, fake_provider
from tests.fakeprovider_helpers import ANT_HEADERS, TWO_CALLS, ant, http, sse_events

__all__ = ["ant", "fake", "fake_provider", "http"]  # re-exported so pytest sees the fixtures in this module


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


def test_malformed_body_is_recorded_and_rejected(fake: FakeProvider, http: httpx.Client) -> None:
    r = http.post("/v1/messages", headers={**ANT_HEADERS, "content-type": "application/json"}, content=b"{oops")
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    rec = fake.wait_idle()[-1]
    assert rec.body == "{oops" and rec.status == 400 and not rec.completed
