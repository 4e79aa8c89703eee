"""Messages face, answers and errors: chat.completion -> Anthropic Message, gateway errors ->
Anthropic's error shape. The official SDK is the judge: its pydantic types validate every object,
and its client (over an in-process transport) parses them and picks the exception class."""

from __future__ import annotations

from typing import Any

import httpx2
import orjson
import pytest
from anthropic import Anthropic
from anthropic import _exceptions as sdk_errors
from anthropic.types import Message
from anthropic.types.shared import ErrorResponse

from gatewayz.inference.faces.base import FaceContext
from gatewayz.inference.faces.messages_answer import anthropic_usage, render_message
from gatewayz.inference.faces.messages_errors import anthropic_error, error_event

CTX = FaceContext(response_id="msg_01gateway", model="claude-sonnet-4-5", created=1_700_000_000, request={})


def completion(message: dict[str, Any], finish_reason: str | None = "stop",
               usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "upstream-model",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "logprobs": None,
                     "finish_reason": finish_reason}],
        "usage": usage if usage is not None else {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    }  # fmt: skip


def sdk_message(answer: dict[str, Any]) -> Message:
    return Message.model_validate(answer)


def test_text_answer() -> None:
    answer = render_message(completion({"content": "Hello!", "refusal": None}), CTX)
    assert answer == {
        "id": "msg_01gateway", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "Hello!"}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                  "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                  "output_tokens": 5, "service_tier": None},
    }  # fmt: skip
    assert sdk_message(answer).content[0].text == "Hello!"


def test_thinking_text_and_tool_use_blocks_in_anthropic_order() -> None:
    answer = render_message(completion({
        "content": "Let me look.",
        "reasoning_content": "Need the weather tool.",
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "noop", "arguments": ""}},
            {"id": "call_3", "type": "function", "function": {"name": "bad", "arguments": '{"city": "Par'}},
            {"id": "call_4", "type": "function", "function": {"name": "list", "arguments": "[1, 2]"}},
            {"type": "function", "function": {"name": "anon", "arguments": "{}"}},
        ],
    }, finish_reason="tool_calls"), CTX)
    message = sdk_message(answer)
    assert [block.type for block in message.content] == ["thinking", "text"] + ["tool_use"] * 5
    assert message.content[0].thinking == "Need the weather tool." and message.content[0].signature == ""
    tools = answer["content"][2:]
    assert [tool["input"] for tool in tools] == [{"city": "Paris"}, {}, {"_raw": '{"city": "Par'}, {"_raw": "[1, 2]"},
                                                 {}]
    assert [tool["id"] for tool in tools[:4]] == ["call_1", "call_2", "call_3", "call_4"]
    assert tools[4]["id"].startswith("toolu_") and len(tools[4]["id"]) > 10
    assert message.stop_reason == "tool_use"


def test_reasoning_field_is_used_when_reasoning_content_is_absent() -> None:
    answer = render_message(completion({"content": "4", "reasoning": "2+2"}), CTX)
    assert answer["content"][0] == {"type": "thinking", "thinking": "2+2", "signature": ""}
    both = render_message(completion({"content": "4", "reasoning": "same", "reasoning_content": "same"}), CTX)
    assert [block["type"] for block in both["content"]] == ["thinking", "text"]


@pytest.mark.parametrize(("finish", "stop"), [
    ("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("function_call", "tool_use"),
    ("content_filter", "refusal"), (None, "end_turn"), ("something_new", "end_turn"),
])  # fmt: skip
def test_stop_reasons(finish: str | None, stop: str) -> None:
    answer = render_message(completion({"content": "x"}, finish_reason=finish), CTX)
    assert sdk_message(answer).stop_reason == stop


def test_tool_calls_with_a_stop_finish_are_tool_use_and_length_stays_max_tokens() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert render_message(completion({"tool_calls": [call]}, "stop"), CTX)["stop_reason"] == "tool_use"
    assert render_message(completion({"tool_calls": [call]}, "length"), CTX)["stop_reason"] == "max_tokens"


def test_refusal_is_text_with_a_refusal_stop_reason() -> None:
    answer = render_message(completion({"content": None, "refusal": "I can't help with that."}), CTX)
    assert answer["content"] == [{"type": "text", "text": "I can't help with that."}]
    assert sdk_message(answer).stop_reason == "refusal"


def test_empty_answer_has_empty_content() -> None:
    answer = render_message(completion({"content": ""}), CTX)
    assert sdk_message(answer).content == []


def test_content_as_parts() -> None:
    answer = render_message(completion({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}),
                            CTX)
    assert answer["content"] == [{"type": "text", "text": "ab"}]


def test_junk_completions_still_render_valid_messages() -> None:
    for junk in ({}, {"choices": []}, {"choices": [None]}, {"choices": [{"message": "x"}]},
                 {"choices": [{"message": {"tool_calls": [None, {"function": "x"}, {"id": 3, "function": {}}]}}]},
                 {"choices": "x", "usage": "y"}):
        assert sdk_message(render_message(junk, CTX)).role == "assistant"


def test_usage_separates_cache_reads_and_writes_and_keeps_cost() -> None:
    usage = anthropic_usage({
        "prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050, "cost": 0.0123,
        "prompt_tokens_details": {"cached_tokens": 600, "cache_write_tokens": 300},
        "completion_tokens_details": {"reasoning_tokens": 20},
    })
    assert usage == {
        "input_tokens": 100, "cache_creation_input_tokens": 300, "cache_read_input_tokens": 600,
        "cache_creation": None, "output_tokens": 50, "service_tier": None,
        "output_tokens_details": {"thinking_tokens": 20}, "cost": 0.0123,
    }  # fmt: skip
    chat_usage = {"prompt_tokens": 1000, "completion_tokens": 50, "cost": 0.5,
                  "prompt_tokens_details": {"cached_tokens": 600, "cache_write_tokens": 300}}
    parsed = sdk_message(render_message(completion({"content": "x"}, usage=chat_usage), CTX))
    total = parsed.usage.input_tokens + parsed.usage.cache_read_input_tokens + parsed.usage.cache_creation_input_tokens
    assert total == 1000
    assert parsed.usage.model_extra == {"cost": 0.5}


def test_usage_when_unknown_or_junk() -> None:
    for junk in (None, {}, {"prompt_tokens": "x", "completion_tokens": -3, "prompt_tokens_details": 5}):
        usage = anthropic_usage(junk)
        assert usage["input_tokens"] == 0 and usage["output_tokens"] == 0
    # more cached than prompt (a provider's rounding): never negative
    assert anthropic_usage({"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": 9}})["input_tokens"] == 0


def _sdk_client(status: int, body: bytes, content_type: str = "application/json") -> Anthropic:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, content=body, headers={"content-type": content_type, "request-id": "req_1"})

    return Anthropic(api_key="k", base_url="http://gateway.test", max_retries=0,
                     http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))


def test_the_sdk_client_parses_the_rendered_message() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": [1]}'}}
    answer = render_message(completion({"content": "hi", "tool_calls": [call]}, "tool_calls"), CTX)
    message = _sdk_client(200, orjson.dumps(answer)).messages.create(
        model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert message.id == "msg_01gateway"
    assert message.content[1].input == {"a": [1]}
    assert message.to_param()["content"][1].input == {"a": [1]}


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "openai_type", "wire_status", "anthropic_type", "sdk_class"), [
    (400, "invalid_request_error", 400, "invalid_request_error", sdk_errors.BadRequestError),
    (401, "authentication_error", 401, "authentication_error", sdk_errors.AuthenticationError),
    (402, "insufficient_quota", 402, "billing_error", sdk_errors.PaymentRequiredError),
    (403, "permission_error", 403, "permission_error", sdk_errors.PermissionDeniedError),
    (404, "invalid_request_error", 404, "not_found_error", sdk_errors.NotFoundError),
    (409, "invalid_request_error", 409, "conflict_error", sdk_errors.ConflictError),
    (413, "invalid_request_error", 413, "request_too_large", sdk_errors.ContentTooLargeError),
    (415, "invalid_request_error", 415, "invalid_request_error", sdk_errors.APIStatusError),
    (422, "invalid_request_error", 422, "invalid_request_error", sdk_errors.UnprocessableEntityError),
    (429, "rate_limit_error", 429, "rate_limit_error", sdk_errors.RateLimitError),
    (500, "server_error", 500, "api_error", sdk_errors.InternalServerError),
    (502, "server_error", 502, "api_error", sdk_errors.InternalServerError),
    (503, "server_error", 529, "overloaded_error", sdk_errors.OverloadedError),
    (504, "server_error", 504, "timeout_error", sdk_errors.GatewayTimeoutError),
])  # fmt: skip
def test_errors_map_to_anthropic_types_and_sdk_exceptions(
    status: int, openai_type: str, wire_status: int, anthropic_type: str, sdk_class: type[Exception]
) -> None:
    sent_status, body = anthropic_error(status, "what went wrong", openai_type, "some_code", request_id="req_9")
    assert sent_status == wire_status
    assert body == {"type": "error", "error": {"type": anthropic_type, "message": "what went wrong"},
                    "request_id": "req_9"}
    if anthropic_type not in ("conflict_error", "request_too_large"):  # documented, but not in the SDK's union
        ErrorResponse.model_validate(body)
    with pytest.raises(sdk_class) as caught:
        _sdk_client(sent_status, orjson.dumps(body)).messages.create(
            model="m", max_tokens=1, messages=[{"role": "user", "content": "x"}])
    assert type(caught.value) is sdk_class
    assert caught.value.type == anthropic_type and caught.value.api_message == "what went wrong"


def test_error_body_without_request_id() -> None:
    assert anthropic_error(400, "bad")[1] == {"type": "error", "error": {"type": "invalid_request_error",
                                                                         "message": "bad"}}


@pytest.mark.parametrize(("openai_type", "code", "anthropic_type"), [
    ("server_error", "upstream_error", "api_error"),
    ("server_error", "upstream_timeout", "timeout_error"),
    ("server_error", "internal_error", "api_error"),
    ("server_error", "service_unavailable", "overloaded_error"),
    ("rate_limit_error", "rate_limit_exceeded", "rate_limit_error"),
    ("insufficient_quota", "insufficient_quota", "billing_error"),
    ("overloaded_error", None, "overloaded_error"),
    ("something_else", None, "api_error"),
])  # fmt: skip
def test_error_event_without_status_maps_by_code_then_type(openai_type: str, code: str | None,
                                                           anthropic_type: str) -> None:
    event = error_event(None, "broke off", openai_type, code)
    name, data = event.split(b"\n", 1)
    assert name == b"event: error" and event.endswith(b"\n\n")
    body = orjson.loads(data.removeprefix(b"data: "))
    assert body == {"type": "error", "error": {"type": anthropic_type, "message": "broke off"}}


def test_error_event_with_status() -> None:
    assert b'"overloaded_error"' in error_event(503, "no provider", "server_error", "service_unavailable")
