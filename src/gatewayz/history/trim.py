"""Trimming a conversation's earlier messages to what the model's context window leaves room for.

Pure functions (no I/O) for the history stage: the token cost of a message (the same estimate the
credit hold and rate limits use, so what is trimmed to fits what is held for), the atomic groups a
history may be cut between (an assistant's tool calls travel with the tool results that answer
them: providers refuse a tool result without its call, and a call without its result loses what
the model learned), the newest groups that fit a budget, the budget itself, and a model's context
window read from whatever shape a provider's model list gives it in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gatewayz.inference import estimate

JSON = dict[str, Any]
MAX_CONTEXT_LENGTH = 10_000_000  # above any real model's window: a larger figure is a bad entry
# Where providers' model lists put the context window, most specific first.
_CONTEXT_KEYS = (
    "context_length",  # OpenRouter, Together, Fireworks, DeepInfra
    "context_window",  # Groq, xAI
    "max_model_len",  # vLLM
    "inputTokenLimit",  # Gemini
    "input_token_limit",  # Gemini (snake case)
    "max_input_tokens",  # Anthropic's model list
    "max_context_length",  # Mistral, LM Studio
    "context_size",
    "n_ctx",  # llama.cpp
    "n_ctx_train",  # llama.cpp's /v1/models `meta`
)
_NESTED_KEYS = ("top_provider", "meta", "metadata", "limits", "capabilities")


@dataclass(frozen=True, slots=True)
class Trimmed:
    kept: list[Any]  # the newest messages that fit, in their original order
    dropped: list[Any]  # the older prefix that did not (what a summary would replace)
    kept_tokens: int


def message_tokens(message: Any) -> int:
    """Tokens of one Chat Completions message: role framing, text and content parts, tool calls
    and results, images and files, exactly as the credit hold's prompt estimate counts them."""
    return estimate.message_tokens(message)


def _tool_call_ids(message: JSON) -> list[str]:
    """The ids of an assistant message's tool calls (none for anything malformed)."""
    calls = message.get("tool_calls")
    if not isinstance(calls, list) or message.get("role") != "assistant":
        return []
    return [call["id"] for call in calls if isinstance(call, dict) and isinstance(call.get("id"), str)]


def _group_starts(messages: list[Any]) -> list[int]:
    """Where each group begins (see `turn_groups`), in one pass plus a lookup per tool call."""
    answered_at: dict[str, int] = {}
    for index, message in enumerate(messages):
        if type(message) is dict and message.get("role") == "tool":
            call_id = message.get("tool_call_id")
            if isinstance(call_id, str):
                answered_at[call_id] = index  # the last answer, if a call is answered twice
    starts: list[int] = []
    end = -1  # the last index of the current group
    for index, message in enumerate(messages):
        if index > end:
            starts.append(index)
            end = index
        if answered_at and type(message) is dict and message.get("tool_calls"):
            for call_id in _tool_call_ids(message):  # a call inside a group can stretch it further
                answer = answered_at.get(call_id, -1)
                if answer > end:
                    end = answer
    return starts


def turn_groups(messages: list[Any]) -> list[list[Any]]:
    """The history cut into groups that are never split: an assistant message with tool calls
    together with the tool messages answering them (by `tool_call_id`), and every other message
    alone. Order is kept: when something else sits between a call and its result, the group spans
    it too, rather than move the result. A tool message answering no earlier call stays alone."""
    if not isinstance(messages, list):
        return []
    starts = _group_starts(messages)
    return [messages[start:stop] for start, stop in zip(starts, [*starts[1:], len(messages)], strict=False)]


def _is_orphan_tool(message: Any) -> bool:
    return type(message) is dict and message.get("role") == "tool"


def trim_history(earlier: list[Any], *, budget: int, cost: Callable[[Any], int] | None = None,
                 costs: Sequence[int] | None = None) -> Trimmed:
    """Keep the newest groups of `earlier` whose tokens fit in `budget`, drop the older ones.

    A group is never split, the kept part never starts with a tool message answering a call that
    was dropped (providers refuse those), and the kept part is a contiguous newest suffix (an
    older group is not kept once a newer one did not fit: a hole in the middle would read as a
    different conversation). `cost` prices a message (default: `message_tokens`); a caller that
    counted them already passes `costs` instead, one per message of `earlier`."""
    if not isinstance(earlier, list):
        return Trimmed([], [], 0)
    if not isinstance(budget, int) or isinstance(budget, bool) or budget <= 0 or not earlier:
        return Trimmed([], list(earlier), 0)
    if costs is not None and len(costs) != len(earlier):
        raise ValueError("trim_history: one cost per message")
    price = cost or estimate.message_tokens
    starts = _group_starts(earlier)
    stop = len(earlier)
    total = 0
    first = stop  # the first kept message
    kept_starts: list[tuple[int, int]] = []  # (group start, its tokens), newest first
    for start in reversed(starts):
        tokens = 0
        for index in range(start, stop):
            tokens += costs[index] if costs is not None else price(earlier[index])
        if total + tokens > budget:
            break
        total += tokens
        kept_starts.append((start, tokens))
        first = stop = start
    # A group that is a lone tool message answers a call that is not there: never lead with one.
    while kept_starts and _is_orphan_tool(earlier[kept_starts[-1][0]]):
        start, tokens = kept_starts.pop()
        total -= tokens
        first = kept_starts[-1][0] if kept_starts else len(earlier)
    return Trimmed(earlier[first:], earlier[:first], total)


def _count(value: Any) -> int:
    """A non-negative token count from a setting or request field (anything else counts 0)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return 0


def history_budget(context_length: int, *, max_tokens: int, fixed_tokens: int, margin: int) -> int:
    """Tokens left for earlier messages: the context window less the answer's room, a safety
    margin and what the request itself sends (system prompt, new messages, tools); never below 0."""
    return max(0, _count(context_length) - _count(max_tokens) - _count(margin) - _count(fixed_tokens))


def _positive_length(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value) <= 12:
        value = int(value.strip())
    if isinstance(value, int) and 0 < value <= MAX_CONTEXT_LENGTH:
        return value
    return None


def context_length_of(entry: JSON | None, default: int) -> int:
    """A model's context window from a provider's model-list entry (OpenRouter's
    `context_length` and `top_provider.context_length`, `context_window`, vLLM's `max_model_len`,
    Gemini's `inputTokenLimit`, Anthropic's `max_input_tokens`...): the smallest sensible figure
    given (a positive integer, at most 10M), since the request must fit whichever applies; else
    `default`."""
    if not isinstance(entry, dict):
        return default
    found: list[int] = []
    for source in (entry, *(entry.get(key) for key in _NESTED_KEYS)):
        if isinstance(source, dict):
            for key in _CONTEXT_KEYS:
                length = _positive_length(source.get(key))
                if length is not None:
                    found.append(length)
    return min(found) if found else default
