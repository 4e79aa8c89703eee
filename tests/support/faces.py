"""Helpers shared by the Responses / Messages end-to-end tests: SDK clients, the usage record and
ledger of one call (found by the caller's own `x-client-request-id`, which also works for SDK
streams whose headers the test never sees), raw SSE reading, and what a fake provider received."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import orjson
import pytest

from tests.fakeprovider import FakeProvider, RecordedRequest
from tests.support.databases import run_sql

HELLO = "hello there"  # the fake counts 2 prompt tokens and answers "Echo: hello there" (3 tokens)
ECHO = "Echo: hello there"
WEATHER_TOOL_RESPONSES: dict[str, Any] = {  # a Responses (flat) function tool
    "type": "function",
    "name": "get_weather",
    "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": False,
}
WEATHER_TOOL_ANTHROPIC: dict[str, Any] = {
    "name": "get_weather",
    "description": "Weather of a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="  # 1x1 PNG
WEATHER_CALL = [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_weather_1"}]
ANTHROPIC_ERROR_TYPES = {
    "invalid_request_error", "authentication_error", "billing_error", "permission_error", "not_found_error",
    "request_too_large", "rate_limit_error", "api_error", "overloaded_error", "timeout_error",
}  # fmt: skip


def anthropic_client(base_url: str, key: str, **options: Any) -> anthropic.Anthropic:
    """The official Anthropic SDK on the gateway (it appends /v1/messages itself); strict, no retries."""
    options.setdefault("max_retries", 0)
    options.setdefault("_strict_response_validation", True)
    return anthropic.Anthropic(base_url=base_url, api_key=key, **options)


def anthropic_error(raised: pytest.ExceptionInfo[anthropic.APIStatusError], status: int, kind: str) -> str:
    """Assert an SDK error is Anthropic's error envelope with this status and type; its message."""
    error = raised.value
    assert error.status_code == status
    body = error.response.json()
    assert body["type"] == "error" and set(body["error"]) >= {"type", "message"}, body
    assert body["error"]["type"] == kind, body
    return str(body["error"]["message"])


def client_id() -> str:
    """A fresh correlation id to send as `x-client-request-id` (stored on the usage record)."""
    return "t-" + secrets.token_hex(8)


def tagged(tag: str) -> dict[str, str]:
    return {"x-client-request-id": tag}


USAGE_COLUMNS = "request_id, provider, model, prompt_tokens, completion_tokens, cost, estimated, status, stream"


def usage_row(database_url: str, tag: str, timeout: float = 5.0) -> dict[str, Any]:
    """The one usage record of the call sent with `x-client-request-id: tag` (waits for streams,
    whose record is written when the gateway notices the end or the disconnect)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = run_sql(database_url, f"SELECT {USAGE_COLUMNS} FROM usage_records WHERE client_request_id = :p0", tag)
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(rows) == 1, f"expected one usage record for {tag}, found {rows}"
    return dict(zip([c.strip() for c in USAGE_COLUMNS.split(",")], rows[0], strict=True))


def ledger(database_url: str, request_id: str) -> list[tuple[Any, ...]]:
    return run_sql(database_url, "SELECT type, amount FROM credit_transactions WHERE reference = :p0", request_id)


def held(client: httpx.Client) -> str:
    return str(client.get("/user/balance").json()["held"])


def sse(text: str) -> list[tuple[str | None, Any]]:
    """(event name, decoded data) of an SSE body; `[DONE]` and non-JSON data stay strings."""
    out: list[tuple[str | None, Any]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if event is None and not data:
            continue
        raw = "\n".join(data)
        try:
            out.append((event, orjson.loads(raw)))
        except orjson.JSONDecodeError:
            out.append((event, raw))
    return out


def sse_lines(response: httpx.Response) -> Iterator[tuple[str | None, Any]]:
    """Events of a streaming httpx response as they arrive (for reading part of a stream)."""
    event: str | None = None
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            raw = line[5:].lstrip()
            try:
                yield event, orjson.loads(raw)
            except orjson.JSONDecodeError:
                yield event, raw
            event = None


def received(fake: FakeProvider, protocol: str) -> list[RecordedRequest]:
    """Inference requests the fake served in `protocol` (model listings excluded), oldest first."""
    return [r for r in fake.wait_idle() if r.protocol == protocol and r.method == "POST"]


def only(fake: FakeProvider, protocol: str) -> RecordedRequest:
    requests = received(fake, protocol)
    assert len(requests) == 1, [(r.path, r.status) for r in requests]
    return requests[0]


def text_of(content: Any) -> str:
    """Text of a chat message's content (a string or a list of text parts)."""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or () if isinstance(p, dict))


def posts(fake: FakeProvider) -> list[RecordedRequest]:
    """Every inference request the fake received, whatever its protocol (catalog reads excluded)."""
    return [r for r in fake.requests if r.method == "POST"]
