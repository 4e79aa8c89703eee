"""Every answer validates against OpenAI's own published schema, whatever the upstream left out.

The schemas come from tests/contract/openai_spec_subset.json (OpenAI's openapi.json, shipped so
no network is needed). The fake OpenAI-protocol provider is told to omit fields the schema
requires (as real OpenAI-compatible servers do); the Anthropic and Gemini providers go through
the gateway's translations; sandbox keys through its simulator. A strictly typed client decodes
each answer only if it validates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest

from tests.fakeprovider import FakeProvider
from tests.support.clients import inference_key

SPEC = json.loads((Path(__file__).parent / "contract" / "openai_spec_subset.json").read_text())
CHAT_MODELS = ["fakeopenai/gpt-4o-mini", "fakeanthropic/claude-haiku-4-5", "fakegemini/gemini-2.0-flash"]
# What some OpenAI-compatible servers leave out (the fake's OpenAI protocol obeys; the others ignore it).
STRIPPED_CHAT = [
    "id", "object", "created", "model", "system_fingerprint", "service_tier",
    "choices.index", "choices.logprobs", "choices.finish_reason",
    "choices.message.refusal", "choices.message.role", "choices.message.annotations",
    "choices.message.tool_calls.type", "choices.delta.role",
    "usage.total_tokens",
]
TOOL = {"name": "lookup", "arguments": {"q": "cats"}}


def validator(name: str) -> Any:
    schema = {"$ref": f"#/components/schemas/{name}", "components": SPEC["components"]}
    return jsonschema_rs.Draft202012Validator(schema)


COMPLETION = validator("CreateChatCompletionResponse")
CHUNK = validator("CreateChatCompletionStreamResponse")
EMBEDDINGS = validator("CreateEmbeddingResponse")
MODEL_LIST = validator("ListModelsResponse")
MODEL = validator("Model")


def conforms(check: Any, document: Any) -> None:
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in check.iter_errors(document)]
    assert not errors, f"not OpenAI's schema: {errors} in {json.dumps(document)[:600]}"


@pytest.fixture(scope="module")
def live_key(admin: httpx.Client) -> str:
    return inference_key(admin)  # the admin user holds the session's credit


@pytest.fixture(scope="module")
def sandbox_key(admin: httpx.Client) -> str:
    return inference_key(admin, environment="test")


@pytest.fixture
def client(gateway: Any, live_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url + "/v1", headers={"Authorization": f"Bearer {live_key}"}) as c:
        yield c


@pytest.fixture
def sandbox(gateway: Any, sandbox_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url + "/v1", headers={"Authorization": f"Bearer {sandbox_key}"}) as c:
        yield c


def stream_chunks(client: httpx.Client, body: dict[str, Any]) -> list[Any]:
    chunks: list[Any] = []
    with client.stream("POST", "/chat/completions", json={**body, "stream": True}) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line[6:]))
    assert chunks
    return chunks


def ask(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Say hi"}]}


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_chat_completion_conforms(client: httpx.Client, fake_a: FakeProvider, model: str) -> None:
    fake_a.set(strip_fields=STRIPPED_CHAT)
    response = client.post("/chat/completions", json=ask(model))
    assert response.status_code == 200, response.text
    body = response.json()
    conforms(COMPLETION, body)
    choice = body["choices"][0]
    assert choice["logprobs"] is None and choice["message"]["refusal"] is None
    assert choice["message"]["content"].startswith("Echo: ")
    if model.startswith("fakeopenai/"):  # the upstream sent no id: the gateway's request id makes one
        assert body["id"].startswith("chatcmpl-") and body["model"] == model
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert "cost" in usage  # the gateway's own extra stays


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_tool_call_completion_conforms(client: httpx.Client, fake_a: FakeProvider, model: str) -> None:
    fake_a.set(strip_fields=STRIPPED_CHAT, tool_calls=[TOOL])
    response = client.post("/chat/completions", json=ask(model))
    assert response.status_code == 200, response.text
    body = response.json()
    conforms(COMPLETION, body)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert [(c["type"], c["function"]["name"]) for c in choice["message"]["tool_calls"]] == [("function", "lookup")]


@pytest.mark.parametrize("model", CHAT_MODELS)
@pytest.mark.parametrize("tools", [False, True])
def test_stream_chunks_conform(client: httpx.Client, fake_a: FakeProvider, model: str, tools: bool) -> None:
    fake_a.set(strip_fields=STRIPPED_CHAT, tool_calls=[TOOL] if tools else None)
    chunks = stream_chunks(client, {**ask(model), "stream_options": {"include_usage": True}})
    for chunk in chunks:
        conforms(CHUNK, chunk)
    assert len({c["id"] for c in chunks}) == 1 and len({c["created"] for c in chunks}) == 1
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == []
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_stream_of_a_server_that_ignores_stream_conforms(client: httpx.Client, fake_a: FakeProvider) -> None:
    """A plain JSON answer to `stream: true`, replayed as a stream: it too gets an id per request."""
    fake_a.set(strip_fields=STRIPPED_CHAT, ignore_stream=True)
    chunks = stream_chunks(client, ask("fakeopenai/gpt-4o-mini"))
    for chunk in chunks:
        conforms(CHUNK, chunk)
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"] != "chatcmpl-gatewayz"


def test_embeddings_conform(client: httpx.Client, fake_a: FakeProvider) -> None:
    fake_a.set(strip_fields=["object", "model", "data.object", "data.index", "usage.total_tokens"])
    response = client.post("/embeddings", json={"model": "fakeopenai/text-embedding-3-small", "input": ["a b", "c"]})
    assert response.status_code == 200, response.text
    body = response.json()
    conforms(EMBEDDINGS, body)
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] == 3


def test_embeddings_without_usage_conform(client: httpx.Client, fake_a: FakeProvider) -> None:
    fake_a.set(omit_usage=True)
    response = client.post("/embeddings", json={"model": "fakeopenai/text-embedding-3-small", "input": "a b"})
    assert response.status_code == 200, response.text
    conforms(EMBEDDINGS, response.json())


def test_model_list_conforms(client: httpx.Client, fake_a: FakeProvider) -> None:
    """Built by the gateway from its catalog (no upstream field passes through): a regression guard."""
    listed = client.get("/models")
    assert listed.status_code == 200, listed.text
    conforms(MODEL_LIST, listed.json())
    one = client.get("/models/fakeopenai/gpt-4o-mini")
    assert one.status_code == 200, one.text
    conforms(MODEL, one.json())


def test_sandbox_answers_conform(sandbox: httpx.Client) -> None:
    body = {"model": "sandbox/chat", "messages": [{"role": "user", "content": "Say hi"}]}
    response = sandbox.post("/chat/completions", json=body)
    assert response.status_code == 200, response.text
    conforms(COMPLETION, response.json())
    for chunk in stream_chunks(sandbox, {**body, "stream_options": {"include_usage": True}}):
        conforms(CHUNK, chunk)
    embedded = sandbox.post("/embeddings", json={"model": "sandbox/embed", "input": ["a", "b"]})
    assert embedded.status_code == 200, embedded.text
    conforms(EMBEDDINGS, embedded.json())
    listed = sandbox.get("/models")
    assert listed.status_code == 200, listed.text
    conforms(MODEL_LIST, listed.json())


def test_inconsistent_total_is_corrected(client: httpx.Client, fake_a: FakeProvider) -> None:
    fake_a.set(usage_override={"total_tokens": 999})
    usage = client.post("/chat/completions", json=ask("fakeopenai/gpt-4o-mini")).json()["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] != 999


@pytest.mark.parametrize("stream", [False, True])
def test_completed_usage_is_never_what_is_billed(
    gateway: Any, funded: Any, fake_b: FakeProvider, stream: bool
) -> None:
    """Counts the upstream left out are filled in (zeros) only after billing estimated them."""
    fake_b.set(strip_fields=["usage.prompt_tokens", "usage.completion_tokens"], reply="one two three four")
    body = {**ask("fakepriced/priced-model"), "stream_options": {"include_usage": True}}
    with httpx.Client(base_url=gateway.url + "/v1", headers={"Authorization": f"Bearer {funded.key}"}) as client:
        if stream:
            chunks = stream_chunks(client, body)
            for chunk in chunks:
                conforms(CHUNK, chunk)
            cost = chunks[-1]["usage"]["cost"]
        else:
            response = client.post("/chat/completions", json=ask("fakepriced/priced-model"))
            assert response.status_code == 200, response.text
            conforms(COMPLETION, response.json())
            cost = response.json()["usage"]["cost"]
    assert cost > 0  # billed from the gateway's estimate, not from the zeros the client sees
