"""/v1/models lists only what the gateway can route to; /v1/embeddings is routed like chat."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.fakeprovider import FakeProvider
from tests.support.clients import inference_key, openai_client


@pytest.fixture
def client(gateway: Any, admin: httpx.Client, fake_a: FakeProvider) -> Iterator[openai.OpenAI]:
    with openai_client(gateway.url, inference_key(admin)) as sdk:
        yield sdk


def test_models_list_holds_only_routable_models(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {
        "fakeopenai/gpt-4o-mini",
        "fakebackup/gpt-4o",
        "fakeanthropic/claude-haiku-4-5",
        "fakegemini/gemini-2.0-flash",
        "groq/llama-3.1-8b",
    } <= ids
    assert not any(i.startswith(("openrouter/", "together/", "cerebras/")) for i in ids)  # no keys: not offered
    model = client.models.retrieve("fakeanthropic/claude-haiku-4-5")
    assert model.owned_by == "fakeanthropic" and model.object == "model"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("fakeopenai/never-heard-of-it")


def test_embeddings(client: openai.OpenAI, fake_a: FakeProvider) -> None:
    result = client.embeddings.create(
        model="fakeopenai/text-embedding-3-small", input=["one", "two"], encoding_format="float"
    )
    assert [d.index for d in result.data] == [0, 1]
    assert len(result.data[0].embedding) == 16
    assert fake_a.last_request.body["model"] == "text-embedding-3-small"
    with pytest.raises(openai.BadRequestError) as raised:  # a protocol without embeddings
        client.embeddings.create(model="fakeanthropic/claude-haiku-4-5", input="x")
    assert "embeddings" in raised.value.message
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="fakeopenai/text-embedding-3-small", input=[])
