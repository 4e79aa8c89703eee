"""Sandbox chat completions: models, determinism, response shape, usage, max_tokens/stop/logprobs and the
tokenizer.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayz.providers.sandbox import SANDBOX_PROVIDER, sandbox_models, simulate_chat
from gatewayz.providers.sandbox_common import tokenize
from tests.unit.sandbox_helpers import TOOLS, chat, user

# ---------------------------------------------------------------------------------------------
# models, determinism, basic shape


def test_provider_name_and_models() -> None:
    models = sandbox_models()
    assert SANDBOX_PROVIDER == "sandbox"
    assert {"sandbox/chat", "sandbox/chat-large", "sandbox/embed"} <= set(models)
    assert all(m.startswith("sandbox/") for m in models)
    models.append("mutated")
    assert "mutated" not in sandbox_models()  # callers get a copy, not the registry


def test_basic_completion_shape_and_echo() -> None:
    result = chat(user("What is the capital of France?", model="sandbox/chat-mini"), rid="chatcmpl-abc", created=42)
    assert result["id"] == "chatcmpl-abc"
    assert result["created"] == 42
    assert result["object"] == "chat.completion"
    assert result["model"] == "sandbox/chat-mini"  # the requested sandbox model is reported back
    [choice] = result["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["logprobs"] is None
    message = choice["message"]
    assert message["role"] == "assistant"
    assert "What is the capital of France?" in message["content"]
    assert "tool_calls" not in message
    assert result["system_fingerprint"].startswith("fp_")


def test_usage_is_consistent() -> None:
    result = chat(user("Count my tokens please."))
    usage = result["usage"]
    content = result["choices"][0]["message"]["content"]
    assert usage["completion_tokens"] == len(tokenize(content))
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] > 0
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0


def test_prompt_tokens_grow_with_text_and_tool_definitions() -> None:
    short = chat(user("hi"))["usage"]["prompt_tokens"]
    long = chat(user("hi " * 400))["usage"]["prompt_tokens"]
    assert long - short >= 250  # ~4 characters per token: 1200 more characters
    with_tools = chat(user("hi", tools=TOOLS, tool_choice="none"))["usage"]["prompt_tokens"]
    assert with_tools - short >= len(json.dumps(TOOLS)) // 5


def test_deterministic_apart_from_id_and_created() -> None:
    body = user("Tell me something deterministic.", n=2, logprobs=True, top_logprobs=3)
    first = simulate_chat(copy.deepcopy(body), response_id="a", created=1)
    second = simulate_chat(copy.deepcopy(body), response_id="b", created=2)
    assert (first["id"], first["created"]) == ("a", 1)
    assert (second["id"], second["created"]) == ("b", 2)
    first.update(id="x", created=0)
    second.update(id="x", created=0)
    assert json.dumps(first) == json.dumps(second)
    assert body == user("Tell me something deterministic.", n=2, logprobs=True, top_logprobs=3)  # not mutated


def test_key_order_of_request_does_not_matter() -> None:
    a = {"model": "sandbox/chat", "seed": 7, "messages": [{"role": "user", "content": "order"}]}
    b = {"messages": [{"content": "order", "role": "user"}], "seed": 7, "model": "sandbox/chat"}
    assert simulate_chat(a, response_id="i", created=0) == simulate_chat(b, response_id="i", created=0)


def test_seed_is_accepted_and_varies_output() -> None:
    contents = {chat(user("Vary me", seed=seed))["choices"][0]["message"]["content"] for seed in range(10)}
    assert len(contents) >= 2
    again = chat(user("Vary me", seed=3))["choices"][0]["message"]["content"]
    assert again == chat(user("Vary me", seed=3))["choices"][0]["message"]["content"]


def test_n_choices() -> None:
    result = chat(user("Give me options", n=3))
    assert [c["index"] for c in result["choices"]] == [0, 1, 2]
    total = sum(len(tokenize(c["message"]["content"])) for c in result["choices"])
    assert result["usage"]["completion_tokens"] == total


def test_multimodal_content_parts_and_markers_are_not_echoed() -> None:
    body = {
        "model": "sandbox/chat",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe this picture [[sandbox:delay_ms=5]]"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                ],
            },
        ],
    }
    result = chat(body)
    content = result["choices"][0]["message"]["content"]
    assert "Describe this picture" in content
    assert "[[sandbox" not in content
    text_only = chat({**body, "messages": [body["messages"][0], user("Describe this picture")["messages"][0]]})
    assert result["usage"]["prompt_tokens"] >= text_only["usage"]["prompt_tokens"] + 85  # image counted


# ---------------------------------------------------------------------------------------------
# max_tokens, stop, logprobs


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_truncates_with_length(field: str) -> None:
    full = chat(user("Please write a long answer"))["choices"][0]["message"]["content"]
    result = chat(user("Please write a long answer", **{field: 5}))
    choice = result["choices"][0]
    assert choice["finish_reason"] == "length"
    assert result["usage"]["completion_tokens"] == 5
    assert full.startswith(choice["message"]["content"])
    assert len(choice["message"]["content"]) < len(full)


def test_max_tokens_larger_than_answer_is_a_normal_stop() -> None:
    result = chat(user("Short", max_tokens=10_000))
    assert result["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("stop", ["sandbox", ["zzz-never", "sandbox"]])
def test_stop_sequence_cuts_before_it(stop: str | list[str]) -> None:
    full = chat(user("Stop early"))["choices"][0]["message"]["content"]
    assert "sandbox" in full
    result = chat(user("Stop early", stop=stop))
    content = result["choices"][0]["message"]["content"]
    assert content == full[: full.index("sandbox")]
    assert result["choices"][0]["finish_reason"] == "stop"
    assert result["usage"]["completion_tokens"] == len(tokenize(content))


def test_logprobs_per_token() -> None:
    result = chat(user("Show logprobs", logprobs=True, top_logprobs=3))
    choice = result["choices"][0]
    entries = choice["logprobs"]["content"]
    assert "".join(e["token"] for e in entries) == choice["message"]["content"]
    assert len(entries) == result["usage"]["completion_tokens"]
    for entry in entries:
        assert entry["logprob"] <= 0
        assert bytes(entry["bytes"]).decode("utf-8") == entry["token"]
        assert len(entry["top_logprobs"]) == 3
        assert entry["top_logprobs"][0]["token"] == entry["token"]
        values = [t["logprob"] for t in entry["top_logprobs"]]
        assert values == sorted(values, reverse=True)
        assert len({t["token"] for t in entry["top_logprobs"]}) == 3
    without_top = chat(user("Show logprobs", logprobs=True))["choices"][0]["logprobs"]["content"]
    assert all(e["top_logprobs"] == [] for e in without_top)


# ---------------------------------------------------------------------------------------------
# tokenizer properties


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(max_size=200))
def test_tokenize_round_trips_any_text(text: str) -> None:
    tokens = tokenize(text)
    assert "".join(tokens) == text
    assert all(tokens)
