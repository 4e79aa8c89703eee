"""Gemini API: ``models/{model}:generateContent`` and ``:streamGenerateContent``.

With ``alt=sse`` the stream is SSE with CRLF-terminated events and no ``[DONE]``
(as Google sends it); without it the body is a streamed JSON array, which is what
the real endpoint returns and what a gateway that forgets ``alt=sse`` would get.
``usageMetadata`` is cumulative on every chunk, so a gateway that sums chunks
instead of taking the last one gets caught.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from .core import Ctx, EventStream, Protocol, provider_route
from .scenario import Reply, Scenario, State, count_words, plan_reply, split_chunks

_STATUSES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_body(status: int, message: str) -> bytes:
    """Google's ``{"error": {code, message, status}}`` envelope."""
    name = _STATUSES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return orjson.dumps({"error": {"code": status, "message": message, "status": name}})


def stream_error() -> bytes:
    """Mid-stream failure: an SSE event whose payload is an error object."""
    return b"data: " + error_body(503, "The model is overloaded. Please try again later.") + b"\r\n\r\n"


def check_auth(request: web.Request, scenario: Scenario) -> tuple[int, str] | None:
    """Key from ``x-goog-api-key`` or ``?key=``; rejected with 401 (real Gemini varies 400/403)."""
    key = request.headers.get("x-goog-api-key") or request.query.get("key")
    if not key:
        return 401, "Method doesn't allow unregistered callers. Please use API key."
    if scenario.api_key is not None and key != scenario.api_key:
        return 401, "API key not valid. Please pass a valid API key."
    return None


def _text_of(parts: Any) -> str:
    """Text of a part list; function responses count as their JSON so tool loops echo them."""
    if not isinstance(parts, list):
        return ""
    out: list[str] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str):
            out.append(part["text"])
        elif isinstance(part.get("functionResponse"), dict):
            out.append(orjson.dumps(part["functionResponse"].get("response")).decode())
    return " ".join(out)


def last_user_text(body: Any) -> str:
    """Last content whose role is ``user`` (or unset, which Gemini treats as user)."""
    contents = body.get("contents") if isinstance(body, dict) else None
    if isinstance(contents, list):
        for content in reversed(contents):
            if isinstance(content, dict) and content.get("role", "user") in ("user", "function"):
                return _text_of(content.get("parts"))
    return ""


PROTOCOL = Protocol("gemini", error_body, check_auth, last_user_text, stream_error)


def _camel_or_snake(obj: Any, camel: str, snake: str) -> Any:
    """Gemini's JSON accepts both spellings of every field."""
    if not isinstance(obj, dict):
        return None
    return obj.get(camel, obj.get(snake))


def _prompt_words(body: dict[str, Any]) -> int:
    """Words in the system instruction plus every content."""
    system = _camel_or_snake(body, "systemInstruction", "system_instruction")
    total = count_words(_text_of(system.get("parts"))) if isinstance(system, dict) else 0
    return total + sum(count_words(_text_of(c.get("parts"))) for c in body["contents"] if isinstance(c, dict))


def _usage(reply: Reply, candidates: int) -> dict[str, int]:
    """``usageMetadata`` with the candidate count so far."""
    return {"promptTokenCount": reply.prompt_tokens, "candidatesTokenCount": candidates,
            "totalTokenCount": reply.prompt_tokens + candidates}


def _calls(reply: Reply) -> list[dict[str, Any]]:
    """Function calls as parts; args are an object in Gemini."""
    parts = []
    for call in reply.tool_calls:
        args = orjson.loads(call["arguments"]) if call["arguments"] else {}
        parts.append({"functionCall": {"name": call["name"], "args": args}})
    return parts


def _response(model: str, rid: str, parts: list[dict[str, Any]], finish: str | None,
              usage: dict[str, int] | None) -> dict[str, Any]:
    """One ``GenerateContentResponse``."""
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    out: dict[str, Any] = {"candidates": [candidate]}
    if usage is not None:
        out["usageMetadata"] = usage
    out["modelVersion"] = model
    out["responseId"] = rid
    return out


async def generate(ctx: Ctx) -> web.StreamResponse:
    """``POST /v1beta/models/{model}:generateContent`` or ``:streamGenerateContent``."""
    model, _, action = ctx.request.match_info["target"].rpartition(":")
    if action not in ("generateContent", "streamGenerateContent") or not model:
        return ctx.error(404, f"Method not found: {action}")
    body = ctx.body
    if not isinstance(body, dict) or not isinstance(body.get("contents"), list):
        return ctx.error(400, "* GenerateContentRequest.contents: contents is not specified")
    if (denied := ctx.check_model(model)) is not None:
        return denied
    max_out = _camel_or_snake(_camel_or_snake(body, "generationConfig", "generation_config"),
                              "maxOutputTokens", "max_output_tokens")
    reply = plan_reply(ctx.scenario, ctx.user_text, _prompt_words(body) - ctx.directive_words,
                       max_out if isinstance(max_out, int) else None)
    finish = "MAX_TOKENS" if reply.truncated else "STOP"
    rid = f"fake{time.monotonic_ns()}"
    omit = ctx.scenario.omit_usage
    if action == "generateContent":
        parts = ([{"text": reply.text}] if reply.text is not None else []) + _calls(reply)
        usage = None if omit else _usage(reply, reply.completion_tokens)
        return await ctx.send_json(orjson.dumps(_response(model, rid, parts, finish, usage)))

    sse = ctx.request.query.get("alt") == "sse"
    stream = await ctx.open_stream("text/event-stream" if sse else "application/json; charset=UTF-8")
    frames = _frames(reply, ctx.scenario.words_per_chunk)
    sent_words = 0
    for i, (parts, words, last) in enumerate(frames):
        sent_words += words
        usage = None if omit else _usage(reply, reply.completion_tokens if last else sent_words)
        payload = orjson.dumps(_response(model, rid, parts, finish if last else None, usage))
        if sse:
            await stream.send(b"data: " + payload + b"\r\n\r\n")
        else:
            await stream.send((b"[" if i == 0 else b",\r\n") + payload)
    if not sse:
        await _close_array(stream)
    return await stream.finish()


async def _close_array(stream: EventStream) -> None:
    """Terminate the JSON-array stream (counted as one more event for cut purposes)."""
    await stream.send(b"]")


def _frames(reply: Reply, words_per_chunk: int) -> list[tuple[list[dict[str, Any]], int, bool]]:
    """(parts, words, is_last) per chunk: text pieces, then all function calls together."""
    frames: list[tuple[list[dict[str, Any]], int]] = [
        ([{"text": piece}], count_words(piece)) for piece in split_chunks(reply.text or "", words_per_chunk)
    ]
    if reply.tool_calls:
        frames.append((_calls(reply), 0))
    if not frames:
        frames.append(([{"text": ""}], 0))
    return [(parts, words, i == len(frames) - 1) for i, (parts, words) in enumerate(frames)]


def _model_entry(model_id: str) -> dict[str, Any]:
    """A Gemini ``Model`` resource."""
    return {"name": f"models/{model_id}", "version": "001", "displayName": model_id,
            "inputTokenLimit": 1_048_576, "outputTokenLimit": 8192,
            "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"]}


async def list_models(ctx: Ctx) -> web.StreamResponse:
    """``GET /v1beta/models``."""
    return await ctx.send_json(orjson.dumps({"models": [_model_entry(m) for m in ctx.scenario.models]}))


async def get_model(ctx: Ctx) -> web.StreamResponse:
    """``GET /v1beta/models/{model}``."""
    model_id = ctx.request.match_info["target"]
    if model_id not in ctx.scenario.models:
        return ctx.error(404, f"models/{model_id} is not found for API version v1beta")
    return await ctx.send_json(orjson.dumps(_model_entry(model_id)))


def add_routes(app: web.Application, state: State) -> None:
    """Mount the Gemini endpoints under both ``/v1beta`` and (POST only) ``/v1``."""
    gen = provider_route(state, PROTOCOL, generate)
    app.router.add_post("/v1beta/models/{target}", gen)
    app.router.add_post("/v1/models/{target}", gen)
    app.router.add_get("/v1beta/models", provider_route(state, PROTOCOL, list_models))
    app.router.add_get("/v1beta/models/{target}", provider_route(state, PROTOCOL, get_model))
