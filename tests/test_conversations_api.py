"""OpenAI's Conversations API on the gateway, through the official openai SDK with strict response
validation: create (items, metadata), retrieve, update, delete; items list (pagination both ways,
the SDK's auto-paging), create, retrieve, delete; the item shapes the SDK reads; malformed items
refused naming the field; the store's limits as 400s; and isolation between users and between a
user's live and sandbox keys, on every call."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.conversations import Message
from openai.types.responses import (
    ResponseFunctionToolCallItem,
    ResponseFunctionToolCallOutputItem,
    ResponseInputImage,
    ResponseInputText,
    ResponseOutputRefusal,
    ResponseOutputText,
    ResponseReasoningItem,
)

from tests.conftest import settings_from_env
from tests.support.clients import openai_client
from tests.support.faces import PIXEL
from tests.support.identity import GwUser
from tests.support.servers import ThreadedGateway

IMAGE = f"data:image/png;base64,{PIXEL}"


@pytest.fixture
def sdk(gateway: Any, user: GwUser) -> Iterator[openai.OpenAI]:
    with openai_client(gateway.url, user.key) as client:
        yield client


@pytest.fixture(scope="module")
def shared_sdk(gateway: Any, admin: httpx.Client) -> Iterator[openai.OpenAI]:
    """One user for the tests that only need refusals (a fresh user each costs a key's hashing)."""
    created = admin.post("/admin/users", json={"email": f"conversations-{secrets.token_hex(4)}@example.com"})
    assert created.status_code == 201, created.text
    with openai_client(gateway.url, created.json()["api_key"]["key"]) as client:
        yield client


def texts(items: list[Any]) -> list[str]:
    return [item.content[0].text if item.type == "message" else item.type for item in items]


def error_of(raised: pytest.ExceptionInfo[openai.APIStatusError]) -> dict[str, Any]:
    body = raised.value.response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    return body["error"]  # type: ignore[no-any-return]


# -- conversations ---------------------------------------------------------------------------------


def test_create_retrieve_update_delete(sdk: openai.OpenAI) -> None:
    conv = sdk.conversations.create(items=[{"role": "user", "content": "hi"}], metadata={"topic": "demo"})
    assert conv.object == "conversation" and conv.id.startswith("conv_")
    assert conv.metadata == {"topic": "demo"} and isinstance(conv.created_at, int)
    assert sdk.conversations.retrieve(conv.id) == conv
    updated = sdk.conversations.update(conv.id, metadata={"topic": "changed", "k": "v"})
    assert updated.id == conv.id and updated.metadata == {"topic": "changed", "k": "v"}
    assert sdk.conversations.update(conv.id, metadata=None).metadata == {}
    deleted = sdk.conversations.delete(conv.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (conv.id, "conversation.deleted", True)
    with pytest.raises(openai.NotFoundError) as gone:
        sdk.conversations.retrieve(conv.id)
    assert conv.id in error_of(gone)["message"] and error_of(gone)["code"] == "conversation_not_found"
    with pytest.raises(openai.NotFoundError):
        sdk.conversations.delete(conv.id)
    with pytest.raises(openai.NotFoundError):
        sdk.conversations.items.list(conv.id)


def test_an_empty_conversation(sdk: openai.OpenAI, gateway: Any, user: GwUser) -> None:
    conv = sdk.conversations.create()
    assert conv.metadata == {}
    page = sdk.conversations.items.list(conv.id)
    assert page.data == [] and page.has_more is False
    raw = user.client.post("/v1/conversations")  # no body at all
    assert raw.status_code == 200 and raw.json()["object"] == "conversation"
    listing = user.client.get(f"/v1/conversations/{conv.id}/items").json()
    assert listing == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


def test_items_come_back_in_the_sdk_shapes(sdk: openai.OpenAI) -> None:
    given: list[Any] = [
        {"role": "developer", "content": "Be brief."},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "What is this?"}, {"type": "input_image", "image_url": IMAGE}]},
        {"role": "assistant", "content": "A pixel.", "phase": "final_answer"},
        {"type": "message", "role": "assistant", "id": "msg_mine", "status": "incomplete",
         "content": [{"type": "output_text", "text": "Partly", "annotations": []},
                     {"type": "refusal", "refusal": "no more"}]},
        {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": '{"q": "pixel"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "one pixel"},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thinking"}]},
    ]
    conv = sdk.conversations.create(items=given)
    items = list(sdk.conversations.items.list(conv.id, order="asc"))
    assert len(items) == 7
    developer, user, answer, partial, call, output, reasoning = items
    assert isinstance(developer, Message) and developer.role == "developer" and developer.status == "completed"
    assert developer.content == [ResponseInputText(type="input_text", text="Be brief.")]
    assert isinstance(user, Message) and isinstance(user.content[1], ResponseInputImage)
    assert (user.content[1].image_url, user.content[1].detail) == (IMAGE, "auto")
    assert isinstance(answer, Message) and answer.phase == "final_answer"
    assert answer.content == [ResponseOutputText(type="output_text", text="A pixel.", annotations=[])]
    assert isinstance(partial, Message) and (partial.id, partial.status) == ("msg_mine", "incomplete")
    assert isinstance(partial.content[1], ResponseOutputRefusal) and partial.content[1].refusal == "no more"
    assert isinstance(call, ResponseFunctionToolCallItem) and call.id.startswith("fc_")
    assert (call.call_id, call.name, call.arguments, call.status) == ("call_1", "lookup", '{"q": "pixel"}', "completed")
    assert isinstance(output, ResponseFunctionToolCallOutputItem) and output.output == "one pixel"
    assert isinstance(reasoning, ResponseReasoningItem) and reasoning.id == "rs_1"
    assert reasoning.summary[0].text == "thinking"
    assert all(item.id.startswith(("msg_", "fc_", "fco_", "rs_")) for item in items)
    assert [i.id for i in sdk.conversations.items.list(conv.id)] == [i.id for i in reversed(items)]  # desc default


def test_items_pagination_both_ways(sdk: openai.OpenAI) -> None:
    conv = sdk.conversations.create(items=[{"role": "user", "content": f"m{n}"} for n in range(20)])
    added = sdk.conversations.items.create(conv.id, items=[{"role": "user", "content": f"m{n}"} for n in range(20, 25)])
    assert added.object == "list" and texts(added.data) == [f"m{n}" for n in range(20, 25)]
    assert (added.first_id, added.last_id, added.has_more) == (added.data[0].id, added.data[-1].id, False)
    first = sdk.conversations.items.list(conv.id, limit=10, order="asc")
    assert texts(first.data) == [f"m{n}" for n in range(10)] and first.has_more is True
    assert first.last_id == first.data[-1].id
    second = sdk.conversations.items.list(conv.id, limit=10, order="asc", after=first.last_id)
    assert texts(second.data) == [f"m{n}" for n in range(10, 20)]
    third = sdk.conversations.items.list(conv.id, limit=10, order="asc", after=second.data[-1].id)
    assert texts(third.data) == [f"m{n}" for n in range(20, 25)] and third.has_more is False
    newest = [item for item in sdk.conversations.items.list(conv.id, limit=7)]  # the SDK follows has_more
    assert texts(newest) == [f"m{n}" for n in reversed(range(25))]
    page = sdk.conversations.items.list(conv.id, limit=100, include=["message.output_text.logprobs"])
    assert len(page.data) == 25 and page.has_more is False
    with pytest.raises(openai.BadRequestError) as bad_cursor:
        sdk.conversations.items.list(conv.id, after="msg_unknown")
    assert error_of(bad_cursor)["param"] == "after"
    for query, param in (({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"order": "up"}, "order"),
                         ({"include[]": "bogus"}, "include[][0]")):
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.conversations.items.list(conv.id, extra_query=query)
        assert error_of(refused)["param"] == param


def test_item_crud(sdk: openai.OpenAI) -> None:
    conv = sdk.conversations.create(items=[{"role": "user", "content": "keep"}])
    added = sdk.conversations.items.create(conv.id, items=[{"role": "user", "content": "drop"},
                                                           {"role": "assistant", "content": "ok"}],
                                           include=["reasoning.encrypted_content"])
    dropped = added.data[0]
    got = sdk.conversations.items.retrieve(dropped.id, conversation_id=conv.id,
                                           include=["message.input_image.image_url"])
    assert got == dropped
    after = sdk.conversations.items.delete(dropped.id, conversation_id=conv.id)
    assert after.object == "conversation" and after.id == conv.id
    assert texts(list(sdk.conversations.items.list(conv.id, order="asc"))) == ["keep", "ok"]
    with pytest.raises(openai.NotFoundError) as gone:
        sdk.conversations.items.retrieve(dropped.id, conversation_id=conv.id)
    assert error_of(gone)["code"] == "item_not_found"
    with pytest.raises(openai.NotFoundError):
        sdk.conversations.items.delete(dropped.id, conversation_id=conv.id)
    with pytest.raises(openai.NotFoundError):
        sdk.conversations.items.create("conv_missing", items=[{"role": "user", "content": "x"}])


def test_given_ids_are_kept_and_must_be_new(sdk: openai.OpenAI) -> None:
    conv = sdk.conversations.create(items=[{"type": "message", "id": "msg_a", "role": "user", "content": "a"}])
    assert sdk.conversations.items.retrieve("msg_a", conversation_id=conv.id).id == "msg_a"
    with pytest.raises(openai.BadRequestError) as taken:
        sdk.conversations.items.create(conv.id, items=[{"type": "message", "id": "msg_a", "role": "user",
                                                        "content": "again"}])
    assert error_of(taken)["param"] == "items[0].id"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"items": [{"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "bogus"}]}]},
         "items[0].content[1].type", "invalid_value"),
        ({"items": [{"role": "user", "content": "ok"}, {"role": "robot", "content": "x"}]}, "items[1].role",
         "invalid_value"),
        ({"items": [{"type": "message", "role": "user"}]}, "items[0].content", "missing_required_parameter"),
        ({"items": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": 1}]},
         "items[0].arguments", "invalid_type"),
        ({"items": [{"type": "function_call_output", "call_id": "c"}]}, "items[0].output",
         "missing_required_parameter"),
        ({"items": [{"type": "web_search_call", "id": "ws_1"}]}, "items[0].type", "unsupported_value"),
        ({"items": [{"type": "item_reference", "id": "msg_1"}]}, "items[0].type", "unsupported_value"),
        ({"items": [{"role": "user", "content": "x", "status": "done"}]}, "items[0].status", "invalid_value"),
        ({"items": [{"role": "user", "content": "x", "id": 7}]}, "items[0].id", "invalid_type"),
        ({"items": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]},
         "items[0].content[0].file_id", "unsupported_value"),
        ({"items": [{"type": "reasoning", "summary": [{"type": "summary_text"}]}]}, "items[0].summary[0].text",
         "missing_required_parameter"),
        ({"items": ["hello"]}, "items[0]", "invalid_type"),
        ({"items": {"role": "user"}}, "items", "invalid_type"),
        ({"items": [{"role": "user", "content": "x"}] * 21}, "items", "array_above_max_length"),
        ({"metadata": {f"k{n}": "v" for n in range(17)}}, "metadata", "invalid_value"),
        ({"metadata": {"k": 1}}, "metadata", "invalid_value"),
        ({"metadata": "tags"}, "metadata", "invalid_value"),
        ({"title": "not an OpenAI field"}, "title", "unknown_parameter"),
    ],
)
def test_malformed_requests_name_the_field(shared_sdk: openai.OpenAI, body: dict[str, Any], param: str,
                                          code: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        shared_sdk.post("/conversations", body=body, cast_to=httpx.Response)
    error = error_of(refused)
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error"), error


def test_malformed_item_additions_and_updates(sdk: openai.OpenAI, user: GwUser) -> None:
    conv = sdk.conversations.create()
    for body, param in (({"items": []}, "items"), ({}, "items"),
                        ({"items": [{"role": "user", "content": 5}]}, "items[0].content")):
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.post(f"/conversations/{conv.id}/items", body=body, cast_to=httpx.Response)
        assert error_of(refused)["param"] == param
    with pytest.raises(openai.BadRequestError) as missing:
        sdk.post(f"/conversations/{conv.id}", body={}, cast_to=httpx.Response)
    assert error_of(missing)["code"] == "missing_required_parameter"
    for content, expected in ((b"[1]", 400), (b"{not json", 400), (b"", 400)):
        raw = user.client.post(f"/v1/conversations/{conv.id}/items", content=content,
                               headers={"content-type": "application/json"})
        assert raw.status_code == expected, raw.text
    form = user.client.post("/v1/conversations", content=b"a=b",
                            headers={"content-type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415


def test_an_item_over_the_size_limit_is_refused_naming_it(sdk: openai.OpenAI, gateway: Any) -> None:
    limit = gateway.settings.history_max_item_bytes
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.conversations.create(items=[{"role": "user", "content": "ok"},
                                        {"role": "user", "content": "x" * (limit + 1)}])
    error = error_of(refused)
    assert (error["param"], error["code"]) == ("items[1]", "item_too_large") and str(limit) in error["message"]


@pytest.fixture(scope="module")
def small_gateway(base_env: dict[str, str], gateway: Any) -> Iterator[ThreadedGateway]:
    """The session's database, served with conversations of at most 3 items."""
    server = ThreadedGateway(settings_from_env(base_env, history_max_items=3)).start()
    yield server
    server.stop()


def test_a_full_conversation_is_refused(small_gateway: ThreadedGateway, user: GwUser) -> None:
    with openai_client(small_gateway.url, user.key) as sdk:
        with pytest.raises(openai.BadRequestError) as too_many:
            sdk.conversations.create(items=[{"role": "user", "content": str(n)} for n in range(4)])
        assert error_of(too_many)["code"] == "conversation_full"
        conv = sdk.conversations.create(items=[{"role": "user", "content": "1"}, {"role": "user", "content": "2"}])
        with pytest.raises(openai.BadRequestError) as full:
            sdk.conversations.items.create(conv.id, items=[{"role": "user", "content": str(n)} for n in range(2)])
        error = error_of(full)
        assert (error["code"], error["param"]) == ("conversation_full", "items") and "3" in error["message"]
        sdk.conversations.items.create(conv.id, items=[{"role": "user", "content": "3"}])
        sessions = httpx.post(f"{small_gateway.url}/v1/chat/sessions/{conv.id}/messages",
                              json={"messages": [{"role": "user", "content": "4"}]},
                              headers={"Authorization": f"Bearer {user.key}"})
        assert sessions.status_code == 400 and sessions.json()["error"]["code"] == "conversation_full"
        assert sessions.json()["error"]["param"] == "messages"
        assert len(sdk.conversations.items.list(conv.id).data) == 3


# -- who sees what -----------------------------------------------------------------------------------


def _every_call(sdk: openai.OpenAI, conv_id: str, item_id: str) -> list[Callable[[], Any]]:
    return [
        lambda: sdk.conversations.retrieve(conv_id),
        lambda: sdk.conversations.update(conv_id, metadata={"stolen": "yes"}),
        lambda: sdk.conversations.items.list(conv_id),
        lambda: sdk.conversations.items.create(conv_id, items=[{"role": "user", "content": "injected"}]),
        lambda: sdk.conversations.items.retrieve(item_id, conversation_id=conv_id),
        lambda: sdk.conversations.items.delete(item_id, conversation_id=conv_id),
        lambda: sdk.conversations.delete(conv_id),
    ]


def test_another_user_gets_404_on_every_call(sdk: openai.OpenAI, gateway: Any, make_user: Any) -> None:
    conv = sdk.conversations.create(items=[{"role": "user", "content": "mine"}], metadata={"owner": "alice"})
    item_id = sdk.conversations.items.list(conv.id).data[0].id
    bob = make_user()
    with openai_client(gateway.url, bob.key) as other:
        for call in _every_call(other, conv.id, item_id):
            with pytest.raises(openai.NotFoundError) as hidden:
                call()
            error = error_of(hidden)
            assert error["type"] == "invalid_request_error" and "alice" not in error["message"]
    assert sdk.conversations.retrieve(conv.id).metadata == {"owner": "alice"}
    assert texts(list(sdk.conversations.items.list(conv.id))) == ["mine"]


def test_sandbox_and_live_keys_of_one_user_are_separate(sdk: openai.OpenAI, gateway: Any, user: GwUser) -> None:
    created = user.client.post("/user/api-keys", json={"name": "sandbox", "environment": "test"})
    assert created.status_code == 201, created.text
    with openai_client(gateway.url, created.json()["key"]) as sandbox:
        live = sdk.conversations.create(items=[{"role": "user", "content": "live"}])
        test = sandbox.conversations.create(items=[{"role": "user", "content": "test"}])
        for client, conv in ((sandbox, live), (sdk, test)):
            item_id = (sdk if conv is live else sandbox).conversations.items.list(conv.id).data[0].id
            for call in _every_call(client, conv.id, item_id):
                with pytest.raises(openai.NotFoundError):
                    call()
        assert texts(list(sandbox.conversations.items.list(test.id))) == ["test"]


def test_keys_without_the_inference_scope_are_refused(gateway: Any, user: GwUser, anon: httpx.Client) -> None:
    created = user.client.post("/user/api-keys", json={"name": "keys only", "scopes": ["keys"]})
    assert created.status_code == 201, created.text
    with openai_client(gateway.url, created.json()["key"]) as limited:
        with pytest.raises(openai.PermissionDeniedError):
            limited.conversations.create()
        with pytest.raises(openai.PermissionDeniedError):
            limited.conversations.retrieve("conv_x")
    assert anon.post("/v1/conversations", json={}).status_code == 401
    assert anon.get("/v1/conversations/conv_x/items").status_code == 401


def test_a_conversation_is_a_chat_session(sdk: openai.OpenAI, user: GwUser) -> None:
    conv = sdk.conversations.create(items=[{"role": "system", "content": "be kind"},
                                           {"role": "user", "content": "Plan   a trip\nto Lisbon"}])
    session = user.client.get(f"/v1/chat/sessions/{conv.id}").json()
    assert session["title"] == "Plan a trip to Lisbon"  # named after the first user message
    assert [m["content"] for m in session["messages"]] == ["be kind", "Plan   a trip\nto Lisbon"]
    untitled = sdk.conversations.create()
    sdk.conversations.items.create(untitled.id, items=[{"role": "user", "content": "later words"}])
    assert user.client.get(f"/v1/chat/sessions/{untitled.id}").json()["title"] == "later words"
