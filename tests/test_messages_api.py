"""Anthropic's Messages API on the gateway, as a user runs it: the official anthropic SDK (strict
response validation) over real HTTP. To an Anthropic-protocol provider the body passes natively
(what the client sent, `anthropic-version`/`anthropic-beta` forwarded); to any other provider it is
translated to Chat Completions. Errors under /v1/messages are in Anthropic's shape, so the SDK
raises its typed exceptions. Also count_tokens, the model list in Anthropic's shape, billing and
sandbox keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.fakeprovider import FakeProvider
from tests.support.clients import inference_key, openai_client
from tests.support.faces import (
    ANTHROPIC_ERROR_TYPES,
    ECHO,
    HELLO,
    PIXEL,
    WEATHER_CALL,
    WEATHER_TOOL_ANTHROPIC,
    anthropic_client,
    anthropic_error,
    client_id,
    held,
    ledger,
    only,
    posts,
    received,
    sse,
    tagged,
    text_of,
    usage_row,
)
from tests.support.identity import UPSTREAM_KEY_A, GwUser

NATIVE = "fakeanthropic/claude-haiku-4-5"
TRANSLATED = "fakeopenai/gpt-4o-mini"
GEMINI = "fakegemini/gemini-2.0-flash"
USER_HELLO = [{"role": "user", "content": HELLO}]


@pytest.fixture
def ant(gateway: Any, funded: GwUser) -> Iterator[anthropic.Anthropic]:
    with anthropic_client(gateway.url, funded.key) as client:
        yield client


# -- native: the body as the client sent it --------------------------------------------------------


def test_native_body_and_headers_reach_the_anthropic_provider(
    ant: anthropic.Anthropic, fake_a: FakeProvider, database_url: str
) -> None:
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    messages: list[Any] = [
        {"role": "user", "content": "think first"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "The user wants a greeting.", "signature": "sig-abc"},
            {"type": "text", "text": "Sure."},
        ]},
        {"role": "user", "content": [{"type": "text", "text": HELLO, "cache_control": {"type": "ephemeral"}}]},
    ]
    tag = client_id()
    raw = ant.messages.with_raw_response.create(
        model=NATIVE, max_tokens=2048, system=system, messages=messages,
        thinking={"type": "enabled", "budget_tokens": 1024}, extra_body={"top_k": 5},
        extra_headers={"anthropic-version": "2023-06-01", "anthropic-beta": "interleaved-thinking-2025-05-14",
                       **tagged(tag)},
    )
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert [b.type for b in message.content] == ["text"] and message.content[0].text == ECHO  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    upstream = only(fake_a, "anthropic")
    assert upstream.path == "/v1/messages"
    assert upstream.body == {"model": "claude-haiku-4-5", "max_tokens": 2048, "system": system,
                             "messages": messages, "thinking": {"type": "enabled", "budget_tokens": 1024},
                             "top_k": 5}
    assert upstream.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert upstream.headers["anthropic-version"] == "2023-06-01"
    assert upstream.headers["x-api-key"] == UPSTREAM_KEY_A  # the gateway's provider key, never the client's
    # billed from the provider's own counts: claude-haiku-4-5 costs $1 / $5 per 1M tokens
    expected = message.usage.input_tokens * 1000 + message.usage.output_tokens * 5000
    assert message.usage.output_tokens == 3
    assert message.usage.model_extra is not None
    assert message.usage.model_extra["cost"] == pytest.approx(expected / 1e9)
    row = usage_row(database_url, tag)
    assert row["request_id"] == raw.headers["x-request-id"]
    assert (row["provider"], row["prompt_tokens"], row["completion_tokens"], row["cost"], row["status"]) == (
        "fakeanthropic", message.usage.input_tokens, 3, expected, 200)
    assert ledger(database_url, row["request_id"]) == [("usage", -expected)]


def test_native_tool_use_round_trip(ant: anthropic.Anthropic, fake_a: FakeProvider) -> None:
    fake_a.set(tool_calls=WEATHER_CALL)
    first = ant.messages.create(model=NATIVE, max_tokens=64, tools=[WEATHER_TOOL_ANTHROPIC],
                                messages=[{"role": "user", "content": "weather in Paris?"}])
    assert first.stop_reason == "tool_use"
    use = next(b for b in first.content if b.type == "tool_use")
    assert (use.id, use.name, use.input) == ("call_weather_1", "get_weather", {"city": "Paris"})
    fake_a.reset()
    second = ant.messages.create(
        model=NATIVE, max_tokens=64, tools=[WEATHER_TOOL_ANTHROPIC],
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "22C"}]},
        ],
    )
    assert second.content[0].text == "Echo: 22C"  # type: ignore[union-attr]
    sent = only(fake_a, "anthropic").body
    assert sent["tools"] == [WEATHER_TOOL_ANTHROPIC]
    assert sent["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": "call_weather_1",
                                               "content": "22C"}]


# -- translated: a chat completions body for other protocols -----------------------------------------


def test_translated_to_chat_for_an_openai_provider(ant: anthropic.Anthropic, fake_a: FakeProvider) -> None:
    message = ant.messages.create(
        model=TRANSLATED, max_tokens=64, system="Be brief.", messages=USER_HELLO,
        stop_sequences=["END"], metadata={"user_id": "u-1"}, extra_body={"temperature": 0.2},
    )
    assert message.id.startswith("msg_") and message.model == TRANSLATED
    assert message.content[0].text == ECHO  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (4, 3)
    upstream = only(fake_a, "openai")
    assert upstream.path == "/v1/chat/completions"
    body = upstream.body
    assert body["model"] == "gpt-4o-mini"
    assert [(m["role"], text_of(m["content"])) for m in body["messages"]] == [("system", "Be brief."), ("user", HELLO)]
    assert body.get("max_completion_tokens", body.get("max_tokens")) == 64
    assert body["stop"] == ["END"] and body["temperature"] == 0.2 and body["user"] == "u-1"
    assert "system" not in body and "stop_sequences" not in body


def test_translated_tool_use_round_trip(ant: anthropic.Anthropic, fake_a: FakeProvider) -> None:
    fake_a.set(tool_calls=WEATHER_CALL)
    first = ant.messages.create(model=TRANSLATED, max_tokens=64, tools=[WEATHER_TOOL_ANTHROPIC],
                                tool_choice={"type": "any"}, messages=[{"role": "user", "content": "weather?"}])
    assert first.stop_reason == "tool_use"
    use = next(b for b in first.content if b.type == "tool_use")
    assert (use.id, use.name, use.input) == ("call_weather_1", "get_weather", {"city": "Paris"})
    body = only(fake_a, "openai").body
    assert body["tools"][0]["type"] == "function" and body["tools"][0]["function"]["name"] == "get_weather"
    assert body["tools"][0]["function"]["parameters"] == WEATHER_TOOL_ANTHROPIC["input_schema"]
    assert body["tool_choice"] == "required"
    fake_a.reset()
    second = ant.messages.create(
        model=TRANSLATED, max_tokens=64, tools=[WEATHER_TOOL_ANTHROPIC],
        messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "22C"}]},
        ],
    )
    assert second.content[0].text == "Echo: 22C"  # type: ignore[union-attr]
    messages = only(fake_a, "openai").body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_calls"][0]["id"] == "call_weather_1"
    assert messages[2]["tool_call_id"] == "call_weather_1" and text_of(messages[2]["content"]) == "22C"


def test_translated_image_and_named_tool_choice(ant: anthropic.Anthropic, fake_a: FakeProvider) -> None:
    ant.messages.create(
        model=TRANSLATED, max_tokens=64, tools=[WEATHER_TOOL_ANTHROPIC],
        tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
            {"type": "text", "text": "what is this"},
        ]}],
    )
    body = only(fake_a, "openai").body
    assert body["messages"][0]["content"] == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PIXEL}},
        {"type": "text", "text": "what is this"},
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False


def test_an_idempotent_retry_replays_the_answer_and_charges_once(
    gateway: Any, ant: anthropic.Anthropic, database_url: str, fake_a: FakeProvider
) -> None:
    key = {"Idempotency-Key": client_id()}
    first = ant.messages.with_raw_response.create(model=NATIVE, max_tokens=64, messages=USER_HELLO,
                                                  extra_headers=key)
    again = ant.messages.with_raw_response.create(model=NATIVE, max_tokens=64, messages=USER_HELLO,
                                                  extra_headers=key)
    assert again.headers["idempotent-replayed"] == "true" and again.http_response.content == first.http_response.content
    assert len(received(fake_a, "anthropic")) == 1
    assert len(ledger(database_url, first.headers["x-request-id"])) == 1
    with pytest.raises(anthropic.BadRequestError) as raised:  # the same key, another request
        ant.messages.create(model=NATIVE, max_tokens=65, messages=USER_HELLO, extra_headers=key)
    anthropic_error(raised, 400, "invalid_request_error")


# -- streams ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [NATIVE, TRANSLATED, GEMINI])
def test_stream_text(ant: anthropic.Anthropic, fake_a: FakeProvider, model: str) -> None:
    with ant.messages.stream(model=model, max_tokens=64, messages=USER_HELLO) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) == 3 and "".join(pieces) == ECHO
    assert final.content[0].text == ECHO and final.stop_reason == "end_turn"  # type: ignore[union-attr]
    assert (final.usage.input_tokens, final.usage.output_tokens) == (2, 3)
    upstream = received(fake_a, {NATIVE: "anthropic", TRANSLATED: "openai", GEMINI: "gemini"}[model])
    assert len(upstream) == 1 and upstream[0].stream


@pytest.mark.parametrize("model", [NATIVE, TRANSLATED])
def test_stream_tool_use(ant: anthropic.Anthropic, fake_a: FakeProvider, model: str) -> None:
    fake_a.set(tool_calls=WEATHER_CALL)
    with ant.messages.stream(model=model, max_tokens=64, tools=[WEATHER_TOOL_ANTHROPIC],
                             messages=[{"role": "user", "content": "weather?"}]) as stream:
        events = list(stream)
        final = stream.get_final_message()
    use = next(b for b in final.content if b.type == "tool_use")
    assert (use.id, use.name, use.input) == ("call_weather_1", "get_weather", {"city": "Paris"})
    assert final.stop_reason == "tool_use"
    partial = [e.delta.partial_json for e in events if e.type == "content_block_delta"
               and e.delta.type == "input_json_delta"]
    assert "".join(partial) == '{"city":"Paris"}'


@pytest.mark.parametrize("model", [NATIVE, TRANSLATED])
def test_stream_usage_carries_the_cost_that_was_charged(
    gateway: Any, funded: GwUser, database_url: str, fake_a: FakeProvider, model: str
) -> None:
    tag = client_id()
    response = httpx.post(
        f"{gateway.url}/v1/messages",
        headers={"x-api-key": funded.key, "anthropic-version": "2023-06-01", **tagged(tag)},
        json={"model": model, "max_tokens": 64, "stream": True, "messages": USER_HELLO},
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = sse(response.text)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    if model == NATIVE:  # the provider's own events, as it sent them
        assert names == ["message_start", "content_block_start", "ping", *["content_block_delta"] * 3,
                         "content_block_stop", "message_delta", "message_stop"]
    assert all(name == data["type"] for name, data in events)
    delta = next(data for name, data in events if name == "message_delta")
    row = usage_row(database_url, tag)
    assert delta["usage"]["output_tokens"] == row["completion_tokens"] == 3
    assert delta["usage"]["cost"] == pytest.approx(row["cost"] / 1e9)
    assert row["cost"] > 0 and ledger(database_url, row["request_id"]) == [("usage", -row["cost"])]
    assert held(funded.client) == "0.000000000"


# -- count_tokens and the model list ---------------------------------------------------------------


def test_count_tokens_native_and_estimated(ant: anthropic.Anthropic, fake_a: FakeProvider) -> None:
    counted = ant.messages.count_tokens(model=NATIVE, system="Be brief.", messages=USER_HELLO,
                                        extra_headers={"anthropic-beta": "token-counting-2024-11-01"})
    assert counted.input_tokens == 4  # the provider's own count (the fake counts words)
    upstream = only(fake_a, "anthropic")
    assert upstream.path == "/v1/messages/count_tokens"
    assert upstream.body == {"model": "claude-haiku-4-5", "system": "Be brief.", "messages": USER_HELLO}
    assert upstream.headers["anthropic-beta"] == "token-counting-2024-11-01"
    fake_a.reset()
    estimated = ant.messages.count_tokens(model=TRANSLATED, messages=USER_HELLO)
    assert estimated.input_tokens > 0
    assert posts(fake_a) == []  # no OpenAI-protocol provider has a count: the gateway estimates
    with pytest.raises(anthropic.BadRequestError) as raised:
        ant.messages.count_tokens(model=NATIVE, messages=[{"role": "user", "content": 5}])  # type: ignore[typeddict-item]
    anthropic_error(raised, 400, "invalid_request_error")
    with pytest.raises(anthropic.NotFoundError):
        ant.messages.count_tokens(model="nobody-serves-this", messages=USER_HELLO)
    fake_a.set(status=500)  # the provider cannot count: the gateway's estimate answers
    assert ant.messages.count_tokens(model=NATIVE, messages=USER_HELLO).input_tokens > 0


def test_models_list_in_anthropics_shape(gateway: Any, ant: anthropic.Anthropic, funded: GwUser) -> None:
    page = ant.models.list(limit=1000)
    ids = [m.id for m in page.data]
    assert NATIVE in ids and TRANSLATED in ids
    assert all(m.type == "model" and m.display_name for m in page.data)
    assert page.first_id == ids[0] and page.last_id == ids[-1] and page.has_more is False
    first = ant.models.list(limit=2)
    assert [m.id for m in first.data] == ids[:2] and first.has_more
    assert [m.id for m in ant.models.list(limit=2)] == ids  # auto-pagination over after_id
    assert ant.models.retrieve(NATIVE).id == NATIVE
    with openai_client(gateway.url, funded.key) as sdk:  # without anthropic-version: OpenAI's list
        assert sorted(m.id for m in sdk.models.list()) == sorted(ids)


# -- errors: Anthropic's shape, the SDK's typed exceptions ----------------------------------------------


def test_bad_key_is_authentication_error(gateway: Any) -> None:
    with anthropic_client(gateway.url, "gw_live_" + "x" * 43) as bad, pytest.raises(
        anthropic.AuthenticationError
    ) as raised:
        bad.messages.create(model=NATIVE, max_tokens=64, messages=USER_HELLO)
    anthropic_error(raised, 401, "authentication_error")
    with anthropic_client(gateway.url, "gw_live_" + "x" * 43) as bad, pytest.raises(anthropic.AuthenticationError):
        bad.messages.count_tokens(model=NATIVE, messages=USER_HELLO)


def test_key_restricted_to_other_models_is_permission_error(
    gateway: Any, funded: GwUser, fake_a: FakeProvider
) -> None:
    limited = inference_key(funded.client, allowed_models=["fakeopenai/*"])
    with anthropic_client(gateway.url, limited) as client:
        assert client.messages.create(model=TRANSLATED, max_tokens=64, messages=USER_HELLO).content
        with pytest.raises(anthropic.PermissionDeniedError) as raised:
            client.messages.create(model=NATIVE, max_tokens=64, messages=USER_HELLO)
        anthropic_error(raised, 403, "permission_error")
        listed = [m.id for m in client.models.list(limit=1000)]
        assert TRANSLATED in listed and all(m.startswith("fakeopenai/") for m in listed)
    assert received(fake_a, "anthropic") == []


def test_unknown_model_is_not_found_error(ant: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as raised:
        ant.messages.create(model="nobody-serves-this", max_tokens=64, messages=USER_HELLO)
    anthropic_error(raised, 404, "not_found_error")


def test_invalid_bodies_are_bad_request_errors(gateway: Any, ant: anthropic.Anthropic, funded: GwUser,
                                              fake_a: FakeProvider) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:  # no max_tokens (the SDK's types require it)
        ant.post("/v1/messages", cast_to=anthropic.types.Message, body={"model": NATIVE, "messages": USER_HELLO})
    assert "max_tokens" in anthropic_error(raised, 400, "invalid_request_error")
    with pytest.raises(anthropic.BadRequestError) as raised:
        ant.messages.create(model=NATIVE, max_tokens=64, messages=[{"role": "robot", "content": "x"}])  # type: ignore[typeddict-item]
    anthropic_error(raised, 400, "invalid_request_error")
    for raw in (b"{nope", b"[1, 2]", b""):
        response = httpx.post(f"{gateway.url}/v1/messages", content=raw,
                              headers={"x-api-key": funded.key, "content-type": "application/json"})
        assert response.status_code == 400, raw
        body = response.json()
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    for path in ("/v1/messages/batches", "/v1/messages/count_tokens/x"):
        response = httpx.post(f"{gateway.url}{path}", json={}, headers={"x-api-key": funded.key})
        assert response.status_code in (404, 405), path
        assert response.json()["type"] == "error" and response.json()["error"]["type"] in ANTHROPIC_ERROR_TYPES
    assert posts(fake_a) == []


def test_no_credit_is_402_billing_error(gateway: Any, make_user: Any, fake_a: FakeProvider) -> None:
    broke: GwUser = make_user()
    with anthropic_client(gateway.url, broke.key) as client, pytest.raises(anthropic.PaymentRequiredError) as raised:
        client.messages.create(model=NATIVE, max_tokens=64, messages=USER_HELLO)
    assert isinstance(raised.value, anthropic.APIStatusError)
    anthropic_error(raised, 402, "billing_error")
    assert posts(fake_a) == []


def test_rate_limited_key_is_rate_limit_error(gateway: Any, funded: GwUser, fake_a: FakeProvider) -> None:
    made = funded.client.post("/user/api-keys", json={"name": "slow", "rate_limits": {"requests_per_minute": 1}})
    assert made.status_code == 201, made.text
    with anthropic_client(gateway.url, made.json()["key"]) as client:
        assert client.messages.create(model=NATIVE, max_tokens=64, messages=USER_HELLO).content
        with pytest.raises(anthropic.RateLimitError) as raised:
            client.messages.create(model=NATIVE, max_tokens=64, messages=USER_HELLO)
    anthropic_error(raised, 429, "rate_limit_error")
    assert int(raised.value.response.headers["retry-after"]) >= 1
    assert len(received(fake_a, "anthropic")) == 1


def test_upstream_refusal_keeps_its_message(ant: anthropic.Anthropic, fake_a: FakeProvider) -> None:
    fake_a.set(status=400, error_message="messages.0.content: upstream says no")
    with pytest.raises(anthropic.BadRequestError) as raised:
        ant.messages.create(model=NATIVE, max_tokens=64, messages=USER_HELLO)
    assert "upstream says no" in anthropic_error(raised, 400, "invalid_request_error")
    fake_a.set(status=500, error_message="boom")
    with pytest.raises(anthropic.APIStatusError) as failed:
        ant.messages.create(model=NATIVE, max_tokens=64, messages=USER_HELLO)
    assert failed.value.status_code >= 500
    assert failed.value.response.json()["type"] == "error"
    assert failed.value.response.json()["error"]["type"] in ANTHROPIC_ERROR_TYPES


# -- sandbox keys -------------------------------------------------------------------------------------


def test_sandbox_keys_serve_messages_without_upstream(
    gateway: Any, funded: GwUser, database_url: str, fake_a: FakeProvider, fake_b: FakeProvider
) -> None:
    made = funded.client.post("/user/api-keys", json={"name": "sandbox", "environment": "test"})
    assert made.status_code == 201, made.text
    tools = [{**WEATHER_TOOL_ANTHROPIC, "name": "lookup"}]
    with anthropic_client(gateway.url, made.json()["key"]) as sandbox:
        tag = client_id()
        text = sandbox.messages.create(model="sandbox/chat", max_tokens=64, messages=[
            {"role": "user", "content": "Say hi"}], extra_headers=tagged(tag))
        assert text.content[0].text and text.model == "sandbox/chat"  # type: ignore[union-attr]
        row = usage_row(database_url, tag)
        assert (row["provider"], row["cost"]) == ("sandbox", 0) and row["prompt_tokens"] > 0
        called = sandbox.messages.create(model="sandbox/chat", max_tokens=64, tools=tools,
                                         messages=[{"role": "user", "content": "find cats"}])
        use = next(b for b in called.content if b.type == "tool_use")
        assert use.name == "lookup" and isinstance(use.input, dict) and called.stop_reason == "tool_use"
        with sandbox.messages.stream(model="sandbox/chat", max_tokens=64,
                                     messages=[{"role": "user", "content": "Stream please"}]) as stream:
            pieces = list(stream.text_stream)
            final = stream.get_final_message()
        assert pieces and "".join(pieces) == final.content[0].text  # type: ignore[union-attr]
        with sandbox.messages.stream(model="sandbox/chat", max_tokens=64, tools=tools,
                                     messages=[{"role": "user", "content": "find cats"}]) as stream:
            assert next(b for b in stream.get_final_message().content if b.type == "tool_use").name == "lookup"
        assert sandbox.messages.count_tokens(model="sandbox/chat", messages=USER_HELLO).input_tokens > 0
        assert "sandbox/chat" in [m.id for m in sandbox.models.list()]
    assert posts(fake_a) == [] and posts(fake_b) == []
    assert ledger(database_url, row["request_id"]) == []


def test_openai_sdk_errors_stay_openai_shaped_outside_messages(gateway: Any) -> None:
    with openai_client(gateway.url, "gw_live_" + "x" * 43) as bad, pytest.raises(openai.AuthenticationError) as raised:
        bad.responses.create(model=TRANSLATED, input=HELLO)
    assert set(raised.value.response.json()["error"]) == {"message", "type", "param", "code"}

