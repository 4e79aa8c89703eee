"""Shared by the image tests: a gateway whose image providers are the loopback fakes, and a PNG
reader (stdlib only) that checks what it reads."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.fakeprovider import FakeProvider
from tests.support.identity import UPSTREAM_KEY_A, UPSTREAM_KEY_B
from tests.support.servers import ThreadedGateway

PRIMARY_FIRST = {"provider": {"order": ["imgprimary", "imgbackup"]}}
# USD per image: the table the tests check charges against.
FAKE_IMAGE_PRICES = {"1024x1024/standard": 0.04, "1024x1024/hd": 0.08, "512x512/standard": 0.02,
                     "1792x1024/hd": 0.12}
FAKE_IMAGE_PRICING = {"per_image": FAKE_IMAGE_PRICES, "parameters": ["response_format", "user", "style"]}
TOKEN_IMAGE_PRICING = {"input": 5.0, "input_image": 10.0, "output": 40.0,
                       "output_tokens": {"1024x1024/low": 272, "1024x1024/high": 4160},
                       "default_quality": "high", "parameters": ["background", "output_format", "user"]}


def image_providers(a: FakeProvider, b: FakeProvider) -> dict[str, dict[str, Any]]:
    """`imgprimary` (fake A) and `imgbackup` (fake B) serve `fake-image` and `token-image` at the
    same prices (failover between them); `imgvertex` serves Imagen through `:predict` on fake A;
    `imgnoprice` serves `unpriced-image`, which has no image price."""
    openai_row = {"protocol": "openai", "models": ["fake-image", "token-image"],
                  "images_path": "/images/generations", "image_edits_path": "/images/edits",
                  "image_pricing": {"fake-image": FAKE_IMAGE_PRICING, "token-image": TOKEN_IMAGE_PRICING}}
    return {
        "imgprimary": {**openai_row, "base_url": a.openai_base_url, "api_key": UPSTREAM_KEY_A},
        "imgbackup": {**openai_row, "base_url": b.openai_base_url, "api_key": UPSTREAM_KEY_B},
        "imgvertex": {"protocol": "gemini", "base_url": a.gemini_base_url, "api_key": UPSTREAM_KEY_A,
                      "auth": "header:x-goog-api-key", "models": ["imagen-3.0-generate-002"],
                      "images_path": "/models/{model}:predict"},
        "imgnoprice": {"protocol": "openai", "base_url": a.openai_base_url, "api_key": UPSTREAM_KEY_A,
                       "models": ["unpriced-image"], "images_path": "/images/generations"},
    }


@contextmanager
def images_gateway(base_env: dict[str, str], a: FakeProvider, b: FakeProvider, **overrides: Any
                   ) -> Iterator[ThreadedGateway]:
    from tests.conftest import settings_from_env

    settings = settings_from_env(base_env, providers=image_providers(a, b), retry_base_delay_seconds=0.01,
                                 retry_max_delay_seconds=0.02, breaker_threshold=10_000,
                                 billing_job_interval_seconds=0.3, **overrides)
    server = ThreadedGateway(settings).start()
    try:
        yield server
    finally:
        server.stop()


def images_fixture() -> Any:
    """A module's `images` fixture: its own gateway (same database) over the session's fakes."""

    @pytest.fixture(scope="module")
    def images(base_env: dict[str, str], gateway: ThreadedGateway, upstream_a: FakeProvider,
               upstream_b: FakeProvider) -> Iterator[ThreadedGateway]:
        with images_gateway(base_env, upstream_a, upstream_b) as server:
            yield server

    return images


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of an 8-bit RGB PNG, after checking its signature, every chunk's CRC and
    that the pixel data inflates to exactly height rows of 1 + 3 x width bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, width, height, pixels = 8, 0, 0, b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind = data[position + 4:position + 8]
        body = data[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length:position + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert (depth, colour) == (8, 2)
        elif kind == b"IDAT":
            pixels += body
        position += 12 + length
        if kind == b"IEND":
            break
    assert len(zlib.decompress(pixels)) == height * (1 + 3 * width)
    return width, height
