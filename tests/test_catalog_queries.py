"""Querying the catalog over real HTTP: filters, search ranking, sorts, paging, one model with all its
endpoints (canonical ids), the extended /v1/models through the openai SDK, and refusals of bad input."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from tests.catalog_fakes import ROUTER_MODELS, catalog_providers, down_fake, plain_fake, router_fake
from tests.conftest import settings_from_env
from tests.support.clients import inference_key, openai_client
from tests.support.servers import ThreadedGateway


@pytest.fixture(scope="module")
def server(base_env: dict[str, str], gateway: ThreadedGateway) -> Iterator[ThreadedGateway]:
    with router_fake() as router, plain_fake() as plain, down_fake() as down:
        settings = settings_from_env(base_env, providers=catalog_providers(router, plain, down))
        started = ThreadedGateway(settings).start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # first syncs done (the down provider's attempt included)
            rows = {r["name"]: r for r in httpx.get(f"{started.url}/models/providers").json()["data"]}
            if rows["catrouter"]["model_count"] and rows["catplain"]["model_count"] and rows["catdown"]["last_attempt"]:
                break
            time.sleep(0.05)
        yield started
        started.stop()


def _get(server: ThreadedGateway, path: str = "/models", **params: Any) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", params=params)


def _data(server: ThreadedGateway, **params: Any) -> list[dict[str, Any]]:
    response = _get(server, limit=500, **params)
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def _ids(server: ThreadedGateway, **params: Any) -> list[str]:
    return [entry["id"] for entry in _data(server, **params)]


def test_entries_carry_openrouter_fields(server: ThreadedGateway) -> None:
    entry = next(e for e in _data(server, provider="catrouter") if e["id"] == "catrouter/openai/gpt-4o")
    assert entry["context_length"] == 128000 and entry["top_provider"]["max_completion_tokens"] == 16384
    assert entry["pricing"] == {
        "prompt": "0.0000025",
        "completion": "0.00001",
        "request": "0",
        "image": "0",
        "input_cache_read": "0.00000125",
    }
    assert entry["pricing_per_million"]["prompt"] == "2.5" and entry["canonical_slug"] == "openai/gpt-4o"
    assert entry["architecture"]["input_modalities"] == ["image", "text"]
    assert set(entry["supports"]) == {"tools", "vision", "json_schema", "streaming"}
    assert entry["name"] == "OpenAI: GPT-4o" and entry["created"] == 1715367049


def test_filters(server: ThreadedGateway) -> None:
    assert sorted(_ids(server, provider="catrouter")) == sorted(f"catrouter/{m}" for m in ROUTER_MODELS)
    assert set(_ids(server, provider=["catrouter", "catplain"])) >= {"catplain/gpt-4o", "catrouter/openai/gpt-4o"}
    assert all(e["context_length"] >= 150000 for e in _data(server, min_context=150000))
    cheap = _data(server, max_prompt_price="0.5")
    assert cheap and all(Decimal(e["pricing_per_million"]["prompt"]) <= Decimal("0.5") for e in cheap)
    assert "catplain/gpt-4o" not in {e["id"] for e in cheap}  # no price is not "cheap"
    assert all(Decimal(e["pricing_per_million"]["completion"]) <= 1 for e in _data(server, max_completion_price="1"))
    assert _ids(server, free="true") == ["catrouter/meta-llama/llama-3.1-8b-instruct:free"]
    assert "catrouter/meta-llama/llama-3.1-8b-instruct:free" not in _ids(server, free="false")
    assert set(_ids(server, provider="catrouter", supports=["tools", "json_schema"])) == {
        "catrouter/openai/gpt-4o",
        "catrouter/openai/gpt-4o-mini",
    }
    assert _ids(server, provider="catrouter", modality="embeddings") == ["catrouter/openai/text-embedding-3-small"]
    assert all("image" in e["architecture"]["input_modalities"] for e in _data(server, modality="image"))


def test_search_is_ranked(server: ThreadedGateway) -> None:
    found = _ids(server, q="gpt-4o")
    assert set(found[:2]) == {"catrouter/openai/gpt-4o", "catplain/gpt-4o"}  # the exact model first
    assert "catrouter/openai/gpt-4o-mini" in found[2:]
    assert _ids(server, q="omni flagship") == ["catrouter/openai/gpt-4o"]  # the description counts, all words must
    haiku = _ids(server, q="haiku")
    assert haiku and all("haiku" in i for i in haiku)
    assert _ids(server, q="no-such-thing-anywhere") == []


def _pairs(server: ThreadedGateway, sort: str, field: str, order: str | None = None) -> list[Any]:
    params = {"provider": "catrouter", "sort": sort, **({"order": order} if order else {})}
    return [e[field] for e in _data(server, **params)]


def test_sorts(server: ThreadedGateway) -> None:
    prices = [
        Decimal(e["pricing_per_million"]["prompt"]) + Decimal(e["pricing_per_million"]["completion"])
        for e in _data(server, provider="catrouter", sort="price")
    ]
    assert prices == sorted(prices) and prices[0] == 0
    assert _pairs(server, "price", "id", "desc")[0] == "catrouter/openai/gpt-4o"
    contexts = _pairs(server, "context", "context_length")
    assert contexts == sorted(contexts, reverse=True) and contexts[0] == 200000
    names = _pairs(server, "name", "name")
    assert names == sorted(names, key=str.casefold)
    assert _pairs(server, "name", "name", "desc") == names[::-1]
    created = _pairs(server, "created", "created")
    assert created == sorted(created, reverse=True)
    unpriced_last = [e["id"] for e in _data(server, sort="price")]
    assert unpriced_last.index("catplain/gpt-4o") > unpriced_last.index("catrouter/openai/gpt-4o")


def test_paging(server: ThreadedGateway) -> None:
    everything = _ids(server, provider="catrouter", sort="name")
    page = _get(server, provider="catrouter", sort="name", limit=2, offset=1).json()
    assert [e["id"] for e in page["data"]] == everything[1:3]
    assert (page["total"], page["limit"], page["offset"], page["has_more"]) == (len(everything), 2, 1, True)
    last = _get(server, provider="catrouter", sort="name", limit=2, offset=len(everything) - 1).json()
    assert last["has_more"] is False and len(last["data"]) == 1
    alias = _get(server, "/v1/catalog/models", provider="catrouter", sort="name").json()
    assert alias["data"][0]["id"] == everything[0]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": "501"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"sort": "vibes"}, "sort"),
        ({"order": "sideways"}, "order"),
        ({"modality": "smell"}, "modality"),
        ({"supports": "teleport"}, "supports"),
        ({"max_prompt_price": "-1"}, "max_prompt_price"),
        ({"max_completion_price": "NaN"}, "max_completion_price"),
        ({"max_prompt_price": "1e9"}, "max_prompt_price"),
        ({"min_context": "-5"}, "min_context"),
        ({"free": "yes"}, "free"),
        ({"provider": "nope"}, "provider"),
        ({"colour": "red"}, "colour"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_bad_parameters_are_400_naming_the_param(server: ThreadedGateway, params: dict[str, str], param: str) -> None:
    response = _get(server, **params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] in (param, f"{param}[0]") and error["type"] == "invalid_request_error" and error["message"]


def test_one_model_with_all_its_endpoints(server: ThreadedGateway) -> None:
    by_canonical = _get(server, "/models/openai/gpt-4o").json()
    assert by_canonical["id"] == "openai/gpt-4o" and by_canonical["name"] == "OpenAI: GPT-4o"
    endpoints = [e["id"] for e in by_canonical["endpoints"]]
    assert endpoints == ["catrouter/openai/gpt-4o", "catplain/gpt-4o"]  # priced first
    by_endpoint = _get(server, "/models/catplain/gpt-4o").json()
    assert by_endpoint["requested"] == "catplain/gpt-4o"
    assert [e["id"] for e in by_endpoint["endpoints"]] == [e["id"] for e in by_canonical["endpoints"]]
    assert _get(server, "/v1/catalog/models/openai/gpt-4o").json()["id"] == "openai/gpt-4o"
    # Anthropic's own hyphenated id and OpenRouter's dotted one are one model
    haiku = _get(server, "/models/anthropic/claude-haiku-4-5").json()
    assert haiku["id"] == "anthropic/claude-haiku-4.5"
    endpoints = {e["id"] for e in haiku["endpoints"]}
    assert endpoints == {"anthropic/claude-haiku-4-5", "catrouter/anthropic/claude-haiku-4.5"}


def test_an_unknown_model_is_404_with_the_closest_ids(server: ThreadedGateway) -> None:
    response = _get(server, "/models/openai/gpt-4p")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert "Did you mean" in error["message"] and "openai/gpt-4o" in error["message"]


def test_v1_models_through_the_sdk_is_extended_and_respects_allowed_models(
    server: ThreadedGateway, admin: httpx.Client
) -> None:
    with openai_client(server.url, inference_key(admin)) as sdk:
        models = {m.id: m.to_dict() for m in sdk.models.list()}
    gpt = models["catrouter/openai/gpt-4o"]
    assert gpt["object"] == "model" and gpt["owned_by"] == "catrouter" and gpt["context_length"] == 128000
    assert gpt["pricing"]["prompt"] == "0.0000025" and "tools" in gpt["supported_parameters"]
    assert "catplain/gpt-4o" in models
    with openai_client(server.url, inference_key(admin)) as sdk:
        one = sdk.models.retrieve("catrouter/openai/gpt-4o").to_dict()
        assert one["id"] == "catrouter/openai/gpt-4o" and one["context_length"] == 128000
        with pytest.raises(openai.NotFoundError):
            sdk.models.retrieve("catrouter/openai/never-heard-of-it")
    with openai_client(server.url, inference_key(admin, allowed_models=["catrouter/*"])) as limited:
        ids = {m.id for m in limited.models.list()}
        assert ids == {f"catrouter/{m}" for m in ROUTER_MODELS}
    restricted = inference_key(admin, allowed_models=["catplain/gpt-4o"])
    seen = httpx.get(f"{server.url}/models", headers={"Authorization": f"Bearer {restricted}"}).json()
    assert [e["id"] for e in seen["data"]] == ["catplain/gpt-4o"]
    hidden = httpx.get(
        f"{server.url}/models/catrouter/openai/gpt-4o-mini", headers={"Authorization": f"Bearer {restricted}"}
    )
    assert hidden.status_code == 404


def test_providers_show_errors_to_admins_only(server: ThreadedGateway, admin: httpx.Client) -> None:
    rows = {
        r["name"]: r
        for r in httpx.get(
            f"{server.url}/models/providers", headers={"Authorization": admin.headers["Authorization"]}
        ).json()["data"]
    }
    assert "503" in rows["catdown"]["last_error"] and rows["catrouter"]["last_error"] is None
    assert rows["catrouter"]["refresh_seconds"] == 3600
