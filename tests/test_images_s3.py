"""Generated images in an S3-compatible bucket (a real S3 API server on loopback: moto's): every
replica serves every image, expiry at the read and by the sweep, and a failing bucket never loses
a paid-for image nor turns into a 500."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import openai
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from gatewayz.images.s3_store import S3ImageStore
from tests.fakeprovider import FakeProvider
from tests.support.clients import inference_key, openai_client
from tests.support.images import images_gateway, png_size
from tests.support.servers import ThreadedGateway

BUCKET = "gw-images"
PREFIX = "generated/"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    saved = {name: os.environ.get(name) for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")  # moto takes any
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    bucket_client(endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def bucket_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}))


def s3_settings(endpoint: str, bucket: str = BUCKET, **extra: Any) -> dict[str, Any]:
    return {"image_s3_bucket": bucket, "image_s3_endpoint_url": endpoint, "image_s3_region": "us-east-1",
            "image_s3_prefix": PREFIX, "image_s3_addressing_style": "path", **extra}


@pytest.fixture(scope="module")
def replicas(base_env: dict[str, str], gateway: ThreadedGateway, upstream_a: FakeProvider, upstream_b: FakeProvider,
             s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ThreadedGateway]]:
    """Two gateways sharing the database and the bucket, each with its own data directory."""
    dirs = [tmp_path_factory.mktemp("replica") for _ in range(2)]
    with images_gateway(base_env, upstream_a, upstream_b, data_dir=dirs[0], **s3_settings(s3_endpoint)) as one, \
            images_gateway(base_env, upstream_a, upstream_b, data_dir=dirs[1], **s3_settings(s3_endpoint)) as two:
        yield [one, two]


def _sandbox(url: str, admin: httpx.Client) -> openai.OpenAI:
    return openai_client(url, inference_key(admin, environment="test"))


def test_an_image_written_by_one_replica_is_served_by_the_other(
    replicas: list[ThreadedGateway], admin: httpx.Client, s3_endpoint: str
) -> None:
    one, two = replicas
    with _sandbox(one.url, admin) as sdk:
        answer = sdk.images.generate(model="sandbox/image", prompt="a lighthouse", n=2, size="256x256",
                                     response_format="url")
    urls = [image.url or "" for image in answer.data or []]
    assert len(urls) == 2 and all(u.startswith(one.url + "/v1/images/files/img_") for u in urls)
    for url in urls:
        served = httpx.get(url.replace(one.url, two.url))
        assert served.status_code == 200 and served.headers["content-type"] == "image/png"
        assert png_size(served.content) == (256, 256)
        kept = bucket_client(s3_endpoint).get_object(Bucket=BUCKET, Key=PREFIX + url.rsplit("/", 1)[1])
        assert kept["ContentType"] == "image/png" and kept["Body"].read() == served.content
    assert not any(Path(r.settings.data_dir, "images").exists() for r in replicas)  # nothing on local disk


def test_expired_images_are_a_404_and_are_deleted_at_the_read(
    base_env: dict[str, str], gateway: ThreadedGateway, upstream_a: FakeProvider, upstream_b: FakeProvider,
    s3_endpoint: str, admin: httpx.Client, tmp_path: Path
) -> None:
    settings = s3_settings(s3_endpoint, image_url_ttl_hours=1 / 3600)  # one second
    with images_gateway(base_env, upstream_a, upstream_b, data_dir=tmp_path, **settings) as short, \
            _sandbox(short.url, admin) as sdk:
        url = (sdk.images.generate(model="sandbox/image", prompt="a mayfly", response_format="url").data or [])[0].url
        assert url and httpx.get(url).status_code == 200
        time.sleep(2.2)  # LastModified has whole seconds: past the TTL by then
        gone = httpx.get(url)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "image_not_found"
    listed = bucket_client(s3_endpoint).list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + url.rsplit("/", 1)[1])
    assert listed.get("KeyCount", 0) == 0


def test_the_sweep_deletes_only_expired_images_under_the_prefix(s3_endpoint: str) -> None:
    client = bucket_client(s3_endpoint)
    client.put_object(Bucket=BUCKET, Key=PREFIX + "notes.txt", Body=b"not an image of ours")
    client.put_object(Bucket=BUCKET, Key="elsewhere/img_" + "a" * 32, Body=b"outside the prefix")
    store = S3ImageStore(client, BUCKET, PREFIX, ttl_hours=1 / 3600)

    async def scenario() -> tuple[str, str]:
        old = await store.put(b"old", "image/png")
        await asyncio.sleep(2.2)
        fresh = await store.put(b"fresh", "image/webp")
        await store.sweep()
        return old, fresh

    old, fresh = asyncio.run(scenario())
    keys = {item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    assert PREFIX + old not in keys and PREFIX + fresh in keys
    assert {PREFIX + "notes.txt", "elsewhere/img_" + "a" * 32} <= keys


def test_a_failing_bucket_still_delivers_the_image_and_reads_are_a_503(
    base_env: dict[str, str], gateway: ThreadedGateway, upstream_a: FakeProvider, upstream_b: FakeProvider,
    s3_endpoint: str, admin: httpx.Client, tmp_path: Path
) -> None:
    with images_gateway(base_env, upstream_a, upstream_b, data_dir=tmp_path,
                        **s3_settings(s3_endpoint, bucket="gw-no-such-bucket")) as broken, \
            _sandbox(broken.url, admin) as sdk:
        answer = sdk.images.generate(model="sandbox/image", prompt="a bridge", size="256x256", response_format="url")
        url = (answer.data or [])[0].url or ""
        assert url.startswith("data:image/png;base64,")  # the image is not lost with the store
        assert png_size(base64.b64decode(url.split(",", 1)[1])) == (256, 256)
        read = httpx.get(f"{broken.url}/v1/images/files/img_{'b' * 32}")
        assert read.status_code == 503 and read.json()["error"]["type"]
