"""Normalising providers' model-list entries: ids, canonical ids, facts, exact prices, and the views."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gatewayz.billing.pricing import Price
from gatewayz.catalog.canonical import canonical_id
from gatewayz.catalog.queries import CatalogQuery, build_index, run_query
from gatewayz.catalog.records import INVALID, KNOWN, NONE, normalise, pricing_from_published
from gatewayz.catalog.snapshot import enrich, snapshot
from gatewayz.catalog.views import provider_entry, public_entry


@pytest.mark.parametrize(
    ("provider", "model", "canonical"),
    [
        ("openrouter", "openai/gpt-4o", "openai/gpt-4o"),
        ("openai", "gpt-4o", "openai/gpt-4o"),
        ("together", "gpt-4o", "openai/gpt-4o"),
        ("openrouter", "meta-llama/llama-3.1-8b-instruct:free", "meta-llama/llama-3.1-8b-instruct"),
        ("google", "models/gemini-2.0-flash", "google/gemini-2.0-flash"),
        ("groq", "llama-3.1-8b-instant", "meta-llama/llama-3.1-8b-instant"),
        ("anthropic", "claude-haiku-4-5", "anthropic/claude-haiku-4.5"),
        ("anthropic", "claude-haiku-4-5-20251001", "anthropic/claude-haiku-4.5"),
        ("openrouter", "anthropic/claude-haiku-4.5", "anthropic/claude-haiku-4.5"),
        ("anthropic", "claude-3-5-sonnet-20241022", "anthropic/claude-3.5-sonnet"),
        ("anthropic", "claude-sonnet-4-20250514", "anthropic/claude-sonnet-4"),
        ("bedrock", "claude-opus-4-1-20250805", "anthropic/claude-opus-4.1"),
        ("anthropic", "claude-3-haiku-20240307", "anthropic/claude-3-haiku"),
        ("openai", "gpt-4o-2024-08-06", "openai/gpt-4o-2024-08-06"),
        ("local", "my-finetune", "my-finetune"),
        ("openrouter", "OpenAI/GPT-4o", "openai/gpt-4o"),
    ],
)
def test_canonical_ids(provider: str, model: str, canonical: str) -> None:
    assert canonical_id(provider, model) == canonical


def test_an_openrouter_entry_keeps_every_fact() -> None:
    record = normalise(
        "openrouter",
        {
            "id": "openai/gpt-4o",
            "name": "OpenAI: GPT-4o",
            "description": "d",
            "context_length": 128000,
            "created": 1715367049,
            "architecture": {"input_modalities": ["text", "image", "file"], "output_modalities": ["text"]},
            "top_provider": {"context_length": 128000, "max_completion_tokens": 16384},
            "supported_parameters": ["tools", "structured_outputs", "reasoning"],
            "pricing": {
                "prompt": "0.0000025",
                "completion": "0.00001",
                "input_cache_read": "0.00000125",
                "request": "0",
                "image": "0.003613",
            },
        },
    )
    assert record is not None
    assert (record.context_length, record.max_output_tokens, record.created) == (128000, 16384, 1715367049)
    assert record.input_modalities == ("file", "image", "text")
    assert record.supports == ("tools", "vision", "json_schema", "streaming", "reasoning")
    assert record.pricing.status == KNOWN
    assert (record.pricing.prompt, record.pricing.completion, record.pricing.cached_prompt) == (
        2_500_000_000,
        10_000_000_000,
        1_250_000_000,
    )
    assert record.pricing.image == 3_613_000  # nanos per image


def test_other_list_shapes() -> None:
    vllm = normalise("local", {"id": "qwen", "max_model_len": 32768})
    gemini = normalise(
        "google",
        {
            "id": "gemini-2.0-flash",
            "inputTokenLimit": 1048576,
            "outputTokenLimit": 8192,
            "displayName": "Gemini 2.0 Flash",
        },
    )
    anthropic = normalise(
        "anthropic", {"id": "claude-haiku-4-5", "display_name": "Claude Haiku 4.5", "max_input_tokens": 200000}
    )
    assert vllm is not None and vllm.context_length == 32768 and vllm.pricing.status == NONE
    assert gemini is not None and (gemini.context_length, gemini.max_output_tokens) == (1048576, 8192)
    assert gemini.name == "Gemini 2.0 Flash"
    assert anthropic is not None and anthropic.name == "Claude Haiku 4.5" and anthropic.context_length == 200000
    embedding = normalise("openai", {"id": "text-embedding-3-small"})
    assert embedding is not None and embedding.output_modalities == ("embeddings",) and embedding.supports == ()


@pytest.mark.parametrize("entry", [{}, {"id": ""}, {"id": 5}, {"id": "x" * 257}])
def test_entries_without_a_usable_id_are_skipped(entry: dict[str, object]) -> None:
    assert normalise("p", entry) is None


@pytest.mark.parametrize(
    "published",
    [
        {"prompt": "-1", "completion": "-1"},
        {"prompt": "NaN", "completion": "0"},
        {"prompt": "5", "completion": "5"},
        {"prompt": "abc", "completion": "0"},
        {"prompt": True, "completion": "0"},
    ],
)
def test_unusable_published_prices_are_invalid_and_billing_refuses_them(published: dict[str, object]) -> None:
    record = normalise("p", {"id": "m", "pricing": published})
    assert record is not None and record.pricing.status == INVALID and not record.pricing.is_free
    entry = provider_entry(record)
    with pytest.raises(ValueError):
        Price.per_token(entry["pricing"], source="provider")


def test_absurd_lengths_are_not_believed() -> None:
    record = normalise("p", {"id": "m", "context_length": 10**12, "top_provider": {"max_completion_tokens": -4}})
    assert record is not None and record.context_length is None and record.max_output_tokens is None


@pytest.mark.parametrize(
    "published",
    [
        {"prompt": "0.0000025", "completion": "0.00001", "input_cache_read": "0.00000125"},
        {"prompt": "0.00000015", "completion": "0.0000006"},
        {"prompt": "0.000000012345", "completion": "0", "request": "0.005", "image": "0.001"},
        {"prompt": "0", "completion": "0"},
    ],
)
def test_the_entry_billing_reads_gives_the_published_price_exactly(published: dict[str, str]) -> None:
    record = normalise("p", {"id": "m", "pricing": published})
    assert record is not None
    direct = Price.per_token(published, source="provider")
    through_catalog = Price.per_token(provider_entry(record)["pricing"], source="provider")
    assert through_catalog == direct


def test_public_entries_carry_the_gateway_id_and_prices_per_million() -> None:
    record = normalise(
        "openrouter", {"id": "openai/gpt-4o-mini", "pricing": {"prompt": "0.00000015", "completion": "0.0000006"}}
    )
    assert record is not None
    entry = public_entry(record)
    assert entry["id"] == "openrouter/openai/gpt-4o-mini" and entry["upstream_id"] == "openai/gpt-4o-mini"
    assert entry["pricing_per_million"] == {
        "prompt": "0.15",
        "completion": "0.6",
        "cached_prompt": "0.15",
        "request": "0",
        "image": "0",
    }
    bare = public_entry(normalise("local", {"id": "x"}))  # type: ignore[arg-type]
    assert bare["pricing"] is None and bare["context_length"] is None


def test_the_snapshot_is_dated_and_fills_in_what_a_live_list_leaves_out() -> None:
    shipped = snapshot()
    assert shipped.date == "2026-12-02"
    known = shipped.record("openai", "gpt-4o")
    assert known is not None and known.context_length == 128000 and known.pricing.prompt == 2_500_000_000
    live = normalise("openai", {"id": "gpt-4o", "created": 1715367049, "owned_by": "system"})
    assert live is not None
    filled = enrich(live, known)
    assert filled.context_length == 128000 and filled.pricing == known.pricing and filled.created == 1715367049
    assert "vision" in filled.supports and filled.name == "GPT-4o"
    priced = normalise("openai", {"id": "gpt-4o", "pricing": {"prompt": "0.000003", "completion": "0.00001"}})
    assert priced is not None and enrich(priced, known).pricing.prompt == 3_000_000_000  # live prices win


def test_price_pricing_from_published_rounds_to_the_nano_per_million() -> None:
    pricing = pricing_from_published({"prompt": "0.0000000000000004", "completion": "0"})
    assert pricing.status == KNOWN and pricing.prompt == 0  # 0.4 nano-dollars per 1M tokens


def test_queries_over_records() -> None:
    records = [
        normalise(
            "a",
            {
                "id": "m1",
                "name": "Alpha",
                "context_length": 1000,
                "pricing": {"prompt": "0.000001", "completion": "0.000002"},
            },
        ),
        normalise(
            "a", {"id": "m2", "name": "beta", "context_length": 9000, "pricing": {"prompt": "0", "completion": "0"}}
        ),
        normalise("b", {"id": "m3", "name": "Gamma", "description": "alpha particles"}),
    ]
    index = build_index(1, [r for r in records if r is not None])

    def ids(**fields: object) -> list[str]:
        return [m.record.id for m in run_query(index, CatalogQuery(**fields))[1]]  # type: ignore[arg-type]

    assert ids() == ["a/m1", "a/m2", "b/m3"]  # by name, case-insensitive
    assert ids(sort="price") == ["a/m2", "a/m1", "b/m3"]  # no price last
    assert ids(sort="price", order="desc") == ["a/m1", "a/m2", "b/m3"]  # no price last either way
    assert ids(sort="context") == ["a/m2", "a/m1", "b/m3"]
    assert ids(q="alpha") == ["a/m1", "b/m3"]  # the name before the description
    assert ids(free=True) == ["a/m2"]
    assert ids(max_prompt_price=Decimal("0.5")) == ["a/m2"]
    assert ids(providers=("b",)) == ["b/m3"]
    assert ids(limit=1, offset=1) == ["a/m2"]
    assert run_query(index, CatalogQuery(limit=1))[0] == 3
    assert ids(min_context=5000) == ["a/m2"]
