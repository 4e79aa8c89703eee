"""Sandbox tool calling: parallel calls, tool_choice, tool results and truncation."""

from __future__ import annotations

import json
import re

from tests.unit.sandbox_helpers import CLOCK_TOOL, TOOLS, WEATHER_TOOL, chat, check_schema, schema_of, user


def test_parallel_tool_calls_call_the_first_two_tools() -> None:
    result = chat(user("Weather in Paris and news about it?", tools=TOOLS))
    choice = result["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None
    calls = message["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "web_search"]
    for call, tool in zip(calls, TOOLS, strict=False):
        assert call["type"] == "function"
        assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call["id"])
        check_schema(json.loads(call["function"]["arguments"]), schema_of(tool))
    assert calls[0]["id"] != calls[1]["id"]
    assert json.loads(calls[1]["function"]["arguments"])["query"].startswith("Weather in Paris")
    assert result["usage"]["completion_tokens"] > 0


def test_parallel_tool_calls_false_calls_only_the_first() -> None:
    calls = chat(user("Weather?", tools=TOOLS, parallel_tool_calls=False))["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather"]


def test_single_tool_without_parameters() -> None:
    calls = chat(user("Time?", tools=[CLOCK_TOOL]))["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_time"]
    assert json.loads(calls[0]["function"]["arguments"]) == {}


def test_named_tool_choice_calls_that_function() -> None:
    choice = {"type": "function", "function": {"name": "web_search"}}
    calls = chat(user("Search", tools=TOOLS, tool_choice=choice))["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["web_search"]


def test_tool_choice_none_answers_in_text() -> None:
    result = chat(user("Weather?", tools=TOOLS, tool_choice="none"))
    assert "tool_calls" not in result["choices"][0]["message"]
    assert result["choices"][0]["finish_reason"] == "stop"


def test_tool_result_gets_a_text_answer_mentioning_it() -> None:
    first = chat(user("Weather in Paris?", tools=[WEATHER_TOOL]))
    assistant = first["choices"][0]["message"]
    call = assistant["tool_calls"][0]
    body = {
        "model": "sandbox/chat",
        "tools": [WEATHER_TOOL],
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": assistant["tool_calls"]},
            {"role": "tool", "tool_call_id": call["id"], "content": '{"temp_c": 21, "sky": "sunny"}'},
        ],
    }
    result = chat(body)
    choice = result["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "tool_calls" not in choice["message"]
    assert "get_weather" in choice["message"]["content"]
    assert '"temp_c": 21' in choice["message"]["content"]


def test_tool_calls_respect_max_tokens() -> None:
    result = chat(user("Weather?", tools=[WEATHER_TOOL], max_tokens=4))
    choice = result["choices"][0]
    assert choice["finish_reason"] == "length"
    assert result["usage"]["completion_tokens"] == 4
    arguments = choice["message"]["tool_calls"][0]["function"]["arguments"]
    full = chat(user("Weather?", tools=[WEATHER_TOOL]))["choices"][0]["message"]["tool_calls"][0]
    assert full["function"]["arguments"].startswith(arguments) and arguments != full["function"]["arguments"]
