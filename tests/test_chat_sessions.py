"""The chat sessions face (`/v1/chat/sessions`) over real HTTP: create, list (cursor pages, `q`,
`model`, `since`/`until`), search across 200 sessions with snippets, get with messages, patch,
delete, appending chat messages or items without inference, the JSON and Markdown exports (and a
JSON export re-imported through the Conversations API reproducing the session), hostile input as
400s naming the field, and isolation between users and between live and sandbox keys on every
route."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.clients import openai_client
from tests.support.databases import run_sql
from tests.support.faces import PIXEL
from tests.support.identity import GwUser

MODEL = "openai/gpt-4o-mini"
CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a travel agent."},
    {"role": "user", "content": "Find me a flight to Lisbon"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "find_flights", "arguments": '{"to": "LIS"}'}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "TP1234 at 09:40"},
    {"role": "assistant", "content": "TP1234 leaves at 09:40. Shall I book it?"},
    {"role": "user", "content": [{"type": "text", "text": "Here is my passport"},
                                 {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}}]},
    {"role": "assistant", "content": [{"type": "text", "text": "Thanks."}, {"type": "refusal", "refusal": "No IDs."}]},
]


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: httpx.Response, param: str | None, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["param"] == param, error
    return error  # type: ignore[no-any-return]


def create(client: httpx.Client, **body: Any) -> dict[str, Any]:
    return ok(client.post("/v1/chat/sessions", json=body), 201)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def shared(gateway: Any, admin: httpx.Client) -> Iterator[httpx.Client]:
    """One user for the tests that only need refusals (a fresh user each costs a key's hashing)."""
    created = ok(admin.post("/admin/users", json={"email": f"sessions-{secrets.token_hex(4)}@example.com"}), 201)
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {created['api_key']['key']}"}) as c:
        yield c


def sandbox_client(gateway: Any, user: GwUser) -> httpx.Client:
    key = ok(user.client.post("/user/api-keys", json={"name": "sandbox", "environment": "test"}), 201)["key"]
    return httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {key}"})


# -- create, get, patch, delete ---------------------------------------------------------------------


def test_create_and_get_with_messages(user: GwUser) -> None:
    session = create(user.client, title="Trip", model=MODEL, metadata={"app": "web"}, settings={"summarize": True},
                     messages=CONVERSATION)
    assert session["id"].startswith("conv_") and session["object"] == "chat.session"
    assert (session["title"], session["model"], session["metadata"], session["settings"]) == (
        "Trip", MODEL, {"app": "web"}, {"summarize": True})
    assert session["message_count"] == 7 and session["token_total"] == 0
    assert datetime.fromisoformat(session["created_at"]).tzinfo is not None
    got = ok(user.client.get(f"/v1/chat/sessions/{session['id']}"))
    assert got == session
    system, ask, call, result, answer, passport, thanks = got["messages"]
    assert (system["role"], system["content"], system["type"]) == ("system", "You are a travel agent.", "message")
    assert ask["content"] == "Find me a flight to Lisbon" and ask["id"].startswith("msg_")
    assert (call["type"], call["role"], call["content"]) == ("function_call", "assistant", None)
    assert call["tool_calls"] == CONVERSATION[2]["tool_calls"]
    assert (result["role"], result["tool_call_id"], result["content"]) == ("tool", "call_1", "TP1234 at 09:40")
    assert answer["content"] == "TP1234 leaves at 09:40. Shall I book it?"
    assert passport["content"][0] == {"type": "text", "text": "Here is my passport"}
    assert passport["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert (thanks["content"], thanks["refusal"]) == ("Thanks.", "No IDs.")
    assert all(m["created_at"] == session["created_at"] and m["model"] is None for m in got["messages"])


def test_a_session_without_a_title_is_named_after_its_first_user_message(user: GwUser) -> None:
    long = "Please help me plan a two week journey through Portugal with trains, good food and beaches"
    named = create(user.client, messages=[{"role": "system", "content": "hi"}, {"role": "user", "content": long}])
    assert named["title"].endswith("…") and long.startswith(named["title"][:-1]) and len(named["title"]) <= 81
    empty = create(user.client)
    assert (empty["title"], empty["messages"], empty["message_count"]) == (None, [], 0)
    ok(user.client.post(f"/v1/chat/sessions/{empty['id']}/messages",
                        json={"messages": [{"role": "user", "content": "  what \n now "}]}), 201)
    assert ok(user.client.get(f"/v1/chat/sessions/{empty['id']}"))["title"] == "what now"
    kept = create(user.client, title="Mine", messages=[{"role": "user", "content": "other words"}])
    assert kept["title"] == "Mine"


def test_patch_changes_only_what_is_given(user: GwUser) -> None:
    session = create(user.client, title="Old", metadata={"k": "v"})
    url = f"/v1/chat/sessions/{session['id']}"
    renamed = ok(user.client.patch(url, json={"title": "New"}))
    assert (renamed["title"], renamed["metadata"], renamed["settings"]) == ("New", {"k": "v"}, {})
    assert "messages" not in renamed
    tuned = ok(user.client.patch(url, json={"settings": {"summarize": True}, "metadata": {"x": "y"}}))
    assert (tuned["title"], tuned["settings"], tuned["metadata"]) == ("New", {"summarize": True}, {"x": "y"})
    cleared = ok(user.client.patch(url, json={"title": None, "settings": None, "metadata": None}))
    assert (cleared["title"], cleared["settings"], cleared["metadata"]) == (None, {}, {})
    touched = ok(user.client.patch(url, json={}))
    assert touched["updated_at"] >= cleared["updated_at"]
    for body, param in (({"settings": {"summarise": True}}, "settings.summarise"),
                        ({"settings": {"summarize": "yes"}}, "settings.summarize"), ({"settings": []}, "settings"),
                        ({"title": 5}, "title"), ({"title": "x" * 513}, "title"), ({"title": "a\x00b"}, "title"),
                        ({"metadata": {"k": "v" * 513}}, "metadata"), ({"model": MODEL}, "model")):
        refused(user.client.patch(url, json=body), param)
    refused(user.client.patch(url, content=b"[]", headers={"content-type": "application/json"}), None)


def test_delete(user: GwUser, database_url: str) -> None:
    session = create(user.client, messages=[{"role": "user", "content": "bye"}])
    url = f"/v1/chat/sessions/{session['id']}"
    assert ok(user.client.delete(url)) == {"id": session["id"], "object": "chat.session.deleted", "deleted": True}
    for response in (user.client.get(url), user.client.delete(url), user.client.get(f"{url}/export"),
                     user.client.post(f"{url}/messages", json={"messages": [{"role": "user", "content": "x"}]})):
        refused(response, None, 404)
    assert run_sql(database_url, "SELECT id FROM conversation_items WHERE conversation_id = :p0", session["id"]) == []


# -- appending ---------------------------------------------------------------------------------------


def test_append_chat_messages_or_items(user: GwUser) -> None:
    session = create(user.client, title="Chat")
    url = f"/v1/chat/sessions/{session['id']}/messages"
    added = ok(user.client.post(url, json={"messages": CONVERSATION[1:5], "model": MODEL}), 201)
    assert added["object"] == "list" and [m["type"] for m in added["data"]] == [
        "message", "function_call", "function_call_output", "message"]
    assert all(m["model"] == MODEL for m in added["data"])
    assert added["session"]["model"] == MODEL and added["session"]["message_count"] == 4
    items = ok(user.client.post(url, json={"items": [
        {"role": "user", "content": "as an item"},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "weighing options"}]},
        {"type": "function_call", "call_id": "c2", "name": "f", "arguments": "{}"}]}), 201)
    assert [m["content"] for m in items["data"]] == ["as an item", None, None]
    assert items["data"][1] | {"id": None, "created_at": None} == {
        "id": None, "type": "reasoning", "role": "assistant", "content": None, "reasoning": "weighing options",
        "created_at": None, "model": None}
    assert items["session"]["model"] == MODEL  # appending without `model` keeps it
    markdown = user.client.get(f"/v1/chat/sessions/{session['id']}/export", params={"format": "markdown"}).text
    assert "### Reasoning ·" in markdown and "> weighing options" in markdown
    got = ok(user.client.get(f"/v1/chat/sessions/{session['id']}"))
    assert [m["id"] for m in got["messages"]] == [m["id"] for m in added["data"] + items["data"]]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "ok"}, {"role": "user", "content": [{"type": "bogus"}]}]},
         "messages[1].content[0].type"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user"}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": 7}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": []}]}, "messages[0].content"),
        ({"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x"}}]}]},
         "messages[0].content[0].type"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
         "messages[0].content[0].image_url.url"),
        ({"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f1"}}]}]},
         "messages[0].content[0].file.file_id"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"messages": [{"role": "assistant", "content": None, "tool_calls": [{"id": "c", "function": {}}]}]},
         "messages[0].tool_calls[0].function.name"),
        ({"messages": [{"role": "assistant", "content": ""}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": "x", "tool_call_id": 5}]}, "messages[0].tool_call_id"),
        ({"messages": [{"role": "user", "content": "x"}] * 101}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": {"role": "user"}}, "messages"),
        ({}, "messages"),
        ({"messages": [{"role": "user", "content": "x"}], "items": [{"role": "user", "content": "x"}]}, "items"),
        ({"items": [{"role": "user", "content": [{"type": "input_text"}]}]}, "items[0].content[0].text"),
        ({"messages": [{"role": "user", "content": "x"}], "model": 5}, "model"),
        ({"messages": [{"role": "user", "content": "x"}], "extra": 1}, "extra"),
    ],
)
def test_malformed_messages_name_the_field(shared: httpx.Client, body: dict[str, Any], param: str) -> None:
    session = create(shared)
    refused(shared.post(f"/v1/chat/sessions/{session['id']}/messages", json=body), param)
    assert ok(shared.get(f"/v1/chat/sessions/{session['id']}"))["messages"] == []  # nothing half appended


def test_an_oversized_message_is_named_by_its_message(user: GwUser, gateway: Any) -> None:
    session = create(user.client)
    big = "x" * (gateway.settings.history_max_item_bytes + 1)
    error = refused(user.client.post(f"/v1/chat/sessions/{session['id']}/messages", json={"messages": [
        {"role": "user", "content": "fine"}, {"role": "user", "content": big}]}), "messages[1]")
    assert error["code"] == "item_too_large" and str(gateway.settings.history_max_item_bytes) in error["message"]
    refused(user.client.post("/v1/chat/sessions", json={"title": {"a": 1}}), "title")
    refused(user.client.post("/v1/chat/sessions", json={"model": "m" * 257}), "model")
    refused(user.client.post("/v1/chat/sessions", json={"settings": {"summarize": 1}}), "settings.summarize")


# -- listing and search ------------------------------------------------------------------------------


def _at(session_id: str, when: datetime, database_url: str) -> None:
    """Set a session's `updated_at` behind the gateway's back (as each backend stores it)."""
    stamp: Any = when.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") if database_url.startswith("sqlite") \
        else when
    run_sql(database_url, "UPDATE conversations SET updated_at = :p0 WHERE id = :p1", stamp, session_id)


def test_listing_newest_first_with_cursor_and_filters(make_user: Any, database_url: str) -> None:
    person = make_user()
    base = datetime(2031, 5, 1, tzinfo=UTC)
    made = []
    for n in range(7):
        session = create(person.client, title=f"session {n}", model=MODEL if n % 2 else "other/model",
                         messages=[{"role": "user", "content": f"word{n} common"}])
        _at(session["id"], base + timedelta(hours=n), database_url)
        made.append(session["id"])
    seen, after = [], None
    while True:
        page = ok(person.client.get("/v1/chat/sessions", params={"limit": 3, **({"after": after} if after else {})}))
        assert page["object"] == "list" and len(page["data"]) <= 3
        seen += [s["id"] for s in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
        assert after == page["data"][-1]["id"] and page["first_id"] == page["data"][0]["id"]
    assert seen == made[::-1]

    def ids(**params: Any) -> list[str]:
        return [s["id"] for s in ok(person.client.get("/v1/chat/sessions", params={"limit": 100, **params}))["data"]]

    assert ids(q="word3") == [made[3]]
    assert ids(q="common") == made[::-1]
    assert ids(q="COMMON word3") == [made[3]] and ids(q="session 4") == [made[4]]  # in one message, or the title
    assert ids(q="nowhere") == []
    assert ids(model=MODEL) == [made[5], made[3], made[1]]
    assert ids(since=(base + timedelta(hours=2)).isoformat(), until=(base + timedelta(hours=5)).isoformat()) == [
        made[4], made[3], made[2]]
    assert ids(since="2031-05-01T03:00:00Z", model=MODEL, q="common") == [made[5], made[3]]
    assert ids(since="0001-01-01T00:00:00Z") == made[::-1]
    for params, param in (({"since": "yesterday"}, "since"), ({"until": "1714000000"}, "until"),
                          ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "ten"}, "limit"),
                          ({"after": "conv_unknown"}, "after"), ({"q": "x" * 1001}, "q")):
        refused(person.client.get("/v1/chat/sessions", params=params), param)
    assert ids(q="\x00 ' OR 1=1 -- \"NEAR* ^") == []


def test_search_finds_a_word_in_the_third_message_of_one_of_200_sessions(make_user: Any) -> None:
    person = make_user()
    needle = f"zebra{secrets.token_hex(3)}"
    target = 137

    def make(n: int) -> str:
        third = f"the {needle} crossed the road" if n == target else f"nothing to see in number {n}"
        body = {"title": f"Session {n}", "messages": [
            {"role": "user", "content": f"hello {n}"}, {"role": "assistant", "content": "hi, how can I help?"},
            {"role": "user", "content": third}]}
        response = person.client.post("/v1/chat/sessions", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(make, range(200)))
    assert time.monotonic() - started < 20
    found = ok(person.client.get("/v1/chat/sessions/search", params={"q": needle.upper()}))
    assert found["has_more"] is False and len(found["data"]) == 1
    (hit,) = found["data"]
    assert hit["session"]["id"] == made[target] and hit["session"]["title"] == f"Session {target}"
    session = ok(person.client.get(f"/v1/chat/sessions/{made[target]}"))
    assert hit["item_id"] == session["messages"][2]["id"]
    assert f"**{needle}**" in hit["snippet"] and "crossed" in hit["snippet"]
    titled = ok(person.client.get("/v1/chat/sessions/search", params={"q": "Session 42"}))
    assert [h["session"]["id"] for h in titled["data"]] == [made[42]] and titled["data"][0]["item_id"] is None
    many = ok(person.client.get("/v1/chat/sessions/search", params={"q": "help", "limit": 50}))
    assert len(many["data"]) == 50 and many["has_more"] is True
    assert ok(person.client.get("/v1/chat/sessions/search", params={"q": "*** ::"}))["data"] == []
    for params, param in (({}, "q"), ({"q": ""}, "q"), ({"q": "help", "limit": 0}, "limit")):
        refused(person.client.get("/v1/chat/sessions/search", params=params), param)


# -- export ------------------------------------------------------------------------------------------


def test_export_json_and_markdown(user: GwUser) -> None:
    session = create(user.client, title="Lisbon\ntrip", model=MODEL, messages=CONVERSATION)
    url = f"/v1/chat/sessions/{session['id']}/export"
    as_json = user.client.get(url)
    assert as_json.status_code == 200 and as_json.headers["content-type"] == "application/json"
    assert as_json.headers["content-disposition"] == f'attachment; filename="{session["id"]}.json"'
    exported = as_json.json()
    assert (exported["object"], exported["version"]) == ("chat.session.export", 1)
    assert exported["session"]["id"] == session["id"] and exported["session"]["title"] == "Lisbon\ntrip"
    assert [i["type"] for i in exported["items"]] == ["message", "message", "function_call", "function_call_output",
                                                      "message", "message", "message"]
    assert exported["items"][1]["content"] == [{"type": "input_text", "text": "Find me a flight to Lisbon"}]
    assert ok(user.client.get(url, params={"format": "json"})) | {"exported_at": None} == exported | {
        "exported_at": None}

    as_markdown = user.client.get(url, params={"format": "markdown"})
    assert as_markdown.status_code == 200
    assert as_markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert as_markdown.headers["content-disposition"] == f'attachment; filename="{session["id"]}.md"'
    text = as_markdown.text
    assert text.startswith("# Lisbon trip\n") and f"`{session['id']}`" in text and f"`{MODEL}`" in text
    for expected in ("### System ·", "You are a travel agent.", "### User ·", "Find me a flight to Lisbon",
                     "### Tool call `find_flights`", '{"to": "LIS"}', "### Tool result `call_1`", "TP1234 at 09:40",
                     "### Assistant ·", "Shall I book it?", "*[image]*", "> *Refused:* No IDs."):
        assert expected in text, expected
    assert text.index("Find me a flight") < text.index("find_flights") < text.index("Shall I book it?")
    refused(user.client.get(url, params={"format": "pdf"}), "format")


def test_a_json_export_reimports_through_the_conversations_api(gateway: Any, user: GwUser) -> None:
    messages = [*CONVERSATION, *({"role": "user" if n % 2 else "assistant", "content": f"turn {n}"}
                                 for n in range(30))]
    original = create(user.client, title="Long one", metadata={"source": "export"}, messages=messages[:100])
    exported = ok(user.client.get(f"/v1/chat/sessions/{original['id']}/export"))
    items = exported["items"]
    assert len(items) == 37
    with openai_client(gateway.url, user.key) as sdk:
        copy = sdk.conversations.create(items=items[:20], metadata=exported["session"]["metadata"])
        for start in range(20, len(items), 20):
            sdk.conversations.items.create(copy.id, items=items[start:start + 20])
        listed = [i.model_dump(exclude_none=True) for i in sdk.conversations.items.list(copy.id, order="asc")]
    assert listed == items  # the same items, ids included
    reimported = ok(user.client.get(f"/v1/chat/sessions/{copy.id}"))
    first = ok(user.client.get(f"/v1/chat/sessions/{original['id']}"))

    def comparable(session: dict[str, Any]) -> list[dict[str, Any]]:
        return [{k: v for k, v in m.items() if k != "created_at"} for m in session["messages"]]

    assert comparable(reimported) == comparable(first)
    assert (reimported["metadata"], reimported["message_count"]) == ({"source": "export"}, 37)
    again = ok(user.client.get(f"/v1/chat/sessions/{copy.id}/export"))
    assert again["items"] == items


# -- who sees what -----------------------------------------------------------------------------------


def _every_route(client: httpx.Client, session_id: str) -> list[httpx.Response]:
    url = f"/v1/chat/sessions/{session_id}"
    return [
        client.get(url),
        client.patch(url, json={"title": "stolen"}),
        client.post(f"{url}/messages", json={"messages": [{"role": "user", "content": "injected"}]}),
        client.get(f"{url}/export"),
        client.get(f"{url}/export", params={"format": "markdown"}),
        client.delete(url),
    ]


def _sees(client: httpx.Client, word: str, session_id: str) -> bool:
    listed = ok(client.get("/v1/chat/sessions", params={"limit": 100}))["data"]
    filtered = ok(client.get("/v1/chat/sessions", params={"q": word}))["data"]
    found = ok(client.get("/v1/chat/sessions/search", params={"q": word}))["data"]
    seen = {s["id"] for s in listed} | {s["id"] for s in filtered} | {h["session"]["id"] for h in found}
    return session_id in seen


def test_another_user_sees_nothing_on_any_route(user: GwUser, make_user: Any) -> None:
    word = f"private{secrets.token_hex(4)}"
    mine = create(user.client, title=f"Alice {word}", messages=[{"role": "user", "content": word}])
    bob = make_user()
    for response in _every_route(bob.client, mine["id"]):
        error = refused(response, None, 404)
        assert "Alice" not in error["message"]
    assert not _sees(bob.client, word, mine["id"])
    refused(bob.client.get("/v1/chat/sessions", params={"after": mine["id"]}), "after")  # no cursor either
    assert _sees(user.client, word, mine["id"])
    after = ok(user.client.get(f"/v1/chat/sessions/{mine['id']}"))
    assert after["title"] == f"Alice {word}" and [m["content"] for m in after["messages"]] == [word]


def test_sandbox_and_live_keys_of_one_user_are_separate(gateway: Any, user: GwUser) -> None:
    word = f"envword{secrets.token_hex(4)}"
    with sandbox_client(gateway, user) as sandbox:
        live = create(user.client, messages=[{"role": "user", "content": f"live {word}"}])
        test = create(sandbox, messages=[{"role": "user", "content": f"test {word}"}])
        for client, session in ((sandbox, live), (user.client, test)):
            for response in _every_route(client, session["id"]):
                refused(response, None, 404)
            assert not _sees(client, word, session["id"])
        assert _sees(sandbox, word, test["id"]) and _sees(user.client, word, live["id"])


def test_authentication_is_required(anon: httpx.Client, user: GwUser) -> None:
    assert anon.get("/v1/chat/sessions").status_code == 401
    assert anon.post("/v1/chat/sessions", json={}).status_code == 401
    assert anon.get("/v1/chat/sessions/search", params={"q": "x"}).status_code == 401
    limited = ok(user.client.post("/user/api-keys", json={"name": "billing", "scopes": ["billing"]}), 201)["key"]
    with httpx.Client(base_url=str(user.client.base_url), headers={"Authorization": f"Bearer {limited}"}) as client:
        assert client.get("/v1/chat/sessions").status_code == 403
        assert client.post("/v1/chat/sessions", json={}).status_code == 403
