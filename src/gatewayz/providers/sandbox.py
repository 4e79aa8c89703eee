"""The sandbox simulator: a built-in, deterministic provider for ``test``-environment keys.

Keys of the ``test`` environment (``gw_test_...``) are served here with no upstream call and no
charge, so the quick start and client integration tests work on a machine without provider keys.
Responses follow OpenAI's wire shapes exactly (validated against the official SDK types in the unit
tests). Everything is pure: no I/O, no clock, no global randomness; the same request yields the same
bytes except ``id``/``created``, which the caller passes in. Only the sandbox's own model ids are
served (see ``sandbox_models``) and requests are validated as OpenAI validates them (``sandbox_validate``),
so code that works here keeps working with a live key. Developers can request failures and
latency with markers in the last user message: ``[[sandbox:error=429]]``, ``[[sandbox:delay_ms=250]]``.
"""

from __future__ import annotations

from typing import Any

from gatewayz.providers.sandbox_chat import ChatPlan, ChoicePlan, last_user_text, plan_chat
from gatewayz.providers.sandbox_checks import CHAT_MODELS, EMBEDDING_MODELS, IMAGE_MODELS, SANDBOX_MODELS
from gatewayz.providers.sandbox_common import MAX_DELAY_MS, SandboxError, find_delay_marker, tokenize
from gatewayz.providers.sandbox_embed import DEFAULT_DIMENSIONS, embeddings_delay_ms, simulate_embeddings_impl

__all__ = [
    "CHAT_MODELS",
    "DEFAULT_DIMENSIONS",
    "EMBEDDING_MODELS",
    "IMAGE_MODELS",
    "MAX_DELAY_MS",
    "SANDBOX_PROVIDER",
    "SandboxError",
    "requested_delay_ms",
    "sandbox_models",
    "simulate_chat",
    "simulate_chat_stream",
    "simulate_embeddings",
]

SANDBOX_PROVIDER = "sandbox"

_SERVICE_TIER = "default"


def sandbox_models() -> list[str]:
    """The only model ids test keys can use: chat on the ``sandbox/chat*`` ids, embeddings on ``sandbox/embed``.

    Any other id is a 404 ``model_not_found``, and a model on the wrong endpoint a 400, as a live
    provider would answer, so code tested here does not first fail when it switches to a live key.
    """
    return list(SANDBOX_MODELS)


def requested_delay_ms(body: Any) -> int:
    """Latency asked for by ``[[sandbox:delay_ms=N]]`` (capped at ``MAX_DELAY_MS``), for the caller to await.

    Works for chat bodies (last user message) and embeddings bodies (any text input); never raises,
    so it can be called before validation.
    """
    if not isinstance(body, dict):
        return 0
    messages = body.get("messages")
    if isinstance(messages, list):
        return find_delay_marker(last_user_text(messages))
    return embeddings_delay_ms(body)


def _usage(plan: ChatPlan) -> dict[str, Any]:
    """OpenAI usage object, with the detail sub-objects current API versions always include."""
    return {
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": plan.completion_tokens,
        "total_tokens": plan.prompt_tokens + plan.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _message(choice: ChoicePlan) -> dict[str, Any]:
    """The assistant message of a non-streamed choice (``content`` is null for tool calls)."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": choice.content,
        "refusal": None,
        "annotations": [],
    }
    if choice.tool_calls:
        message["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": dict(c["function"])} for c in choice.tool_calls
        ]
    return message


def simulate_chat(body: dict[str, Any], *, response_id: str, created: int) -> dict[str, Any]:
    """Simulate ``POST /v1/chat/completions`` (non-streaming) as an OpenAI ``chat.completion`` dict.

    Raises ``SandboxError`` for invalid input (400 with ``param``) or when an error marker asks for one.
    """
    plan = plan_chat(body)
    choices = []
    for choice in plan.choices:
        logprobs = {"content": choice.logprobs, "refusal": None} if choice.logprobs is not None else None
        choices.append(
            {
                "index": choice.index,
                "message": _message(choice),
                "logprobs": logprobs,
                "finish_reason": choice.finish_reason,
            }
        )
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": created,
        "model": plan.model,
        "choices": choices,
        "usage": _usage(plan),
        "service_tier": _SERVICE_TIER,
        "system_fingerprint": plan.fingerprint,
    }


def _choice_events(choice: ChoicePlan, want_logprobs: bool) -> list[dict[str, Any]]:
    """Streamed ``choices[]`` entries for one choice, in OpenAI's order (role, pieces, finish)."""

    def event(delta: dict[str, Any], logprobs: Any = None, finish: str | None = None) -> dict[str, Any]:
        return {"index": choice.index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}

    events: list[dict[str, Any]] = []
    if choice.tool_calls:
        for position, call in enumerate(choice.tool_calls):
            header = {
                "index": position,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            if position == 0:  # OpenAI folds the role into the first tool call's header delta
                events.append(event({"role": "assistant", "content": None, "tool_calls": [header], "refusal": None}))
            else:
                events.append(event({"tool_calls": [header]}))
            for piece in tokenize(call["function"]["arguments"]):
                events.append(event({"tool_calls": [{"index": position, "function": {"arguments": piece}}]}))
    else:
        events.append(event({"role": "assistant", "content": "", "refusal": None}))
        for position, piece in enumerate(choice.content_tokens):
            logprobs = None
            if want_logprobs and choice.logprobs is not None:
                logprobs = {"content": [choice.logprobs[position]], "refusal": None}
            events.append(event({"content": piece}, logprobs))
    events.append(event({}, None, choice.finish_reason))
    return events


def simulate_chat_stream(body: dict[str, Any], *, response_id: str, created: int) -> list[dict[str, Any]]:
    """Simulate a streamed chat completion as the list of ``chat.completion.chunk`` dicts to send.

    The caller frames each as an SSE ``data:`` line and appends ``data: [DONE]``. Choices of ``n > 1``
    are interleaved round-robin. With ``stream_options.include_usage`` every chunk carries
    ``"usage": null`` and a last chunk with empty ``choices`` carries the usage. Errors are raised
    before any chunk exists, so the caller can still answer with a plain HTTP error.
    """
    plan = plan_chat(body, streamed=True)
    options = body.get("stream_options") or {}
    include_usage = options.get("include_usage") is True
    base: dict[str, Any] = {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": plan.model,
        "service_tier": _SERVICE_TIER,
        "system_fingerprint": plan.fingerprint,
    }
    per_choice = [_choice_events(c, bool(body.get("logprobs"))) for c in plan.choices]
    chunks: list[dict[str, Any]] = []
    for step in range(max(len(events) for events in per_choice)):
        for events in per_choice:
            if step < len(events):
                chunk = {**base, "choices": [events[step]]}
                if include_usage:
                    chunk["usage"] = None
                chunks.append(chunk)
    if include_usage:
        chunks.append({**base, "choices": [], "usage": _usage(plan)})
    return chunks


def simulate_embeddings(body: dict[str, Any]) -> dict[str, Any]:
    """Simulate ``POST /v1/embeddings``: deterministic unit-norm vectors (8 dims unless ``dimensions``).

    ``input`` may be a string, a list of strings, a token array or a list of token arrays;
    ``encoding_format="base64"`` returns little-endian float32 bytes in base64, as OpenAI does.
    """
    return simulate_embeddings_impl(body)
