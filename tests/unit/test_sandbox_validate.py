"""Sandbox validation details that are cheaper to pin down without HTTP: model gating, tool_choice shapes,
content parts per role, and the tool-call/tool-result pairing rule."""

from __future__ import annotations

from typing import Any

import pytest

from gatewayz.providers.sandbox import (
    CHAT_MODELS,
    EMBEDDING_MODELS,
    IMAGE_MODELS,
    SandboxError,
    sandbox_models,
    simulate_chat,
    simulate_chat_stream,
    simulate_embeddings,
)
from tests.unit.sandbox_helpers import chat, user

FUNCS: list[Any] = [
    {"type": "function", "function": {"name": "alpha"}},
    {"type": "function", "function": {"name": "beta"}},
]


def _error(fn: Any, body: dict[str, Any]) -> SandboxError:
    with pytest.raises(SandboxError) as err:
        fn(body) if fn is simulate_embeddings else fn(body, response_id="x", created=0)
    return err.value


def test_every_advertised_model_is_usable_on_its_endpoint_and_nothing_else_is() -> None:
    assert sorted(sandbox_models()) == sorted(CHAT_MODELS + EMBEDDING_MODELS + IMAGE_MODELS)  # images: images/
    for model in CHAT_MODELS:
        assert chat(user("hi", model=model))["model"] == model
        assert _error(simulate_embeddings, {"model": model, "input": "hi"}).status == 400
    for model in EMBEDDING_MODELS:
        assert simulate_embeddings({"model": model, "input": "hi"})["model"] == model
        assert _error(simulate_chat, user("hi", model=model)).status == 400
    for model in ("gpt-4o", "openai/gpt-4o", "sandbox/Chat", "sandbox/chat "):
        for fn in (simulate_chat, simulate_chat_stream):
            err = _error(fn, user("hi", model=model))
            assert (err.status, err.code, err.param) == (404, "model_not_found", "model")
        err = _error(simulate_embeddings, {"model": model, "input": "hi"})
        assert (err.status, err.code) == (404, "model_not_found")


def test_allowed_tools_restricts_which_function_is_called() -> None:
    choice = {"type": "allowed_tools", "allowed_tools": {"mode": "required",
                                                         "tools": [{"type": "function", "function": {"name": "beta"}}]}}
    calls = chat(user("hi", tools=FUNCS, tool_choice=choice))["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["beta"]
    choice["allowed_tools"]["tools"] = [{"type": "function", "function": {"name": "gamma"}}]
    err = _error(simulate_chat, user("hi", tools=FUNCS, tool_choice=choice))
    assert err.param == "tool_choice.allowed_tools.tools[0]"


def test_a_forced_custom_tool_is_accepted_and_answered_in_text() -> None:
    tools = [*FUNCS, {"type": "custom", "custom": {"name": "grep"}}]
    choice = {"type": "custom", "custom": {"name": "grep"}}
    result = chat(user("hi", tools=tools, tool_choice=choice))
    assert result["choices"][0]["finish_reason"] == "stop"
    choice["custom"]["name"] = "sed"
    assert _error(simulate_chat, user("hi", tools=tools, tool_choice=choice)).param == "tool_choice"


@pytest.mark.parametrize(
    ("message", "param", "code"),
    [
        ({"role": "user", "content": None}, "messages[0].content", "invalid_type"),
        ({"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA"}}]},
         "messages[0].content[0].input_audio.format", "missing_required_parameter"),
        ({"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA", "format": "ogg"}}]},
         "messages[0].content[0].input_audio.format", "invalid_value"),
        ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u", "detail": "max"}}]},
         "messages[0].content[0].image_url.detail", "invalid_value"),
        ({"role": "developer", "content": [{"type": "refusal", "refusal": "no"}]},
         "messages[0].content[0].type", "invalid_value"),
        ({"role": "user", "content": "hi", "name": 3}, "messages[0].name", "invalid_type"),
    ],
)  # fmt: skip
def test_content_parts_follow_the_role(message: dict[str, Any], param: str, code: str) -> None:
    err = _error(simulate_chat, {"model": "sandbox/chat", "messages": [message]})
    assert (err.status, err.param, err.code) == (400, param, code)


def test_tool_results_must_answer_every_call_of_the_previous_assistant_turn() -> None:
    calls = [
        {"id": f"call_{i}", "type": "function", "function": {"name": "alpha", "arguments": "{}"}} for i in (1, 2)
    ]
    turn = [{"role": "user", "content": "go"}, {"role": "assistant", "content": None, "tool_calls": calls}]
    one = {"role": "tool", "tool_call_id": "call_1", "content": "a"}
    two = {"role": "tool", "tool_call_id": "call_2", "content": "b"}
    assert chat({"model": "sandbox/chat", "tools": FUNCS, "messages": [*turn, two, one]})["choices"]
    err = _error(simulate_chat, {"model": "sandbox/chat", "tools": FUNCS, "messages": [*turn, one]})
    assert err.param == "messages.[1].role" and "call_2" in err.message
    err = _error(simulate_chat, {"model": "sandbox/chat", "tools": FUNCS, "messages": [*turn, one, *turn[:1], two]})
    assert err.param == "messages.[1].role"
