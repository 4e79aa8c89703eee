"""Sandbox images (real PNGs, made locally, at the requested size, deterministic), the gateway's
image URLs (content type, expiry, unguessable ids), and edits (the SDK's images.edit, multipart
relayed to the provider, 413 for an oversized upload)."""

from __future__ import annotations

import base64
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.fakeprovider import FakeProvider
from tests.fakeprovider.images_routes import tiny_png
from tests.support.clients import inference_key, openai_client
from tests.support.databases import run_sql
from tests.support.identity import GwUser
from tests.support.images import PRIMARY_FIRST, images_fixture, images_gateway, png_size
from tests.support.servers import ThreadedGateway

images = images_fixture()


@pytest.fixture
def sandbox(images: ThreadedGateway, admin: httpx.Client) -> Iterator[openai.OpenAI]:
    with openai_client(images.url, inference_key(admin, environment="test")) as client:
        yield client


def test_sandbox_pngs_decode_to_the_requested_size_in_both_formats(
    sandbox: openai.OpenAI, fake_a: FakeProvider, fake_b: FakeProvider
) -> None:
    raw = sandbox.images.with_raw_response.generate(model="sandbox/image", prompt="a green field", n=2,
                                                   size="1792x1024", response_format="b64_json")
    answer = raw.parse()
    assert raw.headers["x-gatewayz-provider"] == "sandbox"
    pictures = [base64.b64decode(image.b64_json or "") for image in answer.data or []]
    assert len(pictures) == 2 and all(png_size(p) == (1792, 1024) for p in pictures)
    assert pictures[0] != pictures[1]  # one image per index
    again = sandbox.images.generate(model="sandbox/image", prompt="a green field", n=2, size="1792x1024",
                                    response_format="b64_json")
    assert [base64.b64decode(i.b64_json or "") for i in again.data or []] == pictures  # deterministic
    other = sandbox.images.generate(model="sandbox/image", prompt="a red field", size="1792x1024",
                                    response_format="b64_json")
    assert base64.b64decode((other.data or [])[0].b64_json or "") != pictures[0]
    linked = sandbox.images.generate(model="sandbox/image", prompt="a green field", n=2, size="256x256",
                                     response_format="url")
    for image in linked.data or []:
        got = httpx.get(image.url or "")
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
        assert png_size(got.content) == (256, 256)
    assert fake_a.requests == [] and fake_b.requests == []  # no upstream, no charge
    assert answer.usage is not None and answer.usage.model_extra["cost"] == 0


def test_sandbox_refuses_what_a_live_model_would(sandbox: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sandbox.images.generate(model="sandbox/image", prompt="x", size="333x333")
    assert caught.value.body["param"] == "size"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        sandbox.images.generate(model="dall-e-3", prompt="x")
    with pytest.raises(openai.BadRequestError) as caught:
        sandbox.images.generate(model="sandbox/chat", prompt="x")
    assert caught.value.body["param"] == "model"  # type: ignore[index]


def _file_of(images: ThreadedGateway, url: str) -> Path:
    image_id = url.rsplit("/", 1)[1]
    return next((images.settings.data_dir / "images").glob(image_id + ".*"))


def test_image_urls_expire_and_ids_cannot_be_guessed(sandbox: openai.OpenAI, images: ThreadedGateway) -> None:
    answer = sandbox.images.generate(model="sandbox/image", prompt="an hourglass", response_format="url")
    url = (answer.data or [])[0].url or ""
    assert httpx.get(url).status_code == 200
    path = _file_of(images, url)
    ttl = images.settings.image_url_ttl_hours * 3600
    written = time.time() - ttl - 5  # as if it had been written longer ago than the TTL
    os.utime(path, (written, written))
    expired = httpx.get(url)
    assert expired.status_code == 404 and expired.json()["error"]["code"] == "image_not_found"
    assert not path.exists()  # removed at the read
    image_id = url.rsplit("/", 1)[1]
    for guess in (image_id[:-1] + ("A" if image_id[-1] != "A" else "B"), "img_x", "../secrets.json", "img_" + "a" * 32):
        assert httpx.get(f"{images.url}/v1/images/files/{guess}").status_code == 404


def test_edit_with_the_sdk_is_relayed_as_multipart_and_charged(
    images: ThreadedGateway, funded: GwUser, database_url: str, fake_a: FakeProvider
) -> None:
    with openai_client(images.url, funded.key) as sdk:
        raw = sdk.images.with_raw_response.edit(
            model="fake-image", image=("photo.png", io.BytesIO(tiny_png(1)), "image/png"),
            mask=("mask.png", io.BytesIO(tiny_png(2)), "image/png"), prompt="add a hat", n=2,
            response_format="b64_json", extra_body=PRIMARY_FIRST,
        )
    answer = raw.parse()
    assert raw.headers["x-gatewayz-provider"] == "imgprimary" and len(answer.data or []) == 2
    sent = fake_a.last_request
    assert sent.path == "/v1/images/edits"
    assert sent.body["prompt"] == "add a hat" and sent.body["n"] == 2 and sent.body["model"] == "fake-image"
    assert sent.body["image"]["content_type"] == "image/png" and sent.body["image"]["size"] == len(tiny_png(1))
    assert sent.body["mask"]["filename"] == "mask.png"
    assert "provider" not in sent.body
    rows = run_sql(database_url, "SELECT amount FROM credit_transactions WHERE user_id = :p0 AND type = 'usage'",
                   funded.id)
    assert [int(r[0]) for r in rows] == [-80_000_000]  # 2 x $0.04


def test_an_edit_retried_with_its_idempotency_key_replays_but_other_images_are_refused(
    images: ThreadedGateway, funded: GwUser, database_url: str, fake_a: FakeProvider, fake_b: FakeProvider
) -> None:
    def upstream_calls() -> int:
        return len(fake_a.requests) + len(fake_b.requests)

    def edit(picture: bytes) -> httpx.Response:
        return httpx.post(f"{images.url}/v1/images/edits", data={"model": "fake-image", "prompt": "add a hat",
                                                                 "response_format": "b64_json"},
                          files={"image": ("photo.png", picture, "image/png")},
                          headers={"Authorization": f"Bearer {funded.key}", "Idempotency-Key": "edit-1"})

    first, again = edit(tiny_png(1)), edit(tiny_png(1))
    assert first.status_code == again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() and upstream_calls() == 1
    other = edit(tiny_png(2))  # same fields, same key, another image: not the same request
    assert other.status_code == 400 and other.json()["error"]["code"] == "idempotency_key_reused"
    charges = run_sql(database_url, "SELECT COUNT(*) FROM credit_transactions WHERE user_id = :p0 AND type = 'usage'",
                      funded.id)
    assert charges[0][0] == 1 and upstream_calls() == 1


def test_edit_refusals(images: ThreadedGateway, funded: GwUser, fake_a: FakeProvider) -> None:
    headers = {"Authorization": f"Bearer {funded.key}"}
    url = f"{images.url}/v1/images/edits"
    too_big = httpx.post(url, headers=headers, data={"model": "fake-image", "prompt": "x"},
                         files={"image": ("big.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (33 * 1024 * 1024), "image/png")})
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "request_too_large"
    not_image = httpx.post(url, headers=headers, data={"model": "fake-image", "prompt": "x"},
                           files={"image": ("a.txt", b"hello", "text/plain")})
    assert not_image.status_code == 400 and not_image.json()["error"]["param"] == "image"
    no_image = httpx.post(url, headers=headers, data={"model": "fake-image", "prompt": "x"},
                          files={"mask": ("m.png", tiny_png(0), "image/png")})
    assert no_image.status_code == 400 and no_image.json()["error"]["param"] == "image"
    as_json = httpx.post(url, headers=headers, json={"model": "fake-image", "prompt": "x"})
    assert as_json.status_code == 415
    no_edits = httpx.post(url, headers=headers, data={"model": "imagen-3.0-generate-002", "prompt": "x"},
                          files={"image": ("a.png", tiny_png(0), "image/png")})
    assert no_edits.status_code == 400 and no_edits.json()["error"]["code"] == "model_not_supported"
    anonymous = httpx.post(url, data={"model": "fake-image", "prompt": "x"},
                           files={"image": ("a.png", tiny_png(0), "image/png")})
    assert anonymous.status_code == 401
    assert fake_a.requests == []


def test_image_requests_have_an_endpoint_rate_limit(
    base_env: dict[str, str], gateway: ThreadedGateway, upstream_a: FakeProvider, upstream_b: FakeProvider,
    funded: GwUser,
) -> None:
    limits = {"endpoints": {"images": {"requests_per_minute": 1}}}
    with images_gateway(base_env, upstream_a, upstream_b, rate_limit_key=limits) as limited:
        headers = {"Authorization": f"Bearer {funded.key}"}
        body = {"model": "fake-image", "prompt": "a bee", "response_format": "b64_json", **PRIMARY_FIRST}
        first = httpx.post(f"{limited.url}/v1/images/generations", headers=headers, json=body)
        assert first.status_code == 200, first.text
        second = httpx.post(f"{limited.url}/v1/images/generations", headers=headers, json=body)
        assert second.status_code == 429 and "endpoint images" in second.json()["error"]["message"]
