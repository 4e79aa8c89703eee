"""A `gw_test_` key is refused what a live provider refuses: unknown models, the wrong endpoint for a
model, out-of-range parameters and malformed shapes, as the official SDK's typed errors with `param`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support.clients import inference_key, openai_client

HI: list[Any] = [{"role": "user", "content": "hi"}]
WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CALL: dict[str, Any] = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}


@pytest.fixture(scope="module")
def sandbox_key(gateway: Any, admin: httpx.Client) -> str:
    return inference_key(admin, environment="test")


@pytest.fixture
def sandbox(gateway: Any, sandbox_key: str) -> Iterator[openai.OpenAI]:
    with openai_client(gateway.url, sandbox_key) as sdk:
        yield sdk


def _error(raised: pytest.ExceptionInfo[openai.APIStatusError]) -> dict[str, Any]:
    body = raised.value.response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return dict(body["error"])


def test_unknown_models_are_404_model_not_found(sandbox: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        sandbox.chat.completions.create(model="openai/gpt-4o", messages=HI)
    error = _error(raised)
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "model_not_found", "model")
    assert "`openai/gpt-4o` does not exist" in error["message"] and "sandbox/chat" in error["message"]
    with pytest.raises(openai.NotFoundError):  # streaming fails the same way, before any chunk
        sandbox.chat.completions.create(model="sandbox/chatt", messages=HI, stream=True)
    with pytest.raises(openai.NotFoundError) as raised:
        sandbox.embeddings.create(model="text-embedding-3-small", input="hello")
    assert _error(raised)["code"] == "model_not_found"


def test_model_lookup_agrees_with_what_the_endpoints_accept(sandbox: openai.OpenAI) -> None:
    listed = sorted(m.id for m in sandbox.models.list())
    assert listed == ["sandbox/chat", "sandbox/chat-large", "sandbox/chat-mini", "sandbox/embed", "sandbox/image"]
    for model_id in listed:
        assert sandbox.models.retrieve(model_id).id == model_id
    for model_id in ("sandbox/chat-mini", "sandbox/chat-large"):
        assert sandbox.chat.completions.create(model=model_id, messages=HI).model == model_id
    with pytest.raises(openai.NotFoundError) as raised:
        sandbox.models.retrieve("openai/gpt-4o")
    assert _error(raised)["code"] == "model_not_found"


def test_a_model_on_the_wrong_endpoint_is_a_400(sandbox: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        sandbox.embeddings.create(model="sandbox/chat", input="hello")
    error = _error(raised)
    assert error["param"] == "model" and error["type"] == "invalid_request_error"
    assert error["message"].startswith("This model does not support embeddings")
    with pytest.raises(openai.BadRequestError) as raised:
        sandbox.chat.completions.create(model="sandbox/embed", messages=HI)
    error = _error(raised)
    assert error["param"] == "model"
    assert error["message"].startswith("This is not a chat model and thus not supported in the v1/chat/completions")


def test_temperature_out_of_range(sandbox: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        sandbox.chat.completions.create(model="sandbox/chat", messages=HI, temperature=5)
    error = _error(raised)
    assert (error["param"], error["code"]) == ("temperature", "decimal_above_max_value")
    assert error["message"] == (
        "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 5 instead."
    )
    with pytest.raises(openai.BadRequestError) as raised:  # streamed requests are checked before the stream
        sandbox.chat.completions.create(model="sandbox/chat", messages=HI, temperature=-0.5, stream=True)
    assert (_error(raised)["param"], _error(raised)["code"]) == ("temperature", "decimal_below_min_value")


CHAT_CASES: list[tuple[dict[str, Any], str, str | None]] = [
    ({"top_p": 1.5}, "top_p", "decimal_above_max_value"),
    ({"top_p": "0.5"}, "top_p", "invalid_type"),
    ({"presence_penalty": -2.5}, "presence_penalty", "decimal_below_min_value"),
    ({"frequency_penalty": 3}, "frequency_penalty", "decimal_above_max_value"),
    ({"n": 129}, "n", None),
    ({"max_tokens": 0}, "max_tokens", None),
    ({"max_completion_tokens": 0}, "max_completion_tokens", None),
    ({"logprobs": "yes"}, "logprobs", "invalid_type"),
    ({"logprobs": True, "top_logprobs": 21}, "top_logprobs", "integer_above_max_value"),
    ({"top_logprobs": 3}, "top_logprobs", None),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "array_above_max_length"),
    ({"stop": 7}, "stop", "invalid_type"),
    ({"seed": 1.5}, "seed", "invalid_type"),
    ({"response_format": {"type": "yaml"}}, "response_format.type", "invalid_value"),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
     "response_format.json_schema.name", "missing_required_parameter"),
    ({"response_format": {"type": "json_object"}}, "messages", None),
    ({"tools": [{"type": "function"}]}, "tools[0].function", "missing_required_parameter"),
    ({"tools": [{"type": "retrieval"}]}, "tools[0].type", "invalid_value"),
    ({"tools": []}, "tools", "empty_array"),
    ({"tool_choice": "auto"}, "tool_choice", None),
    ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice", "invalid_value"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice", None),
    ({"parallel_tool_calls": False}, "parallel_tool_calls", None),
    ({"stream_options": {"include_usage": True}}, "stream_options", None),
    ({"logit_bias": {"50256": 500}}, "logit_bias", "invalid_value"),
    ({"user": 42}, "user", "invalid_type"),
    ({"messages": [{"role": "user", "content": {"text": "hi"}}]}, "messages[0].content", "invalid_type"),
    ({"messages": [{"role": "user", "content": []}]}, "messages[0].content", "empty_array"),
    ({"messages": [{"role": "user", "content": [{"type": "video", "video": {}}]}]},
     "messages[0].content[0].type", "invalid_value"),
    ({"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
                   *HI]}, "messages[0]", "invalid_value"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
     "messages[0].content[0].image_url.url", "missing_required_parameter"),
    ({"messages": [*HI, {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]}, "messages.[1].role", None),
    ({"messages": [*HI, {"role": "assistant", "tool_calls": [CALL]}, *HI], "tools": [WEATHER]},
     "messages.[1].role", None),
    ({"messages": [*HI, {"role": "assistant", "tool_calls": [CALL]},
                   {"role": "tool", "tool_call_id": "call_2", "content": "sunny"}], "tools": [WEATHER]},
     "messages.[2].tool_call_id", None),
    ({"messages": [*HI, {"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]}]},
     "messages[1].tool_calls[0].function", "missing_required_parameter"),
]  # fmt: skip


@pytest.mark.parametrize(("extra", "param", "code"), CHAT_CASES)
def test_chat_parameters_are_validated_like_openai(
    sandbox: openai.OpenAI, extra: dict[str, Any], param: str, code: str | None
) -> None:
    body: dict[str, Any] = {"model": "sandbox/chat", "messages": HI, **extra}
    with pytest.raises(openai.BadRequestError) as raised:
        sandbox.chat.completions.create(**body)
    error = _error(raised)
    assert (error["type"], error["param"]) == ("invalid_request_error", param), error["message"]
    if code is not None:
        assert error["code"] == code, error["message"]


def test_every_parameter_at_its_documented_limits_is_accepted(sandbox: openai.OpenAI) -> None:
    """The other side of validation: the documented boundary values are all fine, together."""
    answer = sandbox.chat.completions.create(
        model="sandbox/chat",
        messages=[{"role": "developer", "content": "Answer in JSON."}, {"role": "user", "content": "Weather?"}],
        temperature=2,
        top_p=0,
        presence_penalty=-2,
        frequency_penalty=2.0,
        n=2,
        max_completion_tokens=1,
        logprobs=True,
        top_logprobs=20,
        stop=["<1>", "<2>", "<3>", "<4>"],
        seed=-7,
        logit_bias={"50256": -100},
        user="tester",
        response_format={"type": "json_object"},
    )
    assert len(answer.choices) == 2 and answer.choices[0].finish_reason == "length"
    called = sandbox.chat.completions.create(
        model="sandbox/chat",
        messages=HI,
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
    )
    calls = called.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather"]  # type: ignore[union-attr]
    results = [{"role": "tool", "tool_call_id": c.id, "content": "sunny"} for c in calls]
    final = sandbox.chat.completions.create(
        model="sandbox/chat",
        messages=[*HI, called.choices[0].message.model_dump(exclude_none=True), *results],  # type: ignore[list-item]
        tools=[WEATHER],
    )
    assert "sunny" in (final.choices[0].message.content or "")


EMBED_CASES: list[tuple[dict[str, Any], str, str | None]] = [
    ({"input": [1, "a"]}, "input", None),
    ({"input": ["ok", ""]}, "input", None),
    ({"input": ["x"] * 2049}, "input", "array_above_max_length"),
    ({"input": "word " * 40_000}, "input", None),
    ({"input": "x", "dimensions": 0}, "dimensions", "integer_below_min_value"),
    ({"input": "x", "dimensions": "8"}, "dimensions", "invalid_type"),
    ({"input": "x", "encoding_format": "hex"}, "encoding_format", "invalid_value"),
]


@pytest.mark.parametrize(("extra", "param", "code"), EMBED_CASES)
def test_embeddings_parameters_are_validated_like_openai(
    sandbox: openai.OpenAI, extra: dict[str, Any], param: str, code: str | None
) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        sandbox.embeddings.create(model="sandbox/embed", **extra)
    error = _error(raised)
    assert (error["type"], error["param"]) == ("invalid_request_error", param), error["message"]
    if code is not None:
        assert error["code"] == code, error["message"]


def test_embeddings_with_valid_inputs_still_work(sandbox: openai.OpenAI) -> None:
    for value in ("hello", ["a", "b"], [1, 2, 3], [[1, 2], [3]]):
        result = sandbox.embeddings.create(model="sandbox/embed", input=value, dimensions=4, encoding_format="float")
        assert all(len(d.embedding) == 4 for d in result.data)


_LIVE_ONLY_ADVICE = re.compile(r"(answer from|route this request to|served by) sandbox/", re.IGNORECASE)


def test_canned_text_never_sends_live_keys_to_sandbox_models(sandbox: openai.OpenAI) -> None:
    """The reply used to say "Use a live key to get a real answer from sandbox/chat": a live key cannot."""
    closers = set()
    for prompt in ("Hi", "Say hi", "What is 2+2?", "Tell me a joke", "Hello there", "Weather?", "ping", "abc"):
        text = sandbox.chat.completions.create(model="sandbox/chat", messages=[{"role": "user", "content": prompt}])
        content = text.choices[0].message.content or ""
        assert not _LIVE_ONLY_ADVICE.search(content), content
        assert "live key" in content and "provider model id" in content, content
        closers.add(content.rsplit(". ", 1)[-1])
    assert len(closers) >= 2  # several closers were exercised, not just one


def test_an_unknown_sandbox_model_is_refused_before_it_costs_quota(gateway: Any, admin: httpx.Client) -> None:
    limited = inference_key(admin, environment="test", rate_limits={"requests_per_minute": 1})
    with openai_client(gateway.url, limited) as sdk:
        for _ in range(3):
            with pytest.raises(openai.NotFoundError):
                sdk.chat.completions.create(model="sandbox/nope", messages=HI)
        assert sdk.chat.completions.create(model="sandbox/chat", messages=HI).choices  # the minute's one request
        with pytest.raises(openai.RateLimitError):
            sdk.chat.completions.create(model="sandbox/chat", messages=HI)
