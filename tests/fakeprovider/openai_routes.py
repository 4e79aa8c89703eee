"""OpenAI-compatible endpoints: chat completions (plain and SSE), embeddings, models.

The non-streaming chat path is the benchmark baseline, so its response bytes are
cached per (model, reply, usage) and served without re-serialising.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from .core import Ctx, Protocol, provider_route
from .scenario import (
    Reply,
    Scenario,
    State,
    count_words,
    embedding_vector,
    encode_base64_floats,
    plan_reply,
    split_chunks,
    split_json,
    strip_paths,
)

_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_denied", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    409: ("invalid_request_error", "conflict"),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}
_DONE = b"data: [DONE]\n\n"
_CACHE_LIMIT = 4096
_chat_cache: dict[tuple[Any, ...], bytes] = {}


def error_body(status: int, message: str) -> bytes:
    """OpenAI's ``{"error": {message, type, param, code}}`` envelope."""
    kind, code = _ERROR_KINDS.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    return orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})


def stream_error() -> bytes:
    """Mid-stream failure as OpenAI emits it: a data line carrying an error object."""
    return b"data: " + error_body(500, "The server had an error while processing your request.") + b"\n\n"


def check_auth(request: web.Request, scenario: Scenario) -> tuple[int, str] | None:
    """Bearer auth; any key passes unless the scenario pins one."""
    header = request.headers.get("Authorization", "")
    key = header[7:] if header[:7].lower() == "bearer " else ""
    if not key or (scenario.api_key is not None and key != scenario.api_key):
        return 401, "Incorrect API key provided."
    return None


def _text_of(content: Any) -> str:
    """Flatten a message ``content`` (string or list of parts) to its text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p["text"] for p in content
                        if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str))
    return ""


def last_user_text(body: Any) -> str:
    """Last ``user`` or ``tool`` turn, so tool loops echo the tool result back."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if isinstance(messages, list):
        for msg in reversed(messages):
            if isinstance(msg, dict) and msg.get("role") in ("user", "tool"):
                return _text_of(msg.get("content"))
    return ""


PROTOCOL = Protocol("openai", error_body, check_auth, last_user_text, stream_error)


def _usage(reply: Reply, override: dict[str, Any] | None = None) -> dict[str, Any]:
    """OpenAI usage object with the detail sub-objects clients commonly read."""
    usage = {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }
    return {**usage, **override} if override else usage


def _finish(reply: Reply) -> str:
    """Finish reason matching the planned reply."""
    return "tool_calls" if reply.tool_calls else ("length" if reply.truncated else "stop")


def _render_chat(model: Any, reply: Reply, omit_usage: bool, usage_override: dict[str, Any] | None = None,
                 strip: list[str] | None = None) -> bytes:
    """Serialise a ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None, "annotations": []}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c["id"] or f"call_fake_{i}", "type": "function",
             "function": {"name": c["name"], "arguments": c["arguments"]}}
            for i, c in enumerate(reply.tool_calls)
        ]
    out: dict[str, Any] = {
        "id": f"chatcmpl-fake{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": _finish(reply)}],
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }
    if not omit_usage:
        out["usage"] = _usage(reply, usage_override)
    return orjson.dumps(strip_paths(out, strip or ()))


def _prompt_words(body: dict[str, Any]) -> int:
    """Deterministic prompt token count: words across every message's text."""
    return sum(count_words(_text_of(m.get("content"))) for m in body["messages"] if isinstance(m, dict))


async def chat_completions(ctx: Ctx) -> web.StreamResponse:
    """``POST /v1/chat/completions``."""
    body = ctx.body
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or "model" not in body:
        return ctx.error(400, "'model' and 'messages' are required properties")
    model = body["model"]
    if (denied := ctx.check_model(model)) is not None:
        return denied
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    reply = plan_reply(ctx.scenario, ctx.user_text, _prompt_words(body) - ctx.directive_words,
                       max_tokens if isinstance(max_tokens, int) else None)
    omit_usage = ctx.scenario.omit_usage
    override = ctx.scenario.usage_override
    if body.get("stream") and not ctx.scenario.ignore_stream:
        opts = body.get("stream_options")
        include_usage = isinstance(opts, dict) and bool(opts.get("include_usage")) and not omit_usage
        return await _stream_chat(ctx, model, reply, include_usage, override)
    if reply.tool_calls or override is not None or ctx.scenario.strip_fields:
        return await ctx.send_json(_render_chat(model, reply, omit_usage, override, ctx.scenario.strip_fields))
    key = (model, reply.text, reply.truncated, reply.prompt_tokens, reply.completion_tokens, omit_usage)
    payload = _chat_cache.get(key)
    if payload is None:
        if len(_chat_cache) >= _CACHE_LIMIT:
            _chat_cache.clear()
        payload = _chat_cache[key] = _render_chat(model, reply, omit_usage)
    return await ctx.send_json(payload)


async def _stream_chat(
    ctx: Ctx, model: Any, reply: Reply, include_usage: bool, usage_override: dict[str, Any] | None = None
) -> web.StreamResponse:
    """SSE chat stream: role chunk, content deltas, tool-call deltas, finish, usage, [DONE]."""
    base = {"id": f"chatcmpl-fake{time.monotonic_ns()}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model, "service_tier": "default",
            "system_fingerprint": "fp_fake"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        data: dict[str, Any] = {**base, "choices": [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            data["usage"] = None
        return b"data: " + orjson.dumps(strip_paths(data, strip)) + b"\n\n"

    strip = ctx.scenario.strip_fields
    stream = await ctx.open_stream()
    first_content = "" if reply.text is not None else None
    await stream.send(chunk({"role": "assistant", "content": first_content, "refusal": None}))
    for piece in split_chunks(reply.text or "", ctx.scenario.words_per_chunk):
        await stream.send(chunk({"content": piece}))
    for i, call in enumerate(reply.tool_calls):
        head = {"index": i, "id": call["id"] or f"call_fake_{i}", "type": "function",
                "function": {"name": call["name"], "arguments": ""}}
        await stream.send(chunk({"tool_calls": [head]}))
        for frag in split_json(call["arguments"]):
            await stream.send(chunk({"tool_calls": [{"index": i, "function": {"arguments": frag}}]}))
    await stream.send(chunk({}, _finish(reply)))
    if include_usage:
        usage = _usage(reply, usage_override)
        last = strip_paths({**base, "choices": [], "usage": usage}, strip)
        await stream.send(b"data: " + orjson.dumps(last) + b"\n\n")
    await stream.send(_DONE)
    return await stream.finish()


def _embedding_inputs(raw: Any) -> list[tuple[str, int]] | None:
    """Normalise every accepted ``input`` form to (text, token count) pairs."""
    if isinstance(raw, str):
        return [(raw, count_words(raw))]
    if isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
        return [(" ".join(map(str, raw)), len(raw))]
    if isinstance(raw, list) and raw:
        out: list[tuple[str, int]] = []
        for item in raw:
            if isinstance(item, str):
                out.append((item, count_words(item)))
            elif isinstance(item, list) and all(isinstance(x, int) for x in item):
                out.append((" ".join(map(str, item)), len(item)))
            else:
                return None
        return out
    return None


async def embeddings(ctx: Ctx) -> web.StreamResponse:
    """``POST /v1/embeddings`` with deterministic unit vectors (float or base64)."""
    body = ctx.body
    inputs = _embedding_inputs(body.get("input")) if isinstance(body, dict) else None
    if inputs is None or "model" not in body:
        return ctx.error(400, "'input' and 'model' are required and 'input' must be a string or array")
    if (denied := ctx.check_model(body["model"])) is not None:
        return denied
    dims = body.get("dimensions")
    dim = dims if isinstance(dims, int) and dims > 0 else ctx.scenario.embedding_dim
    as_b64 = body.get("encoding_format") == "base64"
    data = []
    for i, (text, _) in enumerate(inputs):
        vec = embedding_vector(text, dim)
        data.append({"object": "embedding", "index": i, "embedding": encode_base64_floats(vec) if as_b64 else vec})
    tokens = sum(n for _, n in inputs)
    out: dict[str, Any] = {"object": "list", "data": data, "model": body["model"]}
    if not ctx.scenario.omit_usage:
        out["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
    return await ctx.send_json(orjson.dumps(strip_paths(out, ctx.scenario.strip_fields)))


def model_entry(scenario: Scenario, model_id: str) -> dict[str, Any]:
    """One OpenAI model object, plus OpenRouter ``pricing`` strings when configured."""
    entry: dict[str, Any] = {"id": model_id, "object": "model", "created": 1_700_000_000,
                             "owned_by": "fakeprovider"}
    if scenario.pricing and model_id in scenario.pricing:
        price = scenario.pricing[model_id]
        entry["pricing"] = {"prompt": str(price.get("prompt", "0")), "completion": str(price.get("completion", "0"))}
        entry["pricing"].update({k: str(v) for k, v in price.items() if k not in ("prompt", "completion")})
    if scenario.model_facts and model_id in scenario.model_facts:
        entry.update(scenario.model_facts[model_id])
    return entry


async def list_models(ctx: Ctx) -> web.StreamResponse:
    """``GET /v1/models`` in OpenAI's list shape (Anthropic clients are routed elsewhere)."""
    sc = ctx.scenario
    return await ctx.send_json(orjson.dumps({"object": "list", "data": [model_entry(sc, m) for m in sc.models]}))


async def retrieve_model(ctx: Ctx) -> web.StreamResponse:
    """``GET /v1/models/{model}``."""
    model_id = ctx.request.match_info["model"]
    if model_id not in ctx.scenario.models:
        return ctx.error(404, f"The model '{model_id}' does not exist")
    return await ctx.send_json(orjson.dumps(model_entry(ctx.scenario, model_id)))


def add_routes(app: web.Application, state: State) -> None:
    """Mount the OpenAI endpoints (``GET /v1/models`` is shared, so server.py dispatches it)."""
    app.router.add_post("/v1/chat/completions", provider_route(state, PROTOCOL, chat_completions))
    app.router.add_post("/v1/embeddings", provider_route(state, PROTOCOL, embeddings))
    app.router.add_get("/v1/models/{model}", provider_route(state, PROTOCOL, retrieve_model))

