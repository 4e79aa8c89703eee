"""The one prompt estimate (billing holds and token limits both use it)."""

from __future__ import annotations

import base64
import struct
import zlib

from gatewayz.inference.estimate import (
    IMAGE_TOKENS_LOW_DETAIL,
    IMAGE_TOKENS_UNKNOWN_SIZE,
    estimate_prompt,
    image_size,
    prompt_tokens,
    tokens_for_size,
)


def png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def data_url(raw: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(raw + b"\x00" * 3000).decode()


def image_message(url: str, detail: str | None = None) -> dict[str, object]:
    image: dict[str, object] = {"url": url}
    if detail:
        image["detail"] = detail
    return {"role": "user", "content": [{"type": "text", "text": "what is this"},
                                        {"type": "image_url", "image_url": image}]}


def test_image_headers_are_read() -> None:
    assert image_size(png(1024, 768)) == (1024, 768)
    assert image_size(jpeg(4000, 3000)) == (4000, 3000)
    assert image_size(b"GIF89a" + struct.pack("<HH", 320, 200)) == (320, 200)
    assert image_size(b"not an image") is None


def test_an_image_counts_as_providers_bill_it_not_as_its_url() -> None:
    text_only = prompt_tokens("chat", {"messages": [{"role": "user", "content": "what is this"}]})
    remote = estimate_prompt("chat", {"messages": [image_message("https://example.com/cat.png")]})
    assert remote.images == 1
    assert remote.tokens - text_only >= IMAGE_TOKENS_UNKNOWN_SIZE
    low = prompt_tokens("chat", {"messages": [image_message("https://example.com/cat.png", "low")]})
    assert low - text_only >= IMAGE_TOKENS_LOW_DETAIL
    big = prompt_tokens("chat", {"messages": [image_message(data_url(jpeg(4000, 3000), "image/jpeg"))]})
    assert big - text_only >= tokens_for_size(4000, 3000) >= 1600  # Claude bills ~1,600 for 1.15 MP
    # a 2 MB base64 image is not 700k tokens of text either
    huge = {"messages": [image_message("data:image/png;base64," + base64.b64encode(png(512, 512)
                                       + b"\x00" * 2_000_000).decode())]}
    assert prompt_tokens("chat", huge) < 10_000


def test_every_prompt_bearing_field_counts() -> None:
    base = {"messages": [{"role": "user", "content": "hi"}]}
    schema = {"type": "object", "properties": {f"field_{i}": {"type": "string", "description": "x" * 50}
                                               for i in range(50)}}
    plain = prompt_tokens("chat", base)
    tools = prompt_tokens("chat", {**base, "tools": [{"type": "function", "function": {"name": "f",
                                                                                        "parameters": schema}}]})
    formatted = prompt_tokens("chat", {**base, "response_format": {"type": "json_schema",
                                                                  "json_schema": {"name": "s", "schema": schema}}})
    tool_turns = prompt_tokens("chat", {"messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "y" * 3000}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "z" * 3000},
    ]})
    for estimate in (tools, formatted):
        assert estimate - plain >= 3000 // 3
    assert tool_turns - plain >= 6000 // 3


def test_embeddings_inputs() -> None:
    assert prompt_tokens("embeddings", {"input": "x" * 300}) == 100
    assert prompt_tokens("embeddings", {"input": [1, 2, 3, 4]}) == 4
    assert prompt_tokens("embeddings", {"input": [[1, 2], [3, 4, 5]]}) == 5
