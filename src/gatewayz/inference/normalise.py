"""Answers in OpenAI's own schema, whatever the upstream left out.

Many OpenAI-compatible servers (and some translations) omit fields that OpenAI's published spec
marks REQUIRED, mostly nullable ones: `choices[].logprobs`, `message.refusal`, `usage.total_tokens`.
Lenient clients do not care; strictly typed ones (Go, Rust, Java, validating TypeScript) reject
the whole answer. So every answer the gateway sends is completed, in place, on the dict it already
has and is about to serialise: `setdefault` on the required fields only (the list below is taken
from openai/openai-openapi: CreateChatCompletionResponse, CreateChatCompletionStreamResponse,
ChatCompletionResponseMessage, ChatCompletionMessageToolCall, CompletionUsage,
CreateEmbeddingResponse, Embedding). No validation, no copies, no extra serialisation; fields the
schema does not know (the gateway's `usage.cost`, a provider's extras) stay, as OpenAI allows.

Usage is completed only after billing has read the provider's own counts (the service and the
relay call these after `stages.finish`), so a filled-in zero can never make a request free.
"""

from __future__ import annotations

import time
from typing import Any

JSON = dict[str, Any]


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def usage(value: Any) -> None:
    """CompletionUsage: prompt, completion and total tokens, with total = prompt + completion."""
    if not isinstance(value, dict):
        return
    prompt, completion, total = value.get("prompt_tokens"), value.get("completion_tokens"), value.get("total_tokens")
    if _int(prompt) and _int(completion):
        if total != prompt + completion:
            value["total_tokens"] = prompt + completion
        return
    if _int(total):  # one part missing: the other is what the total leaves
        if prompt is None and _int(completion):
            value["prompt_tokens"] = max(total - completion, 0)
        elif completion is None and _int(prompt):
            value["completion_tokens"] = max(total - prompt, 0)
    value.setdefault("prompt_tokens", 0)
    value.setdefault("completion_tokens", 0)
    if "total_tokens" not in value and _int(value["prompt_tokens"]) and _int(value["completion_tokens"]):
        value["total_tokens"] = value["prompt_tokens"] + value["completion_tokens"]


def _tool_calls(calls: Any) -> None:
    if isinstance(calls, list):
        for call in calls:
            if isinstance(call, dict) and "type" not in call and "custom" not in call:
                call["type"] = "function"


def _head(body: JSON, id_: str, kind: str, created: int, model: str) -> None:
    """The fields every chat answer and chunk carries: id, object, created, model."""
    if "id" not in body:
        body["id"] = id_
    if "object" not in body:
        body["object"] = kind
    if "created" not in body:
        body["created"] = created
    if "model" not in body:
        body["model"] = model


def _choices(body: JSON) -> list[JSON]:
    """The body's choice objects, each with its `index` (its position when missing)."""
    choices = body.get("choices")
    if not isinstance(choices, list):
        return []
    out = []
    for position, choice in enumerate(choices):
        if isinstance(choice, dict):
            if "index" not in choice:
                choice["index"] = position
            out.append(choice)
    return out


def completion(body: JSON, request_id: str, model: str) -> JSON:
    """A non-streaming `chat.completion` (CreateChatCompletionResponse), completed in place."""
    _head(body, "chatcmpl-" + request_id, "chat.completion", int(time.time()), model)
    for choice in _choices(body):
        message = choice.get("message")
        if not isinstance(message, dict):
            message = choice["message"] = {}
        if "role" not in message:
            message["role"] = "assistant"
        if "content" not in message:
            message["content"] = None
        if "refusal" not in message:
            message["refusal"] = None
        if "tool_calls" in message:
            _tool_calls(message["tool_calls"])
        if "finish_reason" not in choice or choice["finish_reason"] is None:
            choice["finish_reason"] = "tool_calls" if message.get("tool_calls") else "stop"
        if "logprobs" not in choice:
            choice["logprobs"] = None
    if "usage" in body:
        usage(body["usage"])
    return body


class Chunks:
    """Completes the chunks of one stream: every chunk gets the same id, created and model."""

    __slots__ = ("created", "id", "model")

    def __init__(self, request_id: str, model: str) -> None:
        self.id = "chatcmpl-" + request_id
        self.created = int(time.time())
        self.model = model

    def chunk(self, chunk: JSON) -> JSON:
        """A `chat.completion.chunk` (CreateChatCompletionStreamResponse), completed in place.

        A usage-only chunk's `usage` is left alone here: it is the very dict billing reads later
        (`usage()` completes it once the stages have finished). Usage riding on a chunk with
        choices (rare) is completed on a copy, for the same reason.
        """
        _head(chunk, self.id, "chat.completion.chunk", self.created, self.model)
        choices = chunk.get("choices")
        if isinstance(choices, list):
            for choice in _choices(chunk):
                delta = choice.get("delta")
                if not isinstance(delta, dict):
                    choice["delta"] = {}
                if "finish_reason" not in choice:
                    choice["finish_reason"] = None
                if "logprobs" not in choice:
                    choice["logprobs"] = None
            value = chunk.get("usage")
            if choices and isinstance(value, dict):
                chunk["usage"] = value = dict(value)
                usage(value)
        elif "choices" not in chunk:
            chunk["choices"] = []
        return chunk


def embeddings(body: JSON, model: str, billed: JSON | None) -> JSON:
    """A CreateEmbeddingResponse, completed in place; a missing usage is the one billing used."""
    if "object" not in body:
        body["object"] = "list"
    if "model" not in body:
        body["model"] = model
    data = body.get("data")
    if isinstance(data, list):
        for position, item in enumerate(data):
            if isinstance(item, dict):
                if "object" not in item:
                    item["object"] = "embedding"
                if "index" not in item:
                    item["index"] = position
    elif "data" not in body:
        body["data"] = []
    value = body.get("usage")
    if not isinstance(value, dict):
        prompt = billed.get("prompt_tokens", 0) if billed else 0
        body["usage"] = {"prompt_tokens": prompt, "total_tokens": prompt}
    else:
        if "prompt_tokens" not in value:
            total = value.get("total_tokens")
            value["prompt_tokens"] = total if _int(total) else 0
        if "total_tokens" not in value:
            value["total_tokens"] = value["prompt_tokens"]
    return body
