"""The sandbox end to end through the official ``openai`` SDK over an in-process transport (no network)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from gatewayz.providers.sandbox import SandboxError, simulate_chat, simulate_chat_stream, simulate_embeddings


def _sandbox_transport() -> httpx.MockTransport:
    """A minimal HTTP front for the simulator, so the real ``openai`` client parses its output."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        try:
            if request.url.path.endswith("/embeddings"):
                return httpx.Response(200, json=simulate_embeddings(body))
            if body.get("stream"):
                chunks = simulate_chat_stream(body, response_id="chatcmpl-e2e", created=1)
                sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
                return httpx.Response(200, content=sse.encode(), headers={"content-type": "text/event-stream"})
            return httpx.Response(200, json=simulate_chat(body, response_id="chatcmpl-e2e", created=1))
        except SandboxError as exc:
            return httpx.Response(exc.status, json=exc.to_dict())

    return httpx.MockTransport(handler)


@pytest.fixture
def client() -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        api_key="gw_test_example",
        base_url="http://sandbox.invalid/v1",
        max_retries=0,
        http_client=httpx.Client(transport=_sandbox_transport()),
    ) as sdk:
        yield sdk


def test_sdk_round_trip_chat_stream_and_embeddings(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="sandbox/chat", messages=[{"role": "user", "content": "Hello sandbox"}]
    )
    assert completion.model == "sandbox/chat" and "Hello sandbox" in (completion.choices[0].message.content or "")
    streamed = client.chat.completions.create(
        model="sandbox/chat",
        messages=[{"role": "user", "content": "Hello sandbox"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(streamed)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == completion.choices[0].message.content
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == completion.usage.total_tokens
    vectors = client.embeddings.create(model="sandbox/embed", input=["a", "b"])
    assert len(vectors.data) == 2 and len(vectors.data[0].embedding) == 8


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_sdk_maps_simulated_errors(client: openai.OpenAI, status: int, exc: type[openai.APIStatusError]) -> None:
    with pytest.raises(exc) as err:
        client.chat.completions.create(
            model="sandbox/chat", messages=[{"role": "user", "content": f"[[sandbox:error={status}]]"}]
        )
    assert err.value.status_code == status
    assert isinstance(err.value.body, dict) and err.value.body["type"]
