"""OpenAI's Responses API on the gateway, as a user runs it: the official openai SDK (strict response
validation) over real HTTP, fake providers behind it. Covers create (string and item input,
instructions, function tools and their outputs, json_schema), streaming with the SDK's assembler,
the stored-response reads (retrieve, delete, input_items with pagination), `previous_response_id`
across providers of different protocols, tenant isolation, `store: false`, billing, and sandbox keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pydantic
import pytest

from tests.fakeprovider import FakeProvider
from tests.support.clients import openai_client
from tests.support.faces import (
    ECHO,
    HELLO,
    PIXEL,
    WEATHER_CALL,
    WEATHER_TOOL_RESPONSES,
    client_id,
    held,
    ledger,
    only,
    posts,
    received,
    tagged,
    text_of,
    usage_row,
)
from tests.support.identity import GwUser
from tests.support.money import balance, nanos

MODEL = "fakeopenai/gpt-4o-mini"


@pytest.fixture
def sdk(gateway: Any, funded: GwUser) -> Iterator[openai.OpenAI]:
    with openai_client(gateway.url, funded.key) as client:
        yield client


def test_string_input_and_instructions(sdk: openai.OpenAI, fake_a: FakeProvider) -> None:
    response = sdk.responses.create(model=MODEL, input=HELLO, instructions="Be brief.")
    assert response.object == "response" and response.status == "completed"
    assert response.id.startswith("resp_")
    assert response.model == MODEL
    assert response.instructions == "Be brief."
    assert response.output_text == ECHO
    message = response.output[0]
    assert message.type == "message" and message.role == "assistant" and message.status == "completed"
    upstream = only(fake_a, "openai")
    assert upstream.path == "/v1/chat/completions"
    sent = upstream.body["messages"]
    assert [m["role"] for m in sent] in (["system", "user"], ["developer", "user"])
    assert [text_of(m["content"]) for m in sent] == ["Be brief.", HELLO]
    assert upstream.body["model"] == "gpt-4o-mini"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (4, 3, 7)


def test_item_input_becomes_the_conversation(sdk: openai.OpenAI, fake_a: FakeProvider) -> None:
    response = sdk.responses.create(
        model=MODEL,
        input=[
            {"role": "developer", "content": "Answer in English."},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": [{"type": "input_text", "text": "how are you"}]},
        ],
        max_output_tokens=50,
        temperature=0.5,
    )
    assert response.output_text == "Echo: how are you"
    assert response.max_output_tokens == 50 and response.temperature == 0.5
    body = only(fake_a, "openai").body
    roles = [m["role"] for m in body["messages"]]
    assert roles[0] in ("developer", "system") and roles[1:] == ["user", "assistant", "user"]
    assert [text_of(m["content"]) for m in body["messages"]] == [
        "Answer in English.", "hi", "Hello! How can I help?", "how are you"
    ]
    assert body.get("max_completion_tokens", body.get("max_tokens")) == 50
    assert body["temperature"] == 0.5


def test_function_tool_call_and_its_output(sdk: openai.OpenAI, fake_a: FakeProvider) -> None:
    fake_a.set(tool_calls=WEATHER_CALL)
    first = sdk.responses.create(model=MODEL, input="weather in Paris?", tools=[WEATHER_TOOL_RESPONSES])
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "get_weather" and call.call_id == "call_weather_1"
    assert json.loads(call.arguments) == {"city": "Paris"}
    sent_tools = only(fake_a, "openai").body["tools"]
    assert sent_tools == [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather of a city",
        "parameters": WEATHER_TOOL_RESPONSES["parameters"], "strict": False}}]

    fake_a.reset()
    second = sdk.responses.create(
        model=MODEL,
        tools=[WEATHER_TOOL_RESPONSES],
        input=[
            {"role": "user", "content": "weather in Paris?"},
            call.model_dump(exclude_none=True),
            {"type": "function_call_output", "call_id": call.call_id, "output": "22C and sunny"},
        ],
    )
    assert second.output_text == "Echo: 22C and sunny"
    messages = only(fake_a, "openai").body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_calls"] == [
        {"id": "call_weather_1", "type": "function", "function": {"name": "get_weather", "arguments": call.arguments}}
    ]
    assert messages[2]["tool_call_id"] == "call_weather_1" and text_of(messages[2]["content"]) == "22C and sunny"


def test_image_input_and_a_named_tool_choice(sdk: openai.OpenAI, fake_a: FakeProvider) -> None:
    image = "data:image/png;base64," + PIXEL
    response = sdk.responses.create(
        model=MODEL,
        tools=[WEATHER_TOOL_RESPONSES],
        tool_choice={"type": "function", "name": "get_weather"},
        input=[{"role": "user", "content": [
            {"type": "input_text", "text": "what is this"},
            {"type": "input_image", "image_url": image, "detail": "low"},
        ]}],
    )
    assert response.output_text == "Echo: what is this"
    assert response.tool_choice.type == "function" and response.tool_choice.name == "get_weather"  # type: ignore[union-attr]
    body = only(fake_a, "openai").body
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": image, "detail": "low"}},
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_an_idempotent_retry_replays_the_answer_and_charges_once(
    sdk: openai.OpenAI, database_url: str, fake_b: FakeProvider
) -> None:
    key = {"Idempotency-Key": client_id()}
    first = sdk.responses.with_raw_response.create(model="fakebackup/gpt-4o-mini", input=HELLO, extra_headers=key)
    again = sdk.responses.with_raw_response.create(model="fakebackup/gpt-4o-mini", input=HELLO, extra_headers=key)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.parse().id == first.parse().id and again.http_response.content == first.http_response.content
    assert len(received(fake_b, "openai")) == 1
    assert ledger(database_url, first.headers["x-request-id"]) == [("usage", -(2 * 1000 + 3 * 2000))]
    with pytest.raises(openai.BadRequestError) as raised:  # the same key, another request
        sdk.responses.create(model="fakebackup/gpt-4o-mini", input="something else", extra_headers=key)
    assert raised.value.body["code"] == "idempotency_key_reused"  # type: ignore[index]
    assert sdk.responses.retrieve(first.parse().id).output_text == ECHO


class City(pydantic.BaseModel):
    city: str
    country: str


def test_text_format_json_schema(sdk: openai.OpenAI, fake_a: FakeProvider) -> None:
    fake_a.set(reply='{"city": "Paris", "country": "France"}')
    parsed = sdk.responses.parse(model=MODEL, input="Where is the Eiffel tower?", text_format=City)
    assert parsed.output_parsed == City(city="Paris", country="France")
    assert parsed.text is not None and parsed.text.format is not None
    assert parsed.text.format.type == "json_schema" and parsed.text.format.name == "City"
    sent = only(fake_a, "openai").body["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["name"] == "City" and sent["json_schema"]["strict"] is True
    assert sent["json_schema"]["schema"]["required"] == ["city", "country"]


def test_stream_assembles_the_final_response(sdk: openai.OpenAI, fake_a: FakeProvider) -> None:
    with sdk.responses.stream(model=MODEL, input=HELLO) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) == 3 and "".join(deltas) == ECHO
    assert final.output_text == ECHO and final.status == "completed"
    assert final.usage is not None and (final.usage.input_tokens, final.usage.output_tokens) == (2, 3)
    assert only(fake_a, "openai").body["stream"] is True
    assert sdk.responses.retrieve(final.id).output_text == ECHO  # a streamed response is stored too


def test_stream_with_a_tool_call(sdk: openai.OpenAI, fake_a: FakeProvider) -> None:
    fake_a.set(tool_calls=WEATHER_CALL)
    with sdk.responses.stream(model=MODEL, input="weather in Paris?", tools=[WEATHER_TOOL_RESPONSES]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    call = next(item for item in final.output if item.type == "function_call")
    assert call.name == "get_weather" and call.call_id == "call_weather_1"
    assert json.loads(call.arguments) == {"city": "Paris"}
    pieces = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    assert len(pieces) > 1 and "".join(pieces) == call.arguments
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert len(done) == 1 and done[0].arguments == call.arguments


def test_retrieve_delete_and_input_items_pages(sdk: openai.OpenAI, fake_a: FakeProvider) -> None:
    words = ["one", "two", "three", "four", "five"]
    created = sdk.responses.create(model=MODEL, input=[{"role": "user", "content": w} for w in words])
    got = sdk.responses.retrieve(created.id)
    assert got.id == created.id and got.output_text == "Echo: five" and got.status == "completed"

    def texts(page: Any) -> list[str]:
        return [item.content[0].text for item in page.data]

    newest_first = sdk.responses.input_items.list(created.id)
    assert texts(newest_first) == words[::-1] and not newest_first.has_more
    ids = [item.id for item in newest_first.data]
    assert len(set(ids)) == 5 and all(ids)
    first = sdk.responses.input_items.list(created.id, limit=2, order="asc")
    assert texts(first) == ["one", "two"] and first.has_more
    assert (first.first_id, first.last_id) == (first.data[0].id, first.data[1].id)
    second = sdk.responses.input_items.list(created.id, limit=2, order="asc", after=first.last_id)
    assert texts(second) == ["three", "four"] and second.has_more
    walked = [item.content[0].text for item in sdk.responses.input_items.list(created.id, limit=2, order="asc")]
    assert walked == words  # the SDK's auto-pagination follows `after`
    assert texts(sdk.responses.input_items.list(created.id, limit=3, after=ids[1])) == ["three", "two", "one"]
    with pytest.raises(openai.BadRequestError):
        sdk.responses.input_items.list(created.id, after="msg_not_an_item_of_this_response")
    with pytest.raises(openai.BadRequestError):
        sdk.responses.input_items.list(created.id, limit=0)

    deleted = sdk.responses.with_raw_response.delete(created.id)
    assert deleted.http_response.json() == {"id": created.id, "object": "response.deleted", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.input_items.list(created.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.delete(created.id)
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.responses.create(model=MODEL, input="again", previous_response_id=created.id)
    assert raised.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_previous_response_id_carries_the_turns_to_other_providers(
    sdk: openai.OpenAI, fake_a: FakeProvider
) -> None:
    first = sdk.responses.create(model=MODEL, input=HELLO, instructions="Only the first turn's.")
    with sdk.responses.stream(  # a streamed turn is stored for the chain as well
        model="fakeanthropic/claude-haiku-4-5", input="and again", previous_response_id=first.id
    ) as stream:
        second = stream.get_final_response()
    assert second.output_text == "Echo: and again"
    assert second.previous_response_id == first.id
    anthropic_body = only(fake_a, "anthropic").body
    assert anthropic_body["model"] == "claude-haiku-4-5"
    assert [(m["role"], text_of(m["content"])) for m in anthropic_body["messages"]] == [
        ("user", HELLO), ("assistant", ECHO), ("user", "and again")
    ]
    assert "system" not in anthropic_body  # earlier turns' instructions are not carried over

    third = sdk.responses.create(model="fakegemini/gemini-2.0-flash", input="last", previous_response_id=second.id)
    assert third.output_text == "Echo: last"
    gemini = only(fake_a, "gemini").body["contents"]
    assert [(c["role"], "".join(p.get("text", "") for p in c["parts"])) for c in gemini] == [
        ("user", HELLO), ("model", ECHO), ("user", "and again"), ("model", "Echo: and again"), ("user", "last")
    ]


def test_tool_output_continues_on_another_provider(sdk: openai.OpenAI, fake_a: FakeProvider) -> None:
    fake_a.set(tool_calls=WEATHER_CALL)
    first = sdk.responses.create(model=MODEL, input="weather in Paris?", tools=[WEATHER_TOOL_RESPONSES])
    fake_a.reset()
    second = sdk.responses.create(
        model="fakeanthropic/claude-haiku-4-5",
        previous_response_id=first.id,
        tools=[WEATHER_TOOL_RESPONSES],
        input=[{"type": "function_call_output", "call_id": "call_weather_1", "output": "22C"}],
    )
    assert second.output_text == "Echo: 22C"
    messages = only(fake_a, "anthropic").body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    tool_use = [b for b in messages[1]["content"] if b["type"] == "tool_use"]
    assert tool_use == [{"type": "tool_use", "id": "call_weather_1", "name": "get_weather", "input": {"city": "Paris"}}]
    result = [b for b in messages[2]["content"] if b["type"] == "tool_result"]
    assert len(result) == 1 and result[0]["tool_use_id"] == "call_weather_1"
    assert text_of(result[0]["content"]) == "22C"


def test_another_users_response_is_not_found(
    gateway: Any, sdk: openai.OpenAI, make_user: Any, fake_a: FakeProvider
) -> None:
    mine = sdk.responses.create(model=MODEL, input=HELLO)
    stranger: GwUser = make_user()
    with openai_client(gateway.url, stranger.key) as theirs:
        with pytest.raises(openai.NotFoundError):
            theirs.responses.retrieve(mine.id)
        with pytest.raises(openai.NotFoundError):
            theirs.responses.input_items.list(mine.id)
        with pytest.raises(openai.NotFoundError):
            theirs.responses.delete(mine.id)
        with pytest.raises(openai.APIStatusError) as raised:  # 400 (not found) before the 402 (no credit)
            theirs.responses.create(model=MODEL, input="steal", previous_response_id=mine.id)
        assert raised.value.status_code == 400
    assert sdk.responses.retrieve(mine.id).output_text == ECHO  # untouched by the stranger's delete
    assert len(received(fake_a, "openai")) == 1


def test_store_false_is_not_kept(sdk: openai.OpenAI, fake_a: FakeProvider) -> None:
    response = sdk.responses.create(model=MODEL, input=HELLO, store=False, metadata={"run": "1"})
    assert response.output_text == ECHO and response.metadata == {"run": "1"}
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(response.id)
    with sdk.responses.stream(model=MODEL, input=HELLO, store=False) as stream:
        streamed = stream.get_final_response()
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(streamed.id)
    kept = sdk.responses.create(model=MODEL, input=HELLO, metadata={"run": "2"})
    assert sdk.responses.retrieve(kept.id).metadata == {"run": "2"}
    with pytest.raises(openai.BadRequestError):
        sdk.responses.create(model=MODEL, input="more", previous_response_id=response.id)


def test_usage_cost_matches_the_usage_record_and_the_ledger(
    sdk: openai.OpenAI, funded: GwUser, database_url: str, fake_b: FakeProvider
) -> None:
    tag = client_id()
    raw = sdk.responses.with_raw_response.create(model="fakebackup/gpt-4o-mini", input=HELLO, extra_headers=tagged(tag))
    response = raw.parse()
    expected = 2 * 1000 + 3 * 2000  # fakebackup's price: $1 / $2 per 1M tokens
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (2, 3, 5)
    assert response.usage.model_extra is not None
    assert response.usage.model_extra["cost"] == pytest.approx(expected / 1e9)
    row = usage_row(database_url, tag)
    assert row["request_id"] == raw.headers["x-request-id"]
    assert (row["provider"], row["model"], row["prompt_tokens"], row["completion_tokens"]) == (
        "fakebackup", "fakebackup/gpt-4o-mini", 2, 3)
    assert (row["cost"], row["estimated"], row["status"]) == (expected, False, 200)
    assert ledger(database_url, row["request_id"]) == [("usage", -expected)]
    assert nanos(balance(funded.client)["balance"]) == 10_000_000_000 - expected
    assert held(funded.client) == "0.000000000"


def test_streamed_usage_cost_is_charged(sdk: openai.OpenAI, funded: GwUser, database_url: str,
                                         fake_b: FakeProvider) -> None:
    tag = client_id()
    with sdk.responses.stream(model="fakepriced/priced-model", input=HELLO, extra_headers=tagged(tag)) as stream:
        final = stream.get_final_response()
    expected = 3 * 1_000_000  # $0.001 per completion token, prompt free
    assert final.usage is not None and final.usage.output_tokens == 3
    assert final.usage.model_extra is not None and final.usage.model_extra["cost"] == pytest.approx(expected / 1e9)
    row = usage_row(database_url, tag)
    assert (row["provider"], row["cost"], row["status"], row["stream"]) == ("fakepriced", expected, 200, True)
    assert ledger(database_url, row["request_id"]) == [("usage", -expected)]


def test_unknown_model_and_bad_bodies_are_openai_errors(sdk: openai.OpenAI, fake_a: FakeProvider) -> None:
    with pytest.raises(openai.NotFoundError):
        sdk.responses.create(model="nobody-serves-this", input=HELLO)
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.responses.create(model=MODEL, input=[{"type": "function_call_output"}])  # type: ignore[list-item]
    assert set(raised.value.body) >= {"message", "type", "param", "code"}  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.responses.create(model=MODEL, input=HELLO, tools=[{"type": "web_search"}])
    assert "tools" in (raised.value.body["param"] or "")  # type: ignore[index]
    assert received(fake_a, "openai") == []


def test_sandbox_keys_serve_responses_without_upstream(
    gateway: Any, sdk: openai.OpenAI, funded: GwUser, database_url: str, fake_a: FakeProvider, fake_b: FakeProvider
) -> None:
    made = funded.client.post("/user/api-keys", json={"name": "sandbox", "environment": "test"})
    assert made.status_code == 201, made.text
    with openai_client(gateway.url, made.json()["key"]) as sandbox:
        tag = client_id()
        text = sandbox.responses.create(model="sandbox/chat", input="Say hi", extra_headers=tagged(tag))
        assert text.status == "completed" and text.output_text and text.model == "sandbox/chat"
        assert usage_row(database_url, tag)["cost"] == 0
        assert sandbox.responses.retrieve(text.id).output_text == text.output_text
        with pytest.raises(openai.NotFoundError):
            sdk.responses.retrieve(text.id)  # the same user's live key does not see sandbox responses

        tools = [{**WEATHER_TOOL_RESPONSES, "name": "lookup"}]
        called = sandbox.responses.create(model="sandbox/chat", input="find cats", tools=tools)
        call = next(item for item in called.output if item.type == "function_call")
        assert call.name == "lookup" and isinstance(json.loads(call.arguments), dict)

        with sandbox.responses.stream(model="sandbox/chat", input="Stream please") as stream:
            deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
            final = stream.get_final_response()
        assert deltas and "".join(deltas) == final.output_text
        with sandbox.responses.stream(model="sandbox/chat", input="find cats", tools=tools) as stream:
            streamed_call = next(i for i in stream.get_final_response().output if i.type == "function_call")
        assert streamed_call.name == "lookup"
    assert posts(fake_a) == [] and posts(fake_b) == []
    assert ledger(database_url, usage_row(database_url, tag)["request_id"]) == []
