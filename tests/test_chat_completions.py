"""/v1/chat/completions through the official openai SDK, against fake providers on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.fakeprovider import FakeProvider
from tests.support.clients import inference_key, openai_client
from tests.support.identity import UPSTREAM_KEY_A

HELLO = [{"role": "user", "content": "hello there"}]
WEATHER_TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Time in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    },
]
TWO_CALLS = [
    {"name": "get_weather", "arguments": {"city": "Paris"}},
    {"name": "get_time", "arguments": {"city": "Oslo"}},
]
ROUTED_MODELS = ["fakeopenai/gpt-4o-mini", "fakeanthropic/claude-haiku-4-5", "fakegemini/gemini-2.0-flash"]


@pytest.fixture(scope="module")
def key(admin: httpx.Client) -> str:
    return inference_key(admin)


@pytest.fixture
def client(gateway: Any, key: str, fake_a: FakeProvider, fake_b: FakeProvider) -> Iterator[openai.OpenAI]:
    with openai_client(gateway.url, key) as sdk:
        yield sdk


@pytest.mark.parametrize("model", ROUTED_MODELS)
def test_non_streaming_through_each_protocol(client: openai.OpenAI, fake_a: FakeProvider, model: str) -> None:
    raw = client.chat.completions.with_raw_response.create(model=model, messages=HELLO)
    completion = raw.parse()
    assert completion.choices[0].message.content == "Echo: hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens == 3
    provider, upstream_model = model.split("/", 1)
    assert raw.headers["x-gatewayz-provider"] == provider
    assert raw.headers["x-gatewayz-model"] == upstream_model
    assert raw.headers["x-request-id"]
    sent = fake_a.last_request
    assert sent.protocol == {"fakeopenai": "openai", "fakeanthropic": "anthropic", "fakegemini": "gemini"}[provider]
    credential = (
        sent.headers.get("authorization") or sent.headers.get("x-api-key") or sent.headers.get("x-goog-api-key")
    )
    assert credential is not None and UPSTREAM_KEY_A in credential


@pytest.mark.parametrize("model", ROUTED_MODELS)
def test_streaming_with_usage_through_each_protocol(client: openai.OpenAI, model: str) -> None:
    chunks = list(
        client.chat.completions.create(model=model, messages=HELLO, stream=True, stream_options={"include_usage": True})
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: hello there"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 2  # really streamed
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)


def test_streaming_without_usage_still_asks_upstream_for_it(client: openai.OpenAI, fake_a: FakeProvider) -> None:
    chunks = list(client.chat.completions.create(model="fakeopenai/gpt-4o-mini", messages=HELLO, stream=True))
    assert all(c.choices for c in chunks)  # no usage-only chunk for a client that did not ask
    assert fake_a.last_request.body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("model", ROUTED_MODELS)
def test_stream_helper_assembles_parallel_tool_calls(client: openai.OpenAI, fake_a: FakeProvider, model: str) -> None:
    fake_a.set(tool_calls=TWO_CALLS)
    with client.chat.completions.stream(model=model, messages=HELLO, tools=WEATHER_TOOLS) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"city": "Oslo"}),
    ]
    assert final.choices[0].finish_reason == "tool_calls"
    assert all(c.id for c in calls)


def test_tool_results_and_parameters_pass_through(client: openai.OpenAI, fake_a: FakeProvider) -> None:
    messages: list[Any] = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    client.chat.completions.create(
        model="fakeopenai/gpt-4o-mini",
        messages=messages,
        tools=WEATHER_TOOLS,
        tool_choice="auto",
        seed=7,
        n=1,
        stop=["END"],
        temperature=0.2,
        logprobs=True,
        top_logprobs=2,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        extra_body={"top_k": 5, "provider": {"order": ["fakeopenai"]}},
    )
    sent = fake_a.last_request.body
    assert sent["model"] == "gpt-4o-mini"
    assert sent["messages"] == messages
    for name, value in (
        ("seed", 7),
        ("stop", ["END"]),
        ("temperature", 0.2),
        ("top_k", 5),
        ("logprobs", True),
        ("top_logprobs", 2),
        ("tool_choice", "auto"),
    ):
        assert sent[name] == value, name
    assert sent["response_format"]["type"] == "json_schema"
    assert "provider" not in sent  # the gateway's own routing field is not forwarded


def test_multimodal_content_parts_reach_anthropic_as_images(client: openai.OpenAI, fake_a: FakeProvider) -> None:
    pixel = (
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5E"
        "rkJggg=="
    )
    client.chat.completions.create(
        model="fakeanthropic/claude-haiku-4-5",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": pixel}},
                ],
            }
        ],
    )
    blocks = fake_a.last_request.body["messages"][0]["content"]
    assert blocks[0] == {"type": "text", "text": "what is this"}
    assert blocks[1]["type"] == "image" and blocks[1]["source"]["media_type"] == "image/png"


def test_bare_model_id_is_resolved_to_the_providers_serving_it(client: openai.OpenAI) -> None:
    # Each provider serving the bare id answers it. (How equivalent routes are spread is
    # tests/unit/test_router.py's: here earlier tests' failures of one provider make it "unhealthy"
    # for a few minutes, and an unhealthy endpoint rightly goes last.)
    for name in ("fakeopenai", "fakebackup"):
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=HELLO, extra_body={"provider": {"only": [name]}}
        )
        assert raw.headers["x-gatewayz-provider"] == name


def test_config_can_override_a_builtin_provider(client: openai.OpenAI, fake_b: FakeProvider) -> None:
    raw = client.chat.completions.with_raw_response.create(model="groq/llama-3.1-8b", messages=HELLO)
    assert raw.headers["x-gatewayz-provider"] == "groq"
    assert fake_b.last_request.body["model"] == "llama-3.1-8b"
