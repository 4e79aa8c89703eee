"""Shared building blocks of the sandbox simulator: errors, seeded PRNG, pseudo-tokenizer, markers.

The sandbox must be reproducible byte-for-byte, so nothing here touches the clock, the OS or
Python's ``random`` module (whose algorithms may change between versions): randomness comes from a
tiny SplitMix64 generator seeded from a hash of the request.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from typing import Any, TypeVar

_T = TypeVar("_T")

# Upper bound on ``[[sandbox:delay_ms=N]]`` so a typo cannot park a worker for hours.
MAX_DELAY_MS = 30_000

_ERROR_MARKER = re.compile(r"\[\[sandbox:error=(\d+)\]\]")
_DELAY_MARKER = re.compile(r"\[\[sandbox:delay_ms=(\d+)\]\]")
_ANY_MARKER = re.compile(r"\[\[sandbox:[a-z_]+=[^\]]*\]\]")

# (type, code, message) per status; mirrors the conventions of OpenAI's error bodies so client
# error handling (e.g. the SDK's RateLimitError mapping) can be exercised without a provider.
_ERROR_TABLE: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Simulated bad request."),
    401: ("authentication_error", "invalid_api_key", "Simulated authentication failure: invalid API key."),
    403: ("permission_error", "permission_denied", "Simulated permission error: access denied."),
    404: ("invalid_request_error", "model_not_found", "Simulated not found: the model does not exist."),
    408: ("timeout_error", "request_timeout", "Simulated request timeout."),
    409: ("invalid_request_error", "conflict", "Simulated conflict."),
    413: ("invalid_request_error", "request_too_large", "Simulated error: request too large."),
    422: ("invalid_request_error", "unprocessable_entity", "Simulated unprocessable request."),
    429: ("rate_limit_error", "rate_limit_exceeded", "Simulated rate limit: too many requests."),
    500: ("server_error", None, "Simulated internal server error."),
    502: ("server_error", "bad_gateway", "Simulated upstream failure: bad gateway."),
    503: ("server_error", "service_unavailable", "Simulated outage: the service is unavailable."),
    504: ("server_error", "gateway_timeout", "Simulated upstream timeout."),
}


class SandboxError(Exception):
    """An OpenAI-style API error raised by the simulator, either on request or for bad input.

    It carries everything the HTTP layer needs to render the standard ``{"error": {...}}`` body,
    so the sandbox stays free of any web framework dependency.
    """

    def __init__(
        self,
        status: int,
        message: str,
        type: str,
        code: str | None = None,
        *,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param

    def to_dict(self) -> dict[str, Any]:
        """Return the OpenAI wire error body so callers need not know its layout."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def __repr__(self) -> str:
        fields = f"status={self.status}, type={self.type!r}, code={self.code!r}, param={self.param!r}"
        return f"SandboxError({fields})"


def invalid(message: str, param: str | None) -> SandboxError:
    """Build a 400 ``invalid_request_error``; a helper because every validator needs one."""
    return SandboxError(400, message, "invalid_request_error", None, param=param)


def error_for_status(status: int) -> SandboxError:
    """Map a requested status code to a conventional OpenAI error, so every 4xx/5xx is testable."""
    if not 400 <= status <= 599:
        return invalid(
            f"[[sandbox:error={status}]] is not a valid error marker: use a status between 400 and 599.",
            "messages",
        )
    default = ("invalid_request_error", None, "Simulated client error.")
    if status >= 500:
        default = ("server_error", None, "Simulated server error.")
    type_, code, text = _ERROR_TABLE.get(status, default)
    return SandboxError(status, f"{text} (sandbox, status {status})", type_, code)


def find_error_marker(text: str) -> int | None:
    """Return the status requested by an ``[[sandbox:error=NNN]]`` marker, if any."""
    match = _ERROR_MARKER.search(text)
    return int(match.group(1)) if match else None


def find_delay_marker(text: str) -> int:
    """Return the delay asked for by ``[[sandbox:delay_ms=N]]`` (clamped), or 0."""
    match = _DELAY_MARKER.search(text)
    return min(int(match.group(1)), MAX_DELAY_MS) if match else 0


def strip_markers(text: str) -> str:
    """Remove control markers so they are not echoed back as if they were conversation."""
    return _ANY_MARKER.sub("", text)


class Rng:
    """SplitMix64: a tiny, fully specified PRNG, so output never depends on the Python version."""

    _MASK = (1 << 64) - 1

    def __init__(self, seed: int) -> None:
        self._state = seed & self._MASK

    def next_u64(self) -> int:
        """Advance and return 64 pseudo-random bits."""
        self._state = (self._state + 0x9E3779B97F4A7C15) & self._MASK
        z = self._state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self._MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self._MASK
        return z ^ (z >> 31)

    def random(self) -> float:
        """Uniform float in [0, 1) built from 53 bits, exactly reproducible."""
        return (self.next_u64() >> 11) / float(1 << 53)

    def randint(self, low: int, high: int) -> int:
        """Uniform-ish integer in [low, high]; modulo bias is irrelevant for a simulator."""
        if high <= low:
            return low
        return low + self.next_u64() % (high - low + 1)

    def choice(self, items: Sequence[_T]) -> _T:
        """Pick one element; sequences are never empty at the call sites."""
        return items[self.next_u64() % len(items)]

    def token(
        self, length: int, alphabet: str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    ) -> str:
        """Random identifier text, e.g. for tool call ids."""
        return "".join(alphabet[self.next_u64() % len(alphabet)] for _ in range(length))


def canonical_json(value: Any) -> str:
    """Serialise with sorted keys so logically equal requests hash identically."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def seed_from(*parts: Any) -> int:
    """Derive a 64-bit seed from arbitrary JSON-able parts (the request is the only entropy)."""
    digest = hashlib.sha256(canonical_json(list(parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


# Pseudo-tokenizer: GPT-like pieces (a word with its leading space, up to 3 digits, punctuation runs,
# whitespace), long pieces split further. The pieces always concatenate back to the input.
_TOKEN_RE = re.compile(r" ?[^\W\d_]+| ?\d{1,3}| ?[^\s\w]+| ?_+|\s+")
_MAX_PIECE = 7


def tokenize(text: str) -> list[str]:
    """Split text into pseudo-tokens; used for completion counts, logprobs and stream chunks."""
    tokens: list[str] = []
    for piece in _TOKEN_RE.findall(text):
        while len(piece) > _MAX_PIECE:
            tokens.append(piece[:5])
            piece = piece[5:]
        if piece:
            tokens.append(piece)
    return tokens


def approx_tokens(text: str) -> int:
    """Prompt-side estimate (~4 characters per token), the rule of thumb OpenAI documents."""
    return math.ceil(len(text) / 4)


def content_text(content: Any) -> str:
    """Flatten a message ``content`` (string, parts list or null) to its text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part.get("text", "") for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        return "\n".join(texts)
    return ""


def short_quote(text: str, limit: int = 80) -> str:
    """Normalise whitespace and shorten text so echoes stay one readable sentence."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 3].rstrip() + "..."
    return flat
