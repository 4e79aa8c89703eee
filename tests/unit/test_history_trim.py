"""Trimming earlier messages to the context window: groups, budgets, hostile input, context lengths."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from gatewayz.history.trim import (
    MAX_CONTEXT_LENGTH,
    Trimmed,
    context_length_of,
    history_budget,
    message_tokens,
    trim_history,
    turn_groups,
)
from gatewayz.inference.estimate import BASE_TOKENS, prompt_tokens

JSON = dict[str, Any]


def user(text: str) -> JSON:
    return {"role": "user", "content": text}


def assistant(text: str) -> JSON:
    return {"role": "assistant", "content": text}


def calls(*ids: str) -> JSON:
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": i, "type": "function", "function": {"name": "lookup", "arguments": f'{{"q": "{i}"}}'}} for i in ids]}


def result(call_id: str, text: str = "42 degrees and sunny") -> JSON:
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def cost(messages: list[Any]) -> int:
    return sum(message_tokens(m) for m in messages)


def test_message_tokens_is_the_prompt_estimate_of_the_message() -> None:
    image = {"role": "user", "content": [{"type": "text", "text": "what is this"},
                                         {"type": "image_url", "image_url": {"url": "https://e.com/a.png"}}]}
    for message in (user("hello there"), calls("c1", "c2"), result("c1"), image,
                    {"role": "user", "name": "ann", "content": "hi"}, {"role": "custom-role", "content": "x"}):
        assert message_tokens(message) + BASE_TOKENS == prompt_tokens("chat", {"messages": [message]})
    assert message_tokens(image) > 3000  # an image of unknown size is priced as one, not as its URL
    assert message_tokens(calls("c1")) > message_tokens({"role": "assistant", "content": None})


def test_groups_keep_tool_calls_with_their_results_and_everything_else_alone() -> None:
    history = [user("weather?"), calls("a", "b"), result("a"), result("b"), assistant("sunny"),
               user("and tomorrow?"), calls("c"), result("c"), assistant("rain")]
    groups = turn_groups(history)
    assert groups == [[history[0]], history[1:4], [history[4]], [history[5]], history[6:8], [history[8]]]
    assert [m for g in groups for m in g] == history  # nothing lost, nothing reordered


def test_a_group_spans_whatever_sits_between_a_call_and_its_result() -> None:
    # A result that comes after another message still belongs with its call: the group stretches
    # (a call inside the stretch can stretch it further) rather than move the result.
    history = [calls("a"), user("hurry"), calls("b"), result("a"), assistant("ok"), result("b"), user("next")]
    assert turn_groups(history) == [history[:6], [history[6]]]


def test_unanswered_calls_and_orphan_results_are_their_own_groups() -> None:
    history = [result("nobody-called-me"), calls("never-answered"), user("hi"), result("x"), calls("x")]
    assert turn_groups(history) == [[m] for m in history]  # an answer before its call is no answer


def test_the_newest_groups_that_fit_are_kept_in_order() -> None:
    history = [user("one"), assistant("two"), calls("a"), result("a"), assistant("three"), user("four")]
    everything = cost(history)
    assert trim_history(history, budget=everything) == Trimmed(history, [], everything)
    assert trim_history(history, budget=10**9) == Trimmed(history, [], everything)
    # one token short: the oldest message goes
    trimmed = trim_history(history, budget=everything - 1)
    assert trimmed.kept == history[1:] and trimmed.dropped == history[:1]
    assert trimmed.kept_tokens == cost(history[1:]) <= everything - 1
    # just room for the newest two and the tool group: all of it, or none of it
    tail = cost(history[2:])
    assert trim_history(history, budget=tail).kept == history[2:]
    assert trim_history(history, budget=tail - 1).kept == history[4:]


def test_the_tool_group_is_never_split() -> None:
    history = [user("weather in Paris and Rome?"), calls("p", "r"), result("p", "x" * 400), result("r", "y" * 400),
               user("thanks")]
    for budget in range(0, cost(history) + 2):
        kept = trim_history(history, budget=budget).kept
        assert kept in (history[4:], history[1:], history, []), budget
        assert sum(message_tokens(m) for m in kept) <= budget


def test_a_kept_part_never_starts_with_an_orphan_tool_message() -> None:
    # The stored history has a tool result whose call was trimmed away long ago (or never existed).
    history = [user("old"), result("gone", "orphaned result"), user("new question"), assistant("answer")]
    trimmed = trim_history(history, budget=cost(history[1:]))
    assert trimmed.kept == history[2:] and trimmed.dropped == history[:2]
    assert trimmed.kept_tokens == cost(history[2:])
    only_orphans = [result("gone"), result("also gone")]
    assert trim_history(only_orphans, budget=10**6) == Trimmed([], only_orphans, 0)


def test_a_budget_of_zero_or_less_or_nonsense_keeps_nothing() -> None:
    history = [user("a"), assistant("b")]
    for budget in (0, -5, None, "100", True, 1.5):
        assert trim_history(history, budget=budget) == Trimmed([], history, 0)  # type: ignore[arg-type]
    assert trim_history([], budget=100) == Trimmed([], [], 0)
    assert trim_history(history, budget=1) == Trimmed([], history, 0)  # smaller than any message


def test_a_caller_can_price_messages_itself() -> None:
    history = [user("a"), calls("c"), result("c"), user("b")]
    assert trim_history(history, budget=3, cost=lambda m: 1) == Trimmed(history[1:], history[:1], 3)


HOSTILE: list[Any] = [
    None, 7, "a bare string", ["nested", "list"], {}, {"role": None}, {"content": "no role"},
    {"role": "assistant", "tool_calls": "not a list"}, {"role": "assistant", "tool_calls": [None, 5, {"id": 9}]},
    {"role": "assistant", "tool_calls": [{"id": "h1"}], "content": {"weird": True}},
    {"role": "tool", "tool_call_id": 12, "content": None}, {"role": "tool", "tool_call_id": "h1"},
    {"role": "tool"}, {"role": "user", "content": [None, 3, {"type": "image_url"}, {"type": "text"}]},
    {"role": "user", "content": "x", "extra": 2**80}, {"role": 5, "content": "role is a number"},
    {"role": "user", "content": "\ud800 lone surrogate"},
]


def test_hostile_messages_never_crash() -> None:
    for message in HOSTILE:
        assert message_tokens(message) >= 1
    groups = turn_groups(HOSTILE)
    assert [m for g in groups for m in g] == HOSTILE
    assert [HOSTILE[7]] in groups and HOSTILE[9:12] in groups  # only well-formed ids pair up
    for budget in (0, 1, 50, 500, 10**6):
        trimmed = trim_history(HOSTILE, budget=budget)
        assert trimmed.dropped + trimmed.kept == HOSTILE
        assert trimmed.kept_tokens == cost(trimmed.kept) <= budget
    assert turn_groups("not a list") == [] and trim_history({"a": 1}, budget=10) == Trimmed([], [], 0)  # type: ignore[arg-type]


def _random_history(rng: random.Random, size: int) -> list[JSON]:
    history: list[JSON] = []
    pending: list[str] = []
    for n in range(size):
        roll = rng.random()
        if pending and roll < 0.5:
            history.append(result(pending.pop(rng.randrange(len(pending))), "r" * rng.randrange(1, 200)))
        elif roll < 0.65:
            ids = [f"call_{n}_{k}" for k in range(rng.randrange(1, 4))]
            history.append(calls(*ids))
            pending += ids
        elif roll < 0.7:
            history.append(result(f"stray_{n}"))
        else:
            history.append((user, assistant)[n % 2]("w " * rng.randrange(1, 300)))
    return history


def test_invariants_over_random_histories() -> None:
    rng = random.Random(1234)
    for _ in range(300):
        history = _random_history(rng, rng.randrange(0, 40))
        budget = rng.randrange(-10, max(1, cost(history)) + 50)
        trimmed = trim_history(history, budget=budget)
        assert trimmed.dropped + trimmed.kept == history  # a newest suffix, order kept
        assert trimmed.kept_tokens == cost(trimmed.kept) <= max(budget, 0)
        if trimmed.kept:
            assert trimmed.kept[0]["role"] != "tool"
        kept_ids = {id(m) for m in trimmed.kept}
        for group in turn_groups(history):  # whole groups only
            assert len({id(m) in kept_ids for m in group}) == 1
        # maximal: the next older group did not fit (unless it was an orphan result, dropped anyway)
        groups = turn_groups(trimmed.dropped)
        if groups and budget > 0:
            older = groups[-1]
            is_orphan = len(older) == 1 and older[0]["role"] == "tool"
            assert is_orphan or trimmed.kept_tokens + cost(older) > budget


def _fifty() -> list[JSON]:
    history: list[JSON] = []
    for n in range(50):
        if n % 10 == 7:
            history.append(calls(f"call_{n}"))
        elif n % 10 == 8:
            history.append(result(f"call_{n - 1}", "The forecast for the harbour: " * 8))
        else:
            history.append((user, assistant)[n % 2](f"Message {n}: " + "a sentence about the lighthouse. " * 10))
    return history


def test_trimming_fifty_messages_is_cheap() -> None:
    """The issue's budget for injecting a 50-message history is 1 ms; trimming (pricing every
    message, grouping) takes a small part of it. CPU time, best of several batches, so a busy
    machine does not fail it."""
    history = _fifty()
    for budget in (10**6, cost(history) // 2):
        best = float("inf")
        for _ in range(15):
            started = time.process_time()
            for _ in range(40):
                trim_history(history, budget=budget)
            best = min(best, (time.process_time() - started) / 40)
        assert best < 300e-6, f"{best * 1e6:.1f} µs to trim 50 messages"


def test_history_budget() -> None:
    assert history_budget(128_000, max_tokens=4_096, fixed_tokens=1_000, margin=256) == 128_000 - 4_096 - 1_000 - 256
    assert history_budget(8_192, max_tokens=8_000, fixed_tokens=500, margin=256) == 0  # floored
    assert history_budget(1_000, max_tokens=0, fixed_tokens=0, margin=0) == 1_000
    # nonsense counts as nothing (a negative max_tokens cannot give history more room)
    assert history_budget(1_000, max_tokens=-500, fixed_tokens=None, margin=True) == 1_000  # type: ignore[arg-type]
    assert history_budget("1000", max_tokens=1, fixed_tokens=1, margin=1) == 0  # type: ignore[arg-type]


@pytest.mark.parametrize(("entry", "expected"), [
    ({"id": "openai/gpt-4o", "context_length": 128_000, "top_provider": {"context_length": 128_000}}, 128_000),
    ({"id": "x", "context_length": None, "top_provider": {"context_length": 65_536}}, 65_536),  # OpenRouter
    ({"id": "x", "context_length": 200_000, "top_provider": {"context_length": 64_000}}, 64_000),  # the smaller
    ({"id": "llama-3.3-70b-versatile", "context_window": 131_072}, 131_072),  # Groq
    ({"id": "Qwen/Qwen2.5-7B", "max_model_len": 32_768}, 32_768),  # vLLM
    ({"name": "models/gemini-2.0-flash", "inputTokenLimit": 1_048_576, "outputTokenLimit": 8192}, 1_048_576),
    ({"id": "claude-sonnet-4-5", "max_input_tokens": 200_000, "max_tokens": 64_000}, 200_000),  # Anthropic
    ({"id": "mistral-large-latest", "max_context_length": 131_072}, 131_072),  # Mistral
    ({"id": "model.gguf", "meta": {"n_ctx_train": 8_192}}, 8_192),  # llama.cpp
    ({"id": "x", "context_length": 8192.0}, 8_192),
    ({"id": "x", "context_length": " 4096 "}, 4_096),
    ({"id": "x", "context_length": 0}, 4_000),
    ({"id": "x", "context_length": -1}, 4_000),
    ({"id": "x", "context_length": True}, 4_000),
    ({"id": "x", "context_length": 1.5}, 4_000),
    ({"id": "x", "context_length": float("inf")}, 4_000),
    ({"id": "x", "context_length": float("nan")}, 4_000),
    ({"id": "x", "context_length": "lots"}, 4_000),
    ({"id": "x", "context_length": "9" * 5000}, 4_000),
    ({"id": "x", "context_length": MAX_CONTEXT_LENGTH + 1}, 4_000),
    ({"id": "x", "context_length": MAX_CONTEXT_LENGTH}, MAX_CONTEXT_LENGTH),
    ({"id": "x", "context_length": [128_000]}, 4_000),
    ({"id": "x", "top_provider": "not an object"}, 4_000),
    ({"id": "no window given"}, 4_000),
    ({}, 4_000),
    (None, 4_000),
    ("not an entry", 4_000),
])
def test_context_length_of(entry: Any, expected: int) -> None:
    assert context_length_of(entry, 4_000) == expected
