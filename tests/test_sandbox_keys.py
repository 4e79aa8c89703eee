"""`gw_test_` keys are served by the built-in simulator: the quick start with no provider keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.fakeprovider import FakeProvider
from tests.support.clients import inference_key, openai_client

TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        },
    }
]


@pytest.fixture
def sandbox(gateway: Any, admin: httpx.Client) -> Iterator[openai.OpenAI]:
    with openai_client(gateway.url, inference_key(admin, environment="test")) as sdk:
        yield sdk


def test_chat_is_simulated_without_any_upstream(
    sandbox: openai.OpenAI, fake_a: FakeProvider, fake_b: FakeProvider
) -> None:
    raw = sandbox.chat.completions.with_raw_response.create(
        model="sandbox/chat-large", messages=[{"role": "user", "content": "Say hi"}]
    )
    completion = raw.parse()
    assert raw.headers["x-gatewayz-provider"] == "sandbox"
    assert completion.model == "sandbox/chat-large"
    assert completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.total_tokens > 0
    again = sandbox.chat.completions.create(
        model="sandbox/chat-large", messages=[{"role": "user", "content": "Say hi"}]
    )
    assert again.choices[0].message.content == completion.choices[0].message.content  # deterministic
    assert fake_a.requests == [] and fake_b.requests == []


def test_streaming_and_tool_calls(sandbox: openai.OpenAI) -> None:
    chunks = list(
        sandbox.chat.completions.create(
            model="sandbox/chat",
            messages=[{"role": "user", "content": "Stream please"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    with sandbox.chat.completions.stream(
        model="sandbox/chat", messages=[{"role": "user", "content": "find cats"}], tools=TOOLS
    ) as stream:
        final = stream.get_final_completion()
    call = (final.choices[0].message.tool_calls or [])[0]
    assert call.function.name == "lookup"
    assert isinstance(json.loads(call.function.arguments)["q"], str)


def test_errors_on_request_raise_typed_sdk_errors(sandbox: openai.OpenAI) -> None:
    for marker, error in (
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (400, openai.BadRequestError),
    ):
        with pytest.raises(error):
            sandbox.chat.completions.create(
                model="sandbox/chat", messages=[{"role": "user", "content": f"[[sandbox:error={marker}]]"}]
            )


def test_embeddings_and_models(sandbox: openai.OpenAI) -> None:
    result = sandbox.embeddings.create(model="sandbox/embed", input=["a", "b"], encoding_format="float")
    assert len(result.data) == 2 and len(result.data[0].embedding) == 8
    assert "sandbox/chat" in [m.id for m in sandbox.models.list()]
