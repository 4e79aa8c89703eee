"""Image generation through the pipeline, judged by the official openai SDK: both answer formats,
n=2, the charge equal to the price table in the ledger, fewer images charged less, failover, the
seed's path, Imagen through `:predict`, and bad input refused naming the param."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from tests.fakeprovider import FakeProvider
from tests.support.clients import openai_client
from tests.support.databases import run_sql
from tests.support.identity import GwUser
from tests.support.images import PRIMARY_FIRST, images_fixture, png_size
from tests.support.money import nanos
from tests.support.servers import ThreadedGateway

images = images_fixture()


@pytest.fixture
def sdk(images: ThreadedGateway, funded: GwUser) -> Iterator[openai.OpenAI]:
    with openai_client(images.url, funded.key) as client:
        yield client


def charges(database_url: str, user_id: int) -> list[int]:
    rows = run_sql(database_url, "SELECT amount FROM credit_transactions WHERE user_id = :p0 AND type = 'usage' "
                   "ORDER BY id", user_id)
    return [int(r[0]) for r in rows]


def usage_rows(database_url: str, user_id: int) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in run_sql(
        database_url, "SELECT endpoint, provider, model, images, cost, status FROM usage_records "
        "WHERE user_id = :p0 ORDER BY id", user_id)]


def test_generate_b64_json_two_images_charged_exactly_by_the_table(
    sdk: openai.OpenAI, funded: GwUser, database_url: str, fake_a: FakeProvider
) -> None:
    raw = sdk.images.with_raw_response.generate(model="fake-image", prompt="a red fox", n=2, size="1024x1024",
                                               quality="hd", response_format="b64_json", extra_body=PRIMARY_FIRST)
    answer = raw.parse()
    assert raw.headers["x-gatewayz-provider"] == "imgprimary"
    assert answer.data is not None and len(answer.data) == 2
    for image in answer.data:
        assert image.b64_json and png_size(base64.b64decode(image.b64_json)) == (8, 8)
    sent = fake_a.last_request.body
    assert (sent["model"], sent["n"], sent["size"], sent["quality"]) == ("fake-image", 2, "1024x1024", "hd")
    assert "provider" not in sent  # the gateway's own routing field is not forwarded
    assert answer.usage is not None and answer.usage.model_extra["images"] == 2
    assert Decimal(str(answer.usage.model_extra["cost"])) == Decimal("0.16")
    assert charges(database_url, funded.id) == [-160_000_000]  # 2 x $0.08, to the nano
    assert raw.headers["x-gatewayz-cost"] == "0.160000000"
    assert usage_rows(database_url, funded.id) == [("images", "imgprimary", "fake-image", 2, 160_000_000, 200)]


def test_generate_url_stores_base64_and_passes_provider_urls_through(
    sdk: openai.OpenAI, images: ThreadedGateway, fake_a: FakeProvider, funded: GwUser
) -> None:
    fake_a.set(image_answer="b64_json")  # the provider answers base64 although URLs were asked for
    stored = sdk.images.generate(model="fake-image", prompt="a blue heron", n=2, response_format="url",
                                 extra_body=PRIMARY_FIRST)
    assert stored.data is not None and len(stored.data) == 2
    for image in stored.data:
        assert image.url and image.url.startswith(images.url + "/v1/images/files/img_")
        got = httpx.get(image.url)  # no key needed: the id is the capability
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
        assert png_size(got.content) == (8, 8)
    assert stored.data[0].url != stored.data[1].url
    fake_a.set(image_answer="url")
    passed = sdk.images.generate(model="fake-image", prompt="a heron", n=2, response_format="url",
                                 extra_body=PRIMARY_FIRST)
    assert passed.data is not None
    assert [i.url for i in passed.data] == [f"https://images.example.com/fake/{n}.png" for n in range(2)]


def test_fewer_images_returned_are_charged_less(
    sdk: openai.OpenAI, funded: GwUser, database_url: str, fake_a: FakeProvider
) -> None:
    fake_a.set(images_returned=1)
    answer = sdk.images.generate(model="fake-image", prompt="two owls", n=2, response_format="b64_json",
                                 extra_body=PRIMARY_FIRST)
    assert answer.data is not None and len(answer.data) == 1
    assert charges(database_url, funded.id) == [-40_000_000]  # one standard 1024x1024 image, not two
    fake_a.set(images_returned=5)  # more than asked: only n are answered and charged
    answer = sdk.images.generate(model="fake-image", prompt="owls", n=2, size="512x512", response_format="b64_json",
                                 extra_body=PRIMARY_FIRST)
    assert answer.data is not None and len(answer.data) == 2
    assert charges(database_url, funded.id) == [-40_000_000, -40_000_000]  # 2 x $0.02
    assert [r[3] for r in usage_rows(database_url, funded.id)] == [1, 2]
    usage = httpx.get(f"{sdk.base_url}".removesuffix("/v1/") + "/user/usage",
                      headers={"Authorization": f"Bearer {funded.key}"}, params={"group_by": "model"}).json()
    assert usage["total"]["images"] == 3 and nanos(usage["total"]["cost"]) == 80_000_000


def test_failover_to_the_other_provider_of_the_model(
    sdk: openai.OpenAI, funded: GwUser, database_url: str, fake_a: FakeProvider, fake_b: FakeProvider
) -> None:
    fake_a.set(status=503)
    raw = sdk.images.with_raw_response.generate(model="fake-image", prompt="a lighthouse", n=2,
                                               response_format="b64_json", extra_body=PRIMARY_FIRST)
    assert raw.headers["x-gatewayz-provider"] == "imgbackup"
    assert len(raw.parse().data or []) == 2
    assert any(r.path == "/v1/images/generations" for r in fake_a.requests)
    assert fake_b.last_request.path == "/v1/images/generations"
    assert charges(database_url, funded.id) == [-80_000_000]  # charged once, by the one that answered


def test_token_priced_model_charges_the_reported_tokens(
    sdk: openai.OpenAI, funded: GwUser, database_url: str, fake_a: FakeProvider
) -> None:
    fake_a.set(image_usage={"input_tokens": 50, "output_tokens": 4160, "total_tokens": 4210,
                            "input_tokens_details": {"text_tokens": 50, "image_tokens": 0}})
    answer = sdk.images.generate(model="token-image", prompt="a glass city", n=1, quality="high",
                                 extra_body=PRIMARY_FIRST)
    assert answer.data and answer.data[0].b64_json  # a model that answers base64 by default
    assert answer.usage is not None and answer.usage.output_tokens == 4160 and answer.quality == "high"
    # 50 x $5/1M + 4160 x $40/1M
    assert charges(database_url, funded.id) == [-(50 * 5_000 + 4160 * 40_000)]


def test_the_seed_path_answers_the_same(images: ThreadedGateway, funded: GwUser, database_url: str) -> None:
    response = httpx.post(f"{images.url}/images/generate", headers={"Authorization": f"Bearer {funded.key}"},
                          json={"model": "fake-image", "prompt": "a kite", "response_format": "b64_json",
                                **PRIMARY_FIRST})
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == 1 and response.json()["usage"]["cost"] == 0.04
    assert charges(database_url, funded.id) == [-40_000_000]


def test_imagen_through_predict(sdk: openai.OpenAI, funded: GwUser, database_url: str, fake_a: FakeProvider) -> None:
    raw = sdk.images.with_raw_response.generate(model="imagen-3.0-generate-002", prompt="a mountain lake", n=3,
                                               size="1408x768", response_format="b64_json")
    answer = raw.parse()
    assert raw.headers["x-gatewayz-provider"] == "imgvertex" and len(answer.data or []) == 3
    sent = fake_a.last_request
    assert sent.path == "/v1beta/models/imagen-3.0-generate-002:predict"
    assert sent.body == {"instances": [{"prompt": "a mountain lake"}],
                         "parameters": {"sampleCount": 3, "aspectRatio": "16:9"}}
    assert charges(database_url, funded.id) == [-120_000_000]  # the default table: $0.04 an image


@pytest.mark.parametrize(("body", "param", "code"), [
    ({"prompt": ""}, "prompt", "invalid_value"),
    ({"prompt": "x", "n": 11}, "n", "invalid_value"),
    ({"prompt": "x", "n": 0}, "n", "invalid_value"),
    ({"prompt": "x", "n": "2"}, "n", "invalid_type"),
    ({"prompt": "x", "size": "999x999"}, "size", "invalid_value"),
    ({"prompt": "x", "size": "512x512", "quality": "hd"}, "quality", "invalid_value"),
    ({"prompt": "x", "background": "transparent"}, "background", "unsupported_parameter"),
    ({"prompt": "x", "response_format": "svg"}, "response_format", "invalid_value"),
    ({"model": "unpriced-image", "prompt": "x"}, "model", "model_not_priced"),
    ({"model": "imagen-3.0-generate-002", "prompt": "x", "n": 5}, "n", "invalid_value"),
])
def test_bad_input_is_a_400_naming_the_param(
    images: ThreadedGateway, funded: GwUser, database_url: str, body: dict[str, Any], param: str, code: str
) -> None:
    response = httpx.post(f"{images.url}/v1/images/generations", headers={"Authorization": f"Bearer {funded.key}"},
                          json={"model": "fake-image", **body})
    assert response.status_code == 400, response.text
    assert (response.json()["error"]["param"], response.json()["error"]["code"]) == (param, code)
    assert charges(database_url, funded.id) == []


def test_estimate_and_dry_run_price_without_running(
    images: ThreadedGateway, funded: GwUser, database_url: str, fake_a: FakeProvider, fake_b: FakeProvider
) -> None:
    headers = {"Authorization": f"Bearer {funded.key}"}
    body = {"model": "fake-image", "prompt": "a fern", "n": 3, "size": "1792x1024", "quality": "hd"}
    estimate = httpx.post(f"{images.url}/v1/images/estimate", headers=headers, json=body)
    assert estimate.status_code == 200, estimate.text
    assert estimate.json()["cost"] == "0.360000000" and estimate.json()["n"] == 3
    assert {r["provider"] for r in estimate.json()["routes"]} == {"imgprimary", "imgbackup"}
    dry = httpx.post(f"{images.url}/v1/images/generations", headers=headers, json={**body, "dry_run": True})
    assert dry.status_code == 200 and dry.json()["cost"] == "0.360000000"
    assert fake_a.requests == [] and fake_b.requests == [] and charges(database_url, funded.id) == []
