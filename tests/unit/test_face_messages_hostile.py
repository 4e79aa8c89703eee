"""Messages face, hostile requests: every malformed body is an `InvalidRequest` naming the field,
never a crash (tables of bad bodies, then fuzzing)."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewayz.errors import InvalidRequest
from gatewayz.inference.faces.messages_request import check_count_tokens, to_chat
from gatewayz.inference.request import check_chat
from tests.unit.messages_bodies import WEATHER_TOOL, minimal, refused, rich_body

# -- hostile input -------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "param"), [
    ({"max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}, "model"),
    (minimal(max_tokens=None), "max_tokens"),
    (minimal(max_tokens="10"), "max_tokens"),
    (minimal(max_tokens=True), "max_tokens"),
    (minimal(max_tokens=0), "max_tokens"),
    (minimal(max_tokens=2**31), "max_tokens"),
    (minimal(messages=[]), "messages"),
    (minimal(messages="hi"), "messages"),
    (minimal(messages=None), "messages"),
    (minimal(messages=[5]), "messages.0"),
    (minimal(messages=[{"role": "bot", "content": "x"}]), "messages.0.role"),
    (minimal(messages=[{"role": "user"}]), "messages.0.content"),
    (minimal(messages=[{"role": "user", "content": ""}]), "messages.0"),
    (minimal(messages=[{"role": "user", "content": []}]), "messages.0"),
    (minimal(messages=[{"role": "assistant", "content": ""}, {"role": "user", "content": "x"}]), "messages.0"),
    (minimal(messages=[{"role": "user", "content": 7}]), "messages.0.content"),
    (minimal(messages=[{"role": "user", "content": [{"text": "no type"}]}]), "messages.0.content.0.type"),
    (minimal(messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}]),
     "messages.0.content.0.text"),
    (minimal(messages=[{"role": "user", "content": [{"type": "text", "text": 3}]}]), "messages.0.content.0.text"),
    (minimal(messages=[{"role": "user", "content": [{"type": "text", "text": "x", "cache_control": {"type": "x"}}]}]),
     "messages.0.content.0.cache_control"),
    (minimal(messages=[{"role": "user", "content": [{"type": "image"}]}]), "messages.0.content.0.source"),
    (minimal(messages=[{"role": "user", "content": [{"type": "image", "source": {
        "type": "base64", "media_type": "image/bmp", "data": "AA"}}]}]), "messages.0.content.0.source.media_type"),
    (minimal(messages=[{"role": "user", "content": [{"type": "image", "source": {
        "type": "base64", "media_type": "image/png"}}]}]), "messages.0.content.0.source.data"),
    (minimal(messages=[{"role": "user", "content": [{"type": "image", "source": {
        "type": "url", "url": "file:///etc/passwd"}}]}]), "messages.0.content.0.source.url"),
    (minimal(messages=[{"role": "user", "content": [{"type": "image", "source": {
        "type": "file", "file_id": "file_1"}}]}]), "messages.0.content.0.source"),
    (minimal(messages=[{"role": "user", "content": [{"type": "document", "source": {
        "type": "url", "url": "https://example.com/a.pdf"}}]}]), "messages.0.content.0.source"),
    (minimal(messages=[{"role": "user", "content": [{"type": "document", "source": {
        "type": "base64", "media_type": "image/png", "data": "AA"}}]}]), "messages.0.content.0.source.media_type"),
    (minimal(messages=[{"role": "user", "content": [{"type": "search_result", "source": "s", "title": "t",
                                                     "content": []}]}]), "messages.0.content.0.type"),
    (minimal(messages=[{"role": "user", "content": [{"type": "tool_use", "id": "a", "name": "b", "input": {}}]}]),
     "messages.0.content.0.type"),
    (minimal(messages=[{"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "a"}]}]),
     "messages.0.content.0.type"),
    (minimal(messages=[{"role": "assistant", "content": [{"type": "tool_use", "name": "b", "input": {}}]}]),
     "messages.0.content.0.id"),
    (minimal(messages=[{"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "b",
                                                          "input": "{}"}]}]), "messages.0.content.0.input"),
    (minimal(messages=[{"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "b",
                                                          "input": {"n": 2**70}}]}]), "messages.0.content.0.input"),
    (minimal(messages=[{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a",
                                                     "is_error": "yes"}]}]), "messages.0.content.0.is_error"),
    (minimal(messages=[{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": [
        {"type": "tool_reference", "tool_name": "x"}]}]}]), "messages.0.content.0.content.0.type"),
    (minimal(system=5), "system"),
    (minimal(system=[{"type": "image"}]), "system.0.type"),
    (minimal(tools={"name": "x"}), "tools"),
    (minimal(tools=[{"type": "web_search_20250305", "name": "web_search"}]), "tools.0.type"),
    (minimal(tools=[{"type": "bash_20250124", "name": "bash"}]), "tools.0.type"),
    (minimal(tools=[{"type": ["custom"], "name": "x"}]), "tools.0.type"),
    (minimal(tools=[{"name": "x"}]), "tools.0.input_schema"),
    (minimal(tools=[{"input_schema": {}}]), "tools.0.name"),
    (minimal(tools=[{"name": "x", "input_schema": {}, "description": 3}]), "tools.0.description"),
    (minimal(tool_choice="auto"), "tool_choice"),
    (minimal(tools=[WEATHER_TOOL], tool_choice={"type": "required"}), "tool_choice.type"),
    (minimal(tools=[WEATHER_TOOL], tool_choice={"type": "tool"}), "tool_choice.name"),
    (minimal(tools=[WEATHER_TOOL], tool_choice={"type": "auto", "disable_parallel_tool_use": 1}),
     "tool_choice.disable_parallel_tool_use"),
    (minimal(stop_sequences="END"), "stop_sequences"),
    (minimal(stop_sequences=["a", 1]), "stop_sequences.1"),
    (minimal(temperature=1.5), "temperature"),
    (minimal(temperature="hot"), "temperature"),
    (minimal(top_p=-0.1), "top_p"),
    (minimal(top_k=1.5), "top_k"),
    (minimal(top_k=-1), "top_k"),
    (minimal(metadata="u"), "metadata"),
    (minimal(metadata={"user_id": 5}), "metadata.user_id"),
    (minimal(thinking={"type": "enabled"}), "thinking.budget_tokens"),
    (minimal(thinking={"type": "enabled", "budget_tokens": 100}), "thinking.budget_tokens"),
    (minimal(thinking={"type": "on"}), "thinking.type"),
    (minimal(stream="yes"), "stream"),
    (minimal(service_tier="priority"), "service_tier"),
    (minimal(service_tier=[]), "service_tier"),  # unhashable values where a name is looked up (found by fuzzing)
    (minimal(messages=[{"role": "user", "content": [{"type": "image", "source": {
        "type": "base64", "media_type": [], "data": "AA"}}]}]), "messages.0.content.0.source.media_type"),
])  # fmt: skip
def test_malformed_bodies_are_400s_naming_the_field(body: Any, param: str) -> None:
    error = refused(body)
    assert error.status == 400
    assert error.param == param
    assert error.message.startswith(f"'{param}'" if param == "model" else f"{param}: ")


def test_server_tool_error_names_the_type() -> None:
    error = refused(minimal(tools=[{"type": "computer_20250124", "name": "computer"}]))
    assert "computer_20250124" in error.message and error.code == "unsupported_value"


def test_non_object_bodies() -> None:
    for body in ([], "x", None, 3):
        assert refused(body).status == 400


def test_deeply_nested_tool_input_is_a_400() -> None:
    deep: Any = {}
    for _ in range(400):
        deep = {"a": deep}
    body = minimal(messages=[{"role": "assistant", "content": [
        {"type": "tool_use", "id": "a", "name": "b", "input": deep}]}, {"role": "user", "content": "x"}])
    assert refused(body).param == "messages.0.content.0.input"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats(allow_nan=False)
    | st.text(max_size=8) | st.sampled_from(["text", "image", "document", "tool_use", "tool_result", "base64",
                                             "url", "user", "assistant", "custom", "tool", "any", "enabled"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "text", "source", "content", "role", "data", "media_type", "url", "id", "name",
                         "input", "tool_use_id", "is_error", "cache_control", "input_schema"]) | st.text(max_size=4),
        children, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.extend(_paths(child, (*prefix, index)))
    return out


def _replace(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


def _survives(body: Any) -> bool:
    """The only failure allowed is an InvalidRequest; a success is a body the pipeline accepts.
    True once both translators have either answered or refused (any other exception escapes)."""
    for translate in (to_chat, check_count_tokens):
        try:
            chat = translate(body)
        except InvalidRequest as exc:
            assert exc.status == 400 and exc.message
            continue
        assert isinstance(chat, dict) and chat["messages"]
        if translate is to_chat:
            try:
                check_chat(chat)
            except InvalidRequest as exc:  # only the pass-through routing fields may still be refused
                assert exc.message
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_mutated_bodies_never_crash(data: st.DataObject) -> None:
    body = copy.deepcopy(rich_body())  # shared constants (the tool) must not be mutated
    path = data.draw(st.sampled_from(_paths(body)))
    assert _survives(_replace(body, path, data.draw(JSON_VALUES)))


@settings(max_examples=300, deadline=None)
@given(body=JSON_VALUES)
def test_fuzz_arbitrary_bodies_never_crash(body: Any) -> None:
    assert _survives(body)


@settings(max_examples=300, deadline=None)
@given(messages=st.lists(JSON_VALUES, min_size=1, max_size=4))
def test_fuzz_arbitrary_messages_never_crash(messages: list[Any]) -> None:
    assert _survives(minimal(messages=messages))


def test_what_the_sdk_sends_is_accepted() -> None:
    """The body the official SDK builds (captured at its transport) translates without complaint."""
    import httpx2
    from anthropic import Anthropic

    sent: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(orjson.loads(request.content))
        return httpx2.Response(400, json={"type": "error", "error": {"type": "invalid_request_error", "message": "x"}})

    client = Anthropic(api_key="k", base_url="http://gateway.test", max_retries=0,
                       http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    body = rich_body()
    # SDK 2.x no longer offers the sampling parameters (newer models refuse them); they still go as extras
    extra = ("provider", "models", "temperature", "top_p", "top_k")
    with pytest.raises(Exception, match="Error code: 400"):
        client.messages.create(**{k: v for k, v in body.items() if k not in extra},
                               extra_body={k: body[k] for k in extra})
    assert to_chat(sent[0]) == to_chat(body)
