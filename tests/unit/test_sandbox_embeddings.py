"""Sandbox embeddings: shapes, determinism, similarity, base64 encoding and validation."""

from __future__ import annotations

import base64
import json
import math
import struct
from typing import Any

import pytest
from openai.types import CreateEmbeddingResponse

from gatewayz.providers.sandbox import DEFAULT_DIMENSIONS, SandboxError, simulate_embeddings


def embed(body: dict[str, Any]) -> dict[str, Any]:
    """Run ``simulate_embeddings`` and check it against the SDK's ``CreateEmbeddingResponse``."""
    result = simulate_embeddings(body)
    if body.get("encoding_format") != "base64":
        CreateEmbeddingResponse.model_validate(result)
    json.dumps(result)
    return result


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(v * v for v in vector))


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (norm(a) * norm(b))


@pytest.mark.parametrize(
    ("inputs", "count"),
    [("hello world", 1), (["hello", "world", "hello"], 3), ([[1, 2, 3], [4, 5]], 2), ([101, 102, 103], 1)],
)
def test_embeddings_shapes(inputs: Any, count: int) -> None:
    result = embed({"model": "sandbox/embed", "input": inputs})
    assert result["object"] == "list"
    assert result["model"] == "sandbox/embed"
    assert [d["index"] for d in result["data"]] == list(range(count))
    for item in result["data"]:
        assert item["object"] == "embedding"
        assert len(item["embedding"]) == DEFAULT_DIMENSIONS == 8
        assert abs(norm(item["embedding"]) - 1.0) < 1e-6
    assert result["usage"]["prompt_tokens"] == result["usage"]["total_tokens"] > 0


def test_embeddings_are_deterministic_per_input() -> None:
    batch = embed({"model": "sandbox/embed", "input": ["alpha", "beta", "alpha"]})["data"]
    alone = embed({"model": "sandbox/embed", "input": "alpha"})["data"][0]["embedding"]
    assert batch[0]["embedding"] == batch[2]["embedding"] == alone
    assert batch[0]["embedding"] != batch[1]["embedding"]


def test_embeddings_similar_texts_are_closer() -> None:
    data = embed(
        {"model": "sandbox/embed", "dimensions": 64, "input": [
            "the cat sat on the mat", "the cat sat on a mat", "quarterly revenue forecast spreadsheet"]}
    )["data"]  # fmt: skip
    a, b, c = (d["embedding"] for d in data)
    assert cosine(a, b) > cosine(a, c) + 0.3


def test_embeddings_dimensions_and_token_usage() -> None:
    result = embed({"model": "sandbox/embed", "input": [[5, 6, 7, 8]], "dimensions": 5})
    vector = result["data"][0]["embedding"]
    assert len(vector) == 5 and abs(norm(vector) - 1.0) < 1e-6
    assert result["usage"]["prompt_tokens"] == 4


def test_embeddings_base64_is_little_endian_float32_of_the_float_vector() -> None:
    body = {"model": "sandbox/embed", "input": ["pack me", "and me"], "dimensions": 12}
    floats = embed(body)["data"]
    encoded = embed({**body, "encoding_format": "base64"})["data"]
    for f, e in zip(floats, encoded, strict=True):
        raw = base64.b64decode(e["embedding"])
        assert len(raw) == 4 * 12
        assert list(struct.unpack("<12f", raw)) == f["embedding"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "sandbox/embed"}, "input"),
        ({"model": "sandbox/embed", "input": ""}, "input"),
        ({"model": "sandbox/embed", "input": []}, "input"),
        ({"model": "sandbox/embed", "input": ["ok", ""]}, "input"),
        ({"model": "sandbox/embed", "input": [[1, -2]]}, "input"),
        ({"model": "sandbox/embed", "input": "x", "dimensions": 0}, "dimensions"),
        ({"model": "sandbox/embed", "input": "x", "encoding_format": "hex"}, "encoding_format"),
        ({"input": "x"}, "model"),
    ],
)
def test_invalid_embedding_requests_are_400(body: dict[str, Any], param: str) -> None:
    with pytest.raises(SandboxError) as err:
        simulate_embeddings(body)
    assert (err.value.status, err.value.param) == (400, param)


def test_embeddings_error_marker() -> None:
    with pytest.raises(SandboxError) as err:
        simulate_embeddings({"model": "sandbox/embed", "input": ["fine", "boom [[sandbox:error=429]]"]})
    assert (err.value.status, err.value.code) == (429, "rate_limit_exceeded")
