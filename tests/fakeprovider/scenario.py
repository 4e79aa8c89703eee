"""Behaviour knobs, request records and deterministic content helpers for the fake provider.

Everything the fake answers is a pure function of the request plus the active
:class:`Scenario`, so tests and benchmarks can assert exact bytes, token counts and
timings without any randomness.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

DEFAULT_MODELS: tuple[str, ...] = (
    "gpt-4o-mini",
    "gpt-4o",
    "text-embedding-3-small",
    "claude-haiku-4-5",
    "gemini-2.0-flash",
)

#: Inline per-request override: a last user message starting with ``[[fake:{...}]]``.
DIRECTIVE_PREFIX = "[[fake:"
DIRECTIVE_SUFFIX = "]]"
OVERRIDE_HEADER = "x-fake-scenario"


@dataclass(frozen=True)
class Scenario:
    """How the fake behaves; frozen so a handler's snapshot can never change under it.

    Update it with :meth:`FakeProvider.set`, ``POST /_fake/scenario`` or, for a single
    request, the ``x-fake-scenario`` header / ``[[fake:{...}]]`` message prefix.
    """

    latency_ms: float = 0.0
    """Delay before anything is sent (response headers included)."""
    first_byte_delay_ms: float = 0.0
    """Delay after the headers went out and before the first body byte / stream chunk."""
    chunk_delay_ms: float = 0.0
    """Delay between consecutive stream chunks."""
    status: int | None = None
    """Answer with this status and the protocol's error body instead of a result."""
    status_times: int | None = None
    """Apply ``status`` to the next N provider requests only; ``None`` means every request."""
    error_message: str | None = None
    """Message placed in injected error bodies (a generic one when unset)."""
    error_headers: dict[str, str] = field(default_factory=dict)
    """Extra headers on injected errors, e.g. ``{"retry-after": "1"}``."""
    error_http_status: int | None = None
    """HTTP status actually sent with an injected error body, e.g. 200 (an error in a success answer)."""
    cut_after_chunks: int | None = None
    """Close the socket after K stream events, without the terminating chunk / [DONE]."""
    error_after_chunks: int | None = None
    """Send the protocol's in-stream error event after K stream events, then end."""
    drop_connection: bool = False
    """Close the socket without sending any response at all."""
    omit_usage: bool = False
    """Leave token usage out of responses (tests the gateway's fallback accounting)."""
    usage_override: dict[str, Any] | None = None
    """OpenAI protocol: fields merged over the usage object, e.g. ``{"prompt_tokens": "abc"}``."""
    ignore_stream: bool = False
    """OpenAI protocol: answer ``stream: true`` with one plain JSON completion (as some local servers do)."""
    stream_prefix: str | None = None
    """Raw text written at the start of a stream body, before the first event (comments, huge lines)."""
    sse_line_ending: str = "\n"
    """Line ending of the SSE framing: LF, CRLF or CR (all three are valid SSE)."""
    redirect_to: str | None = None
    """Answer every provider request with a redirect to this URL instead of serving it."""
    redirect_status: int = 307
    """Status of the ``redirect_to`` answer (307/308 keep the method and body, 301/302/303 may not)."""
    tool_calls: list[dict[str, Any]] | None = None
    """Tool calls to return: ``[{"name": ..., "arguments": {...} or "json", "id"?: ...}]``."""
    reply: str | None = None
    """Fixed reply text; by default the reply is ``"Echo: " + last user text``."""
    api_key: str | None = None
    """When set, only this key is accepted (401 otherwise); when unset any non-empty key is."""
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    """Models listed by the models endpoints (and accepted when ``strict_models``)."""
    pricing: dict[str, dict[str, str]] | None = None
    """OpenRouter-style ``{model: {"prompt": "0.000001", "completion": "0.000002"}}``."""
    model_facts: dict[str, dict[str, Any]] | None = None
    """OpenRouter-style facts merged into a model's list entry, e.g. ``{"gpt-4o": {"name": "GPT-4o",
    "context_length": 128000, "architecture": {...}, "supported_parameters": [...]}}``."""
    strict_models: bool = False
    """Reject models that are not in ``models`` with the protocol's 404."""
    words_per_chunk: int = 1
    """How many reply words go into each streamed text delta."""
    embedding_dim: int = 16
    """Embedding length when the request does not ask for ``dimensions``."""
    images_returned: int | None = None
    """Image endpoints: answer with this many images, whatever ``n`` asked."""
    image_answer: str | None = None
    """Image endpoints: ``"url"`` or ``"b64_json"`` whatever the request said (default: as asked)."""
    image_usage: dict[str, Any] | None = None
    """Image endpoints: a gpt-image ``usage`` object to include in the answer."""
    strip_fields: list[str] = field(default_factory=list)
    """OpenAI protocol: dotted paths dropped from answers and stream chunks, through lists, e.g.
    ``["id", "choices.logprobs", "choices.message.refusal", "usage.total_tokens", "data.object"]``
    (some OpenAI-compatible servers omit fields OpenAI's schema requires)."""

    def __post_init__(self) -> None:
        """Normalise tool calls once so every protocol sees ids and JSON-string arguments."""
        if self.tool_calls is not None:
            object.__setattr__(self, "tool_calls", normalise_tool_calls(self.tool_calls))
        if self.words_per_chunk < 1:
            raise ValueError("words_per_chunk must be >= 1")
        if self.sse_line_ending not in ("\n", "\r\n", "\r"):
            raise ValueError("sse_line_ending must be LF, CRLF or CR")

    def merged(self, fields: dict[str, Any]) -> Scenario:
        """Return a copy with ``fields`` applied, rejecting unknown names loudly."""
        unknown = set(fields) - SCENARIO_FIELDS
        if unknown:
            raise TypeError(f"unknown scenario field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **fields) if fields else self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view used by ``GET /_fake/scenario``."""
        return dataclasses.asdict(self)


SCENARIO_FIELDS: frozenset[str] = frozenset(f.name for f in dataclasses.fields(Scenario))


def normalise_tool_calls(calls: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turn arguments into a JSON string whatever form the caller used.

    ``id`` stays ``None`` unless given so each protocol can use its own id style.
    """
    out: list[dict[str, Any]] = []
    for call in calls:
        if "name" not in call:
            raise ValueError("each tool call needs a 'name'")
        args = call.get("arguments", {})
        if not isinstance(args, str):
            args = orjson.dumps(args).decode()
        out.append({"id": call.get("id"), "name": call["name"], "arguments": args})
    return out


@dataclass
class RecordedRequest:
    """One request the fake received, kept so tests can assert what the gateway sent upstream."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    time: float
    protocol: str
    stream: bool = False
    status: int | None = None
    chunks_sent: int = 0
    cut: bool = False
    disconnected: bool = False
    completed: bool = False
    finished_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view used by ``GET /_fake/requests``."""
        return dataclasses.asdict(self)


class State:
    """Shared mutable state; the lock makes updates from the test thread safe for the server loop."""

    def __init__(self, base: Scenario | None = None, *, record: bool = True, max_records: int = 10_000):
        self.base = base or Scenario()
        self.scenario = self.base
        self.record = record
        self._lock = threading.Lock()
        self._status_left: int | None = None
        self._records: deque[RecordedRequest] = deque(maxlen=max_records)
        self._changed = threading.Condition(self._lock)

    def update(self, **fields: Any) -> Scenario:
        """Apply a partial update; touching ``status``/``status_times`` re-arms the countdown."""
        with self._lock:
            self.scenario = self.scenario.merged(fields)
            if "status" in fields or "status_times" in fields:
                self._status_left = self.scenario.status_times
            return self.scenario

    def reset(self) -> None:
        """Back to the base scenario with no recorded requests."""
        with self._lock:
            self.scenario = self.base
            self._status_left = self.base.status_times
            self._records.clear()

    def injected_status(self, scenario: Scenario, overridden: bool) -> int | None:
        """Decide whether this request gets an error, consuming one of the N allowed if counted."""
        if scenario.status is None:
            return None
        if overridden or scenario.status_times is None:
            return scenario.status
        with self._lock:
            if self._status_left is None:
                self._status_left = scenario.status_times
            if self._status_left <= 0:
                return None
            self._status_left -= 1
            return scenario.status

    def add(self, rec: RecordedRequest) -> None:
        """Store a record and wake anyone waiting in :meth:`wait_for`."""
        with self._changed:
            self._records.append(rec)
            self._changed.notify_all()

    def touch(self) -> None:
        """Signal that a record changed (stream finished, client went away...)."""
        with self._changed:
            self._changed.notify_all()

    def records(self) -> list[RecordedRequest]:
        """Snapshot copy so callers can iterate while the server keeps appending."""
        with self._lock:
            return list(self._records)

    def clear_records(self) -> None:
        """Forget received requests without touching the scenario."""
        with self._lock:
            self._records.clear()

    def wait_for(self, predicate: Callable[[list[RecordedRequest]], bool], timeout: float) -> bool:
        """Block until ``predicate(records)`` holds; disconnects are noticed asynchronously."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(list(self._records)):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.05))
            return True


def parse_override(raw: str) -> dict[str, Any]:
    """Decode an ``x-fake-scenario`` header / directive; a clear error beats silent defaults."""
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("scenario override must be a JSON object")
    unknown = set(data) - SCENARIO_FIELDS
    if unknown:
        raise ValueError(f"unknown scenario field(s): {', '.join(sorted(unknown))}")
    return data


def split_directive(text: str) -> tuple[dict[str, Any] | None, str]:
    """Strip a leading ``[[fake:{json}]]`` from a user message.

    The directive travels inside the conversation, so it survives any gateway that
    rewrites headers or translates between protocols.
    """
    stripped = text.lstrip()
    if not stripped.startswith(DIRECTIVE_PREFIX):
        return None, text
    start = len(DIRECTIVE_PREFIX)
    try:
        obj, end = json.JSONDecoder().raw_decode(stripped, start)
    except ValueError as exc:
        raise ValueError(f"bad fake directive: {exc}") from exc
    if not stripped.startswith(DIRECTIVE_SUFFIX, end) or not isinstance(obj, dict):
        raise ValueError("bad fake directive: expected [[fake:{...}]]")
    unknown = set(obj) - SCENARIO_FIELDS
    if unknown:
        raise ValueError(f"unknown scenario field(s): {', '.join(sorted(unknown))}")
    return obj, stripped[end + len(DIRECTIVE_SUFFIX) :].lstrip()


def strip_paths(value: Any, paths: Iterable[str]) -> Any:
    """Drop each dotted path from a JSON value in place (a list applies the rest to every item)."""
    for path in paths:
        _strip(value, path.split("."))
    return value


def _strip(value: Any, parts: list[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _strip(item, parts)
    elif isinstance(value, dict):
        if len(parts) == 1:
            value.pop(parts[0], None)
        elif parts[0] in value:
            _strip(value[parts[0]], parts[1:])


def count_words(text: str) -> int:
    """The fake's tokenizer: one token per whitespace-separated word, trivially predictable."""
    return len(text.split())


_PIECE = re.compile(r"\s*\S+")


def split_chunks(text: str, words_per_chunk: int) -> list[str]:
    """Split text into stream deltas whose concatenation is exactly ``text``."""
    pieces = _PIECE.findall(text)
    tail = text[sum(map(len, pieces)) :]
    if tail:
        pieces.append(tail)
    if words_per_chunk == 1:
        return pieces
    return ["".join(pieces[i : i + words_per_chunk]) for i in range(0, len(pieces), words_per_chunk)]


def split_json(arguments: str, parts: int = 3) -> list[str]:
    """Split tool-call arguments into several fragments, as real providers stream them."""
    if not arguments:
        return [""]
    size = max(1, -(-len(arguments) // parts))
    return [arguments[i : i + size] for i in range(0, len(arguments), size)]


@dataclass
class Reply:
    """What the fake answers, computed once and rendered by each protocol module."""

    text: str | None
    tool_calls: list[dict[str, Any]]
    truncated: bool
    prompt_tokens: int
    completion_tokens: int


def plan_reply(scenario: Scenario, user_text: str, prompt_tokens: int, max_tokens: int | None) -> Reply:
    """Derive the reply: tool calls (plus text only when ``reply`` is set) or echoed text.

    ``max_tokens`` truncates text to that many words, mirroring a provider's length stop.
    """
    calls = scenario.tool_calls or []
    if calls:
        text = scenario.reply
    else:
        text = scenario.reply if scenario.reply is not None else f"Echo: {user_text}"
    truncated = False
    if text is not None and max_tokens is not None and max_tokens >= 0 and count_words(text) > max_tokens:
        text = "".join(_PIECE.findall(text)[:max_tokens])
        truncated = True
    completion = count_words(text or "")
    for call in calls:
        completion += count_words(call["name"]) + count_words(call["arguments"])
    return Reply(text, calls, truncated, prompt_tokens, completion)


def embedding_vector(text: str, dim: int) -> list[float]:
    """Unit-length vector seeded by the text's SHA-256, identical across runs and processes."""
    out: list[float] = []
    counter = 0
    while len(out) < dim:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        out.extend((b / 127.5) - 1.0 for b in digest)
        counter += 1
    vec = out[:dim]
    norm = sum(v * v for v in vec) ** 0.5 or 1.0
    return [round(v / norm, 6) for v in vec]


def encode_base64_floats(vec: list[float]) -> str:
    """Little-endian float32 base64, the layout OpenAI uses for ``encoding_format=base64``."""
    return base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
