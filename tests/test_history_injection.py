"""History injection on chat completions (`session_id`) and Responses (`conversation`), end to end:
what the provider receives, what is stored, trimming, summaries, and what is never appended."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.fakeprovider import FakeProvider
from tests.support.databases import run_sql
from tests.support.identity import GwUser

MODEL = "fakeopenai/gpt-4o-mini"
ITEMS = "SELECT i.item FROM conversation_items i WHERE i.conversation_id = :p0 ORDER BY i.position"


def items_of(database_url: str, conversation_id: str, *, at_least: int = 0, timeout: float = 5.0) -> list[Any]:
    """The stored items of a conversation (appends run after the answer: wait for `at_least`)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = [orjson.loads(row[0]) for row in run_sql(database_url, ITEMS, conversation_id)]
        if len(rows) >= at_least or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


def chat(client: httpx.Client, session: str, text: str, **extra: Any) -> httpx.Response:
    body = {"model": MODEL, "session_id": session, "messages": [{"role": "user", "content": text}], **extra}
    return client.post("/v1/chat/completions", json=body)


def upstream_messages(fake: FakeProvider) -> list[dict[str, Any]]:
    return [m for m in fake.requests[-1].body["messages"]]  # type: ignore[index]


def test_a_new_session_is_created_and_later_turns_carry_the_earlier_ones(
    funded: GwUser, fake_a: FakeProvider, database_url: str
) -> None:
    first = funded.client.post("/v1/chat/completions", json={
        "model": MODEL, "session_id": "new",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "first question"}],
    })
    assert first.status_code == 200, first.text
    session = first.headers["x-gatewayz-session-id"]
    assert session.startswith("conv_")
    assert first.headers["x-gatewayz-history"] == "sent=0; trimmed=0"
    stored = items_of(database_url, session, at_least=2)
    # the request's system prompt is its own, per request: not part of the conversation
    assert [(i["type"], i["role"]) for i in stored] == [("message", "user"), ("message", "assistant")]
    assert stored[1]["content"][0]["text"] == "Echo: first question"

    second = chat(funded.client, session, "second", stream=True)
    assert second.status_code == 200 and second.text.rstrip().endswith("data: [DONE]")
    assert second.headers["x-gatewayz-history"] == "sent=2; trimmed=0"
    items_of(database_url, session, at_least=4)  # the streamed answer is appended once complete

    third = chat(funded.client, session, "third")
    assert third.headers["x-gatewayz-history"] == "sent=4; trimmed=0"
    assert upstream_messages(fake_a) == [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "Echo: first question"},
        {"role": "user", "content": "second"},
        {"role": "assistant", "content": "Echo: second"},
        {"role": "user", "content": "third"},
    ]


def test_history_goes_after_the_requests_own_system_prompt(funded: GwUser, fake_a: FakeProvider) -> None:
    session = chat(funded.client, "new", "remember 42").headers["x-gatewayz-session-id"]
    time.sleep(0.2)
    funded.client.post("/v1/chat/completions", json={"model": MODEL, "session_id": session, "messages": [
        {"role": "system", "content": "you are terse"}, {"role": "user", "content": "what number?"}]})
    roles = [(m["role"], m.get("content")) for m in upstream_messages(fake_a)]
    assert roles[0] == ("system", "you are terse")
    assert roles[-1] == ("user", "what number?")
    assert ("user", "remember 42") in roles[1:-1]


def test_trimming_keeps_the_newest_turns_and_never_splits_a_tool_call_from_its_result(
    funded: GwUser, fake_a: FakeProvider, database_url: str
) -> None:
    tool_turn = [
        {"role": "user", "content": "old question " + "padding " * 150},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "result " * 120},
        {"role": "user", "content": "thanks"},
    ]
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    opened = funded.client.post("/v1/chat/completions", json={
        "model": MODEL, "session_id": "new", "messages": tool_turn, "tools": tools})
    assert opened.status_code == 200, opened.text
    session = opened.headers["x-gatewayz-session-id"]
    items_of(database_url, session, at_least=5)
    for n in range(3):
        chat(funded.client, session, f"recent {n}")
        items_of(database_url, session, at_least=7 + 2 * n)
    # An 8,192-token window minus a large answer leaves room for the newest turns only; as the
    # answer shrinks, more turns fit, and at no point is a tool call sent without its result.
    cut_inside_the_tool_turn = False
    for max_tokens in range(7700, 6900, -40):
        response = chat(funded.client, session, "now", max_tokens=max_tokens, tools=tools)
        assert response.status_code == 200, response.text
        sent, trimmed = (int(part.split("=")[1]) for part in response.headers["x-gatewayz-history"].split("; "))
        messages = upstream_messages(fake_a)
        assert messages[-1] == {"role": "user", "content": "now"}
        assert len(messages) == sent + 1 and sent > 0
        assert messages[-3]["role"] == "user" and messages[-2]["role"] == "assistant"  # newest turns go first
        calls = {c["id"] for m in messages for c in m.get("tool_calls") or ()}
        results = {m["tool_call_id"] for m in messages if m["role"] == "tool"}
        assert calls == results, "a tool call and its result were separated"
        if calls and trimmed:
            cut_inside_the_tool_turn = True  # the old question went, the call and its result stayed
            assert messages[0].get("tool_calls"), messages[0]
    assert cut_inside_the_tool_turn


def test_a_failed_request_appends_nothing(funded: GwUser, fake_a: FakeProvider, database_url: str) -> None:
    session = chat(funded.client, "new", "hello").headers["x-gatewayz-session-id"]
    before = items_of(database_url, session, at_least=2)
    fake_a.set(status=400, error_message="no such thing")
    failed = chat(funded.client, session, "this one fails")
    assert failed.status_code == 400
    fake_a.reset()
    time.sleep(0.3)
    assert items_of(database_url, session) == before


def test_a_client_that_disconnects_mid_stream_appends_nothing(
    funded: GwUser, fake_a: FakeProvider, gateway: Any, database_url: str
) -> None:
    session = chat(funded.client, "new", "hello").headers["x-gatewayz-session-id"]
    before = items_of(database_url, session, at_least=2)
    fake_a.set(chunk_delay_ms=50)
    body = {"model": MODEL, "session_id": session, "stream": True,
            "messages": [{"role": "user", "content": "tell me a long story " * 10}]}
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {funded.key}"}) as client:
        with client.stream("POST", "/v1/chat/completions", json=body) as stream:
            for n, _ in enumerate(stream.iter_lines()):
                if n > 4:
                    break
    fake_a.reset()
    time.sleep(0.5)
    assert items_of(database_url, session) == before


def test_another_users_session_is_not_found_and_untouched(
    funded: GwUser, make_user: Any, admin: httpx.Client, database_url: str
) -> None:
    from tests.support.money import grant

    session = chat(funded.client, "new", "mine").headers["x-gatewayz-session-id"]
    before = items_of(database_url, session, at_least=2)
    other = make_user()
    grant(admin, other.id, "5")
    response = chat(other.client, session, "let me in")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "conversation_not_found"
    assert session not in response.text or "not found" in response.text
    assert items_of(database_url, session) == before


def test_bad_history_fields_are_400s(funded: GwUser) -> None:
    for body, param in (
        ({"session_id": 42}, "session_id"),
        ({"session_id": ""}, "session_id"),
        ({"history": {"summarize": "yes"}, "session_id": "new"}, "history.summarize"),
        ({"history": {"summarize": True}}, "session_id"),
        ({"history": {"other": 1}, "session_id": "new"}, "history"),
    ):
        response = funded.client.post("/v1/chat/completions", json={
            "model": MODEL, "messages": [{"role": "user", "content": "x"}], **body})
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["param"] == param
    embed = funded.client.post("/v1/embeddings", json={
        "model": "fakeopenai/text-embedding-3-small", "input": "x", "session_id": "new"})
    assert embed.status_code == 400 and embed.json()["error"]["param"] == "session_id"


def test_the_session_field_never_reaches_the_provider(funded: GwUser, fake_a: FakeProvider) -> None:
    chat(funded.client, "new", "hello", history={"summarize": False})
    sent = fake_a.requests[-1].body
    assert "session_id" not in sent and "history" not in sent and "conversation" not in sent


def test_the_trimmed_prefix_is_summarised_billed_as_its_own_request_and_reused(
    funded: GwUser, fake_a: FakeProvider, fake_b: FakeProvider, database_url: str
) -> None:
    session = chat(funded.client, "new", "my name is Ada " + "and more " * 100).headers["x-gatewayz-session-id"]
    items_of(database_url, session, at_least=2)
    chat(funded.client, session, "I like tea " + "really " * 100)
    items_of(database_url, session, at_least=4)
    response = chat(funded.client, session, "what do you know?", max_tokens=7800, history={"summarize": True})
    assert response.status_code == 200, response.text
    assert "trimmed=0" not in response.headers["x-gatewayz-history"]
    first = upstream_messages(fake_a)
    assert first[0]["role"] == "system" and first[0]["content"].startswith("Summary of the earlier part")
    summary_calls = [r for r in fake_b.requests if r.path.endswith("/chat/completions")]
    assert len(summary_calls) == 1  # the summary model (fakebackup) was asked once
    assert "my name is Ada" in summary_calls[0].body["messages"][1]["content"]
    rows = run_sql(database_url, "SELECT model, cost FROM usage_records r JOIN api_keys k ON k.id = r.key_id "
                                 "WHERE k.user_id = :p0 AND r.model = :p1", funded.id, "fakebackup/gpt-4o-mini")
    assert len(rows) == 1 and int(rows[0][1]) > 0  # billed to the user, as its own usage record
    stored = run_sql(database_url, "SELECT summary FROM conversations WHERE id = :p0", session)
    assert stored[0][0]
    again = chat(funded.client, session, "and now?", max_tokens=7800, history={"summarize": True})
    assert again.status_code == 200
    assert len([r for r in fake_b.requests if r.path.endswith("/chat/completions")]) == 1  # reused


def test_responses_with_a_conversation_read_it_and_append_the_turn(
    funded: GwUser, fake_a: FakeProvider, gateway: Any, database_url: str
) -> None:
    session = chat(funded.client, "new", "the code word is heron").headers["x-gatewayz-session-id"]
    items_of(database_url, session, at_least=2)
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=funded.key, max_retries=0,
                           _strict_response_validation=True)
    answer = client.responses.create(model=MODEL, input="what was the code word?", conversation=session)
    assert answer.output_text == "Echo: what was the code word?"
    texts = [m.get("content") for m in upstream_messages(fake_a)]
    assert texts[0] == "the code word is heron" and texts[-1] == "what was the code word?"
    stored = items_of(database_url, session, at_least=4)
    assert stored[2]["role"] == "user" and stored[3]["role"] == "assistant"
    assert stored[3]["id"] == answer.output[0].id  # the same item the Response showed
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model=MODEL, input="x", conversation=session, previous_response_id=answer.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model=MODEL, input="x", conversation="conv_doesnotexist")


def test_an_idempotent_retry_appends_the_turn_once(funded: GwUser, database_url: str) -> None:
    session = chat(funded.client, "new", "hello").headers["x-gatewayz-session-id"]
    items_of(database_url, session, at_least=2)
    headers = {"Idempotency-Key": "history-retry-1"}
    body = {"model": MODEL, "session_id": session, "messages": [{"role": "user", "content": "once"}]}
    first = funded.client.post("/v1/chat/completions", json=body, headers=headers)
    items_of(database_url, session, at_least=4)
    retry = funded.client.post("/v1/chat/completions", json=body, headers=headers)
    assert retry.status_code == 200 and retry.headers.get("idempotent-replayed") == "true"
    assert retry.json() == first.json()
    time.sleep(0.3)
    assert len(items_of(database_url, session)) == 4


def test_what_is_injected_follows_every_change_to_the_items(
    funded: GwUser, fake_a: FakeProvider, database_url: str
) -> None:
    """The gateway keeps a copy of the histories it injects (history/history_cache.py): items
    added or deleted through the API, or appended by another process, show in the next request."""
    session = chat(funded.client, "new", "one").headers["x-gatewayz-session-id"]
    items_of(database_url, session, at_least=2)
    chat(funded.client, session, "two")
    stored = items_of(database_url, session, at_least=4)
    chat(funded.client, session, "three")  # read from the copy, which the previous turn extended
    assert [m["content"] for m in upstream_messages(fake_a)] == ["one", "Echo: one", "two", "Echo: two", "three"]
    items_of(database_url, session, at_least=6)

    gone = funded.client.delete(f"/v1/conversations/{session}/items/{stored[1]['id']}")
    assert gone.status_code == 200, gone.text
    added = funded.client.post(f"/v1/conversations/{session}/items", json={"items": [
        {"type": "message", "role": "user", "content": "added through the API"}]})
    assert added.status_code == 200, added.text
    chat(funded.client, session, "four")
    assert [m["content"] for m in upstream_messages(fake_a)] == [
        "one", "two", "Echo: two", "three", "Echo: three", "added through the API", "four"]
    items_of(database_url, session, at_least=8)

    # Another process appends (its rows and the conversation's counters, as the store writes them).
    run_sql(database_url, "UPDATE conversations SET next_position = next_position + 1, item_count = item_count + 1 "
            "WHERE id = :p0", session)
    position = run_sql(database_url, "SELECT next_position - 1, user_id, environment FROM conversations "
                       "WHERE id = :p0", session)[0]
    item = orjson.dumps({"id": "msg_elsewhere", "type": "message", "role": "user", "status": "completed",
                         "content": [{"type": "input_text", "text": "from another replica"}]}).decode()
    run_sql(database_url, "INSERT INTO conversation_items (conversation_id, user_id, environment, position, item_id, "
            "type, role, item, text, created_at) VALUES (:p0, :p1, :p2, :p3, 'msg_elsewhere', 'message', 'user', "
            ":p4, 'from another replica', CURRENT_TIMESTAMP)", session, position[1], position[2], position[0], item)
    chat(funded.client, session, "five")
    assert [m["content"] for m in upstream_messages(fake_a)][-3:] == ["Echo: four", "from another replica", "five"]


def test_a_turn_sent_the_moment_the_last_answer_ends_sees_that_answer(
    funded: GwUser, fake_a: FakeProvider
) -> None:
    """The append runs after the answer went out; the next request on the session (in this
    process) waits for it rather than read the conversation without it."""
    session = chat(funded.client, "new", "turn 0").headers["x-gatewayz-session-id"]
    for n in range(1, 8):
        response = chat(funded.client, session, f"turn {n}")  # no pause between turns
        assert response.headers["x-gatewayz-history"] == f"sent={2 * n}; trimmed=0"
        sent = [m["content"] for m in upstream_messages(fake_a)]
        assert sent[-3:] == [f"turn {n - 1}", f"Echo: turn {n - 1}", f"turn {n}"]
