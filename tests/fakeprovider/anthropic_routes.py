"""Anthropic Messages API: ``POST /v1/messages`` (plain and SSE), count_tokens, models list.

The streaming event order mirrors the real API exactly (message_start,
content_block_start, ping, content_block_delta..., content_block_stop,
message_delta, message_stop) because gateways translating to and from it depend
on that order.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from .core import Ctx, Protocol, provider_route
from .scenario import Reply, Scenario, State, count_words, plan_reply, split_chunks, split_json

_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_body(status: int, message: str) -> bytes:
    """Anthropic's ``{"type": "error", "error": {type, message}, "request_id"}`` envelope."""
    kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message},
                         "request_id": f"req_fake{time.monotonic_ns()}"})


def stream_error() -> bytes:
    """Mid-stream failure as Anthropic sends it: an ``error`` event (usually overloaded)."""
    return _event(b"error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})


def check_auth(request: web.Request, scenario: Scenario) -> tuple[int, str] | None:
    """A key must be present (and match a pinned key); ``anthropic-version`` is mandatory.

    The key is read from ``x-api-key``, falling back to ``Authorization: Bearer`` because
    Anthropic SDK 2.x sends API keys that way.
    """
    key = request.headers.get("x-api-key")
    if not key:
        header = request.headers.get("Authorization", "")
        key = header[7:] if header[:7].lower() == "bearer " else ""
    if not key:
        return 401, "x-api-key header is required"
    if scenario.api_key is not None and key != scenario.api_key:
        return 401, "invalid x-api-key"
    if not request.headers.get("anthropic-version"):
        return 400, "anthropic-version: header is required"
    return None


def _text_of(content: Any) -> str:
    """Text of a string or block list, including tool_result contents (for tool loops)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            parts.append(block.get("text", ""))
        elif block.get("type") == "tool_result":
            parts.append(_text_of(block.get("content")))
    return " ".join(parts)


def last_user_text(body: Any) -> str:
    """Text of the last ``user`` message."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if isinstance(messages, list):
        for msg in reversed(messages):
            if isinstance(msg, dict) and msg.get("role") == "user":
                return _text_of(msg.get("content"))
    return ""


PROTOCOL = Protocol("anthropic", error_body, check_auth, last_user_text, stream_error)


def _event(name: bytes, data: dict[str, Any]) -> bytes:
    """One SSE event with Anthropic's explicit ``event:`` line."""
    return b"event: " + name + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _prompt_words(body: dict[str, Any]) -> int:
    """Words in the system prompt plus every message."""
    total = count_words(_text_of(body.get("system")))
    return total + sum(count_words(_text_of(m.get("content"))) for m in body["messages"] if isinstance(m, dict))


def _tool_input(arguments: str) -> dict[str, Any]:
    """Anthropic carries tool input as an object, not a JSON string."""
    value = orjson.loads(arguments) if arguments else {}
    return value if isinstance(value, dict) else {"value": value}


def _stop_reason(reply: Reply) -> str:
    """Stop reason matching the planned reply."""
    return "tool_use" if reply.tool_calls else ("max_tokens" if reply.truncated else "end_turn")


def _tool_id(call: dict[str, Any], i: int) -> str:
    """Configured id, or an Anthropic-looking default."""
    return call["id"] or f"toolu_fake_{i}"


async def messages(ctx: Ctx) -> web.StreamResponse:
    """``POST /v1/messages``."""
    body = ctx.body
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or "model" not in body:
        return ctx.error(400, "model: Field required; messages: Field required")
    if not isinstance(body.get("max_tokens"), int):
        return ctx.error(400, "max_tokens: Field required")
    model = body["model"]
    if (denied := ctx.check_model(model)) is not None:
        return denied
    reply = plan_reply(ctx.scenario, ctx.user_text, _prompt_words(body) - ctx.directive_words, body["max_tokens"])
    msg_id = f"msg_fake{time.monotonic_ns()}"
    usage = {"input_tokens": reply.prompt_tokens, "output_tokens": reply.completion_tokens,
             "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    if body.get("stream"):
        return await _stream(ctx, model, msg_id, reply, usage)
    content: list[dict[str, Any]] = []
    if reply.text is not None:
        content.append({"type": "text", "text": reply.text})
    for i, call in enumerate(reply.tool_calls):
        content.append({"type": "tool_use", "id": _tool_id(call, i), "name": call["name"],
                        "input": _tool_input(call["arguments"])})
    out: dict[str, Any] = {"id": msg_id, "type": "message", "role": "assistant", "model": model,
                           "content": content, "stop_reason": _stop_reason(reply), "stop_sequence": None}
    if not ctx.scenario.omit_usage:
        out["usage"] = usage
    return await ctx.send_json(orjson.dumps(out))


async def _stream(ctx: Ctx, model: Any, msg_id: str, reply: Reply, usage: dict[str, Any]) -> web.StreamResponse:
    """Emit the full Anthropic event sequence for text and tool_use blocks."""
    omit = ctx.scenario.omit_usage
    start: dict[str, Any] = {"id": msg_id, "type": "message", "role": "assistant", "model": model,
                             "content": [], "stop_reason": None, "stop_sequence": None}
    if not omit:
        start["usage"] = {**usage, "output_tokens": 1}
    stream = await ctx.open_stream()
    await stream.send(_event(b"message_start", {"type": "message_start", "message": start}))
    index = 0
    if reply.text is not None:
        await stream.send(_event(b"content_block_start", {"type": "content_block_start", "index": 0,
                                                          "content_block": {"type": "text", "text": ""}}))
        await stream.send(_event(b"ping", {"type": "ping"}))
        for piece in split_chunks(reply.text, ctx.scenario.words_per_chunk):
            await stream.send(_event(b"content_block_delta", {
                "type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}))
        await stream.send(_event(b"content_block_stop", {"type": "content_block_stop", "index": 0}))
        index = 1
    for i, call in enumerate(reply.tool_calls):
        block = {"type": "tool_use", "id": _tool_id(call, i), "name": call["name"], "input": {}}
        await stream.send(_event(b"content_block_start",
                                 {"type": "content_block_start", "index": index, "content_block": block}))
        if index == 0:
            await stream.send(_event(b"ping", {"type": "ping"}))
        for frag in ["", *split_json(call["arguments"])]:
            await stream.send(_event(b"content_block_delta", {
                "type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": frag}}))
        await stream.send(_event(b"content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    delta: dict[str, Any] = {"type": "message_delta",
                             "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None}}
    if not omit:
        delta["usage"] = {"output_tokens": reply.completion_tokens}
    await stream.send(_event(b"message_delta", delta))
    await stream.send(_event(b"message_stop", {"type": "message_stop"}))
    return await stream.finish()


async def count_tokens(ctx: Ctx) -> web.StreamResponse:
    """``POST /v1/messages/count_tokens`` using the same word-count tokenizer."""
    body = ctx.body
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return ctx.error(400, "messages: Field required")
    return await ctx.send_json(orjson.dumps({"input_tokens": _prompt_words(body) - ctx.directive_words}))


def models_payload(scenario: Scenario) -> bytes:
    """Anthropic's paginated models list shape."""
    data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z",
             "lifecycle": "active"}
            for m in scenario.models]
    return orjson.dumps({"data": data, "has_more": False,
                         "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None})


async def list_models(ctx: Ctx) -> web.StreamResponse:
    """``GET /v1/models`` for clients that identify as Anthropic via ``anthropic-version``."""
    return await ctx.send_json(models_payload(ctx.scenario))


def add_routes(app: web.Application, state: State) -> None:
    """Mount the Anthropic endpoints (``GET /v1/models`` is dispatched by server.py)."""
    app.router.add_post("/v1/messages", provider_route(state, PROTOCOL, messages))
    app.router.add_post("/v1/messages/count_tokens", provider_route(state, PROTOCOL, count_tokens))
