"""Deterministic sandbox embeddings.

Vectors are a hashed bag of words (plus a small whole-input component), so identical inputs always
map to identical vectors and inputs sharing words are measurably similar: enough for a retrieval
demo to behave sensibly without any model. Each word's vector is a prefix of one PRNG stream, so a
smaller ``dimensions`` is the renormalised prefix of a larger one, like OpenAI's shortened embeddings.
"""

from __future__ import annotations

import base64
import math
import re
import struct
from typing import Any

from gatewayz.providers.sandbox_common import (
    Rng,
    approx_tokens,
    error_for_status,
    find_delay_marker,
    find_error_marker,
    seed_from,
)
from gatewayz.providers.sandbox_validate import validate_embeddings

DEFAULT_DIMENSIONS = 8
_WORD = re.compile(r"\w+")
_WHOLE_INPUT_WEIGHT = 0.25


def _stream(label: str, dims: int) -> list[float]:
    """Uniform values in [-1, 1) from a PRNG seeded by ``label``; pure arithmetic, no libm."""
    rng = Rng(seed_from("sandbox-embedding", label))
    return [rng.random() * 2.0 - 1.0 for _ in range(dims)]


def _features(item: str | list[int]) -> tuple[list[str], str]:
    """Return (word features, whole-input feature) for a text or a token array."""
    if isinstance(item, str):
        return [f"w:{w}" for w in _WORD.findall(item.lower())], f"t:{item}"
    return [f"k:{t}" for t in item], "k:" + ",".join(str(t) for t in item)


def embed_vector(item: str | list[int], dims: int) -> list[float]:
    """Unit-norm vector for one input, already rounded to float32 as OpenAI serves them."""
    words, whole = _features(item)
    vector = _stream(whole, dims)
    vector = [v * _WHOLE_INPUT_WEIGHT for v in vector]
    for word in words:
        for i, v in enumerate(_stream(word, dims)):
            vector[i] += v
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [struct.unpack("<f", struct.pack("<f", v / norm))[0] for v in vector]


def encode_base64(vector: list[float]) -> str:
    """Little-endian float32 bytes, base64-encoded: OpenAI's ``encoding_format=base64`` layout."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def embeddings_delay_ms(body: Any) -> int:
    """Delay requested by a ``[[sandbox:delay_ms=N]]`` marker in any text input."""
    inputs = body.get("input") if isinstance(body, dict) else None
    texts = [inputs] if isinstance(inputs, str) else inputs if isinstance(inputs, list) else []
    return max((find_delay_marker(t) for t in texts if isinstance(t, str)), default=0)


def simulate_embeddings_impl(body: Any) -> dict[str, Any]:
    """Build an OpenAI ``list`` of ``embedding`` objects; errors are requested via input markers."""
    inputs = validate_embeddings(body)
    for item in inputs:
        status = find_error_marker(item) if isinstance(item, str) else None
        if status is not None:
            raise error_for_status(status)
    dims = body.get("dimensions") or DEFAULT_DIMENSIONS
    as_base64 = body.get("encoding_format") == "base64"
    data: list[dict[str, Any]] = []
    prompt_tokens = 0
    for index, item in enumerate(inputs):
        vector = embed_vector(item, dims)
        prompt_tokens += max(1, approx_tokens(item)) if isinstance(item, str) else len(item)
        data.append(
            {
                "object": "embedding",
                "index": index,
                "embedding": encode_base64(vector) if as_base64 else vector,
            }
        )
    return {
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
