"""Sandbox images: real PNGs made locally for `gw_test_` keys, no model needed.

Each image is a diagonal gradient between two colours taken from a hash of the prompt, the size
and the image's index: the same request always gives the same pixels, another prompt other
colours. Written with zlib and struct only (8-bit RGB, filter 0 on every row).
"""

from __future__ import annotations

import hashlib
import struct
import time
import zlib

from gatewayz.images.pricing import ImageSpec
from gatewayz.images.upstream import ImageItem, ImageResult

MAX_SIDE = 4096


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def gradient_png(width: int, height: int, seed: bytes) -> bytes:
    """A `width` x `height` RGB PNG: a gradient from one colour of `seed` to another, shifted a
    little on every row (diagonal bands)."""
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise ValueError("image side out of range")
    start, end = seed[0:3], seed[3:6]
    span = max(width - 1, 1)
    row = bytearray(width * 3)
    for x in range(width):
        for c in range(3):
            row[x * 3 + c] = (start[c] * (span - x) + end[c] * x) // span
    line = bytes(row) * 2
    step = (seed[6] % 5 + 1) * 3
    compressor = zlib.compressobj(6)
    parts: list[bytes] = []
    size = width * 3
    for y in range(height):
        offset = (y * step) % size
        parts.append(compressor.compress(b"\x00" + line[offset: offset + size]))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")


def pixel_size(size: str) -> tuple[int, int]:
    if size == "auto":
        return 1024, 1024
    width, _, height = size.partition("x")
    return int(width), int(height)


def sandbox_images(prompt: str, spec: ImageSpec) -> ImageResult:
    width, height = pixel_size(spec.size)
    items = []
    for index in range(spec.n):
        seed = hashlib.sha256(f"{spec.size}\x00{spec.quality}\x00{index}\x00{prompt}".encode()).digest()
        items.append(ImageItem(gradient_png(width, height, seed), None, "image/png", prompt))
    return ImageResult(items, None, int(time.time()))
