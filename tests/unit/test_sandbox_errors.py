"""Sandbox error/delay markers and request validation."""

from __future__ import annotations

from typing import Any

import pytest

from gatewayz.providers.sandbox import (
    MAX_DELAY_MS,
    SandboxError,
    requested_delay_ms,
    simulate_chat,
    simulate_chat_stream,
)
from tests.unit.sandbox_helpers import TOOLS, chat, user

# ---------------------------------------------------------------------------------------------
# errors and delays on request


@pytest.mark.parametrize(
    ("status", "type_", "code"),
    [
        (400, "invalid_request_error", None),
        (401, "authentication_error", "invalid_api_key"),
        (403, "permission_error", "permission_denied"),
        (404, "invalid_request_error", "model_not_found"),
        (429, "rate_limit_error", "rate_limit_exceeded"),
        (500, "server_error", None),
        (503, "server_error", "service_unavailable"),
        (418, "invalid_request_error", None),
        (599, "server_error", None),
    ],
)
def test_error_marker_raises(status: int, type_: str, code: str | None) -> None:
    body = user(f"Please fail [[sandbox:error={status}]]")
    for fn in (simulate_chat, simulate_chat_stream):
        with pytest.raises(SandboxError) as err:
            fn(body, response_id="x", created=0)
        assert (err.value.status, err.value.type, err.value.code) == (status, type_, code)
        assert err.value.to_dict() == {
            "error": {"message": err.value.message, "type": type_, "param": None, "code": code}
        }
        assert str(status) in err.value.message


def test_error_marker_only_counts_in_the_last_user_message() -> None:
    body = {
        "model": "sandbox/chat",
        "messages": [
            {"role": "user", "content": "fail [[sandbox:error=500]]"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "now succeed"},
        ],
    }
    assert chat(body)["choices"][0]["finish_reason"] == "stop"


def test_error_marker_outside_http_error_range_is_a_400() -> None:
    with pytest.raises(SandboxError) as err:
        simulate_chat(user("[[sandbox:error=200]]"), response_id="x", created=0)
    assert err.value.status == 400 and err.value.param == "messages"


def test_validation_runs_before_error_markers() -> None:
    body = {"model": "sandbox/chat", "messages": [{"role": "user", "content": "[[sandbox:error=500]]"}], "n": 0}
    with pytest.raises(SandboxError) as err:
        simulate_chat(body, response_id="x", created=0)
    assert (err.value.status, err.value.param) == (400, "n")


def test_requested_delay_ms() -> None:
    assert requested_delay_ms(user("slow [[sandbox:delay_ms=250]]")) == 250
    assert requested_delay_ms(user("fast")) == 0
    assert requested_delay_ms(user("[[sandbox:delay_ms=99999999]]")) == MAX_DELAY_MS
    assert requested_delay_ms({"model": "sandbox/embed", "input": ["a", "b [[sandbox:delay_ms=40]]"]}) == 40
    assert requested_delay_ms(None) == 0
    assert requested_delay_ms({"messages": "garbage"}) == 0
    earlier = {
        "model": "m",
        "messages": [{"role": "user", "content": "[[sandbox:delay_ms=9]]"}, {"role": "user", "content": "x"}],
    }
    assert requested_delay_ms(earlier) == 0
    # the marker does not change the answer's text apart from the echo, and is never echoed
    content = chat(user("slow [[sandbox:delay_ms=250]]"))["choices"][0]["message"]["content"]
    assert "delay_ms" not in content


# ---------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "sandbox/chat"}, "messages"),
        ({"model": "sandbox/chat", "messages": []}, "messages"),
        ({"model": "sandbox/chat", "messages": "hi"}, "messages"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "sandbox/chat", "messages": [{"content": "hi"}]}, "messages[0].role"),
        ({"model": "sandbox/chat", "messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"model": "sandbox/chat", "messages": ["hi"]}, "messages[0]"),
        ({"model": "sandbox/chat", "messages": [{"role": "user"}]}, "messages[0].content"),
        ({"model": "sandbox/chat", "messages": [{"role": "user", "content": [{"type": "text"}]}]},
         "messages[0].content[0].text"),
        ({"model": "sandbox/chat", "messages": [{"role": "assistant", "content": None}]}, "messages[0].content"),
        ({"model": "sandbox/chat", "messages": [{"role": "tool", "content": "42"}]}, "messages[0].tool_call_id"),
        ({**user("hi"), "n": 0}, "n"),
        ({**user("hi"), "n": True}, "n"),
        ({**user("hi"), "max_tokens": 0}, "max_tokens"),
        ({**user("hi"), "max_completion_tokens": "5"}, "max_completion_tokens"),
        ({**user("hi"), "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({**user("hi"), "top_logprobs": 2}, "top_logprobs"),
        ({**user("hi"), "logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ({**user("hi"), "seed": "7"}, "seed"),
        ({**user("hi"), "tool_choice": "auto"}, "tool_choice"),
        ({**user("hi"), "tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
         "tool_choice"),
        ({**user("hi"), "tools": [{"type": "function", "function": {"name": "bad name!"}}]},
         "tools[0].function.name"),
        ({**user("hi"), "response_format": {"type": "yaml"}}, "response_format.type"),
        ({**user("hi"), "response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
         "response_format.json_schema.name"),
    ],
)  # fmt: skip
def test_invalid_chat_requests_are_400(body: dict[str, Any], param: str) -> None:
    for fn in (simulate_chat, simulate_chat_stream):
        with pytest.raises(SandboxError) as err:
            fn(body, response_id="x", created=0)
        assert err.value.status == 400
        assert err.value.type == "invalid_request_error"
        assert err.value.param == param
        assert err.value.to_dict()["error"]["param"] == param
