"""Fake providers and gateways for the catalog tests: an OpenRouter-like list with facts and prices,
a plain OpenAI-like list (bare ids, nothing else), and a provider that is down."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.fakeprovider import FakeProvider
from tests.support.servers import ThreadedGateway

CATALOG_KEY = "sk-fake-catalog"

ROUTER_MODELS = [
    "openai/gpt-4o",
    "openai/gpt-4o-mini",
    "anthropic/claude-haiku-4.5",
    "meta-llama/llama-3.1-8b-instruct:free",
    "openai/text-embedding-3-small",
]
ROUTER_PRICING = {  # USD per token, as OpenRouter publishes them
    "openai/gpt-4o": {"prompt": "0.0000025", "completion": "0.00001", "input_cache_read": "0.00000125"},
    "openai/gpt-4o-mini": {"prompt": "0.00000015", "completion": "0.0000006"},
    "anthropic/claude-haiku-4.5": {"prompt": "0.000001", "completion": "0.000005"},
    "meta-llama/llama-3.1-8b-instruct:free": {"prompt": "0", "completion": "0"},
    "openai/text-embedding-3-small": {"prompt": "0.00000002", "completion": "0"},
}
_TEXT_IMAGE = {"input_modalities": ["text", "image"], "output_modalities": ["text"]}
ROUTER_FACTS: dict[str, dict[str, Any]] = {
    "openai/gpt-4o": {
        "name": "OpenAI: GPT-4o",
        "description": "The omni flagship: text and image input.",
        "context_length": 128000,
        "architecture": _TEXT_IMAGE,
        "created": 1715367049,
        "top_provider": {"context_length": 128000, "max_completion_tokens": 16384},
        "supported_parameters": ["tools", "tool_choice", "response_format", "structured_outputs", "max_tokens"],
    },
    "openai/gpt-4o-mini": {
        "name": "OpenAI: GPT-4o-mini",
        "description": "Small, cheap, fast; a good default.",
        "context_length": 128000,
        "architecture": _TEXT_IMAGE,
        "created": 1721260800,
        "top_provider": {"context_length": 128000, "max_completion_tokens": 16384},
        "supported_parameters": ["tools", "response_format", "structured_outputs", "max_tokens"],
    },
    "anthropic/claude-haiku-4.5": {
        "name": "Anthropic: Claude Haiku 4.5",
        "description": "Fast model with extended thinking.",
        "context_length": 200000,
        "architecture": _TEXT_IMAGE,
        "created": 1760486400,
        "top_provider": {"context_length": 200000, "max_completion_tokens": 64000},
        "supported_parameters": ["tools", "reasoning", "max_tokens"],
    },
    "meta-llama/llama-3.1-8b-instruct:free": {
        "name": "Meta: Llama 3.1 8B Instruct (free)",
        "description": "Open weights, free variant.",
        "context_length": 131072,
        "created": 1721692800,
        "supported_parameters": ["max_tokens"],
    },
    "openai/text-embedding-3-small": {
        "name": "OpenAI: Text Embedding 3 Small",
        "context_length": 8191,
        "created": 1705953180,
        "architecture": {"input_modalities": ["text"], "output_modalities": ["embeddings"]},
    },
}
PLAIN_MODELS = ["gpt-4o", "gpt-4o-mini"]


def router_fake() -> FakeProvider:
    return FakeProvider(
        api_key=CATALOG_KEY, models=list(ROUTER_MODELS), pricing=ROUTER_PRICING, model_facts=ROUTER_FACTS
    )


def plain_fake() -> FakeProvider:
    return FakeProvider(api_key=CATALOG_KEY, models=list(PLAIN_MODELS))


def down_fake() -> FakeProvider:
    return FakeProvider(api_key=CATALOG_KEY, status=503)


def catalog_providers(
    router: FakeProvider, plain: FakeProvider, down: FakeProvider, prefix: str = "cat"
) -> dict[str, dict[str, Any]]:
    """`<prefix>router`, `<prefix>plain`, `<prefix>down` (test modules that change what is stored use
    their own prefix: the session database, and so the stored catalog, is shared) and `anthropic`."""
    def row(fake: FakeProvider, **extra: Any) -> dict[str, Any]:
        return {
            "protocol": "openai",
            "base_url": fake.openai_base_url,
            "api_key": CATALOG_KEY,
            "models_path": "/models",
            **extra,
        }

    return {
        f"{prefix}router": row(router, pricing={"openai/gpt-4o-mini": {"prompt": 1.0, "completion": 2.0}}),
        f"{prefix}plain": row(plain),
        f"{prefix}down": row(down),
        # The vendor's own row, unreachable and never synced: a fresh install gets the snapshot's list.
        "anthropic": {"base_url": down.url + "/v1", "api_key": CATALOG_KEY},
    }


@contextmanager
def started(settings: Any) -> Iterator[ThreadedGateway]:
    server = ThreadedGateway(settings).start()
    try:
        yield server
    finally:
        server.stop()


def model_list_reads(fake: FakeProvider) -> int:
    return sum(1 for r in fake.requests if r.method == "GET" and r.path.endswith("/models"))
