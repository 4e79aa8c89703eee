"""The fake provider's Gemini generateContent surface (raw HTTP; byte-level SSE and JSON checks)."""

from __future__ import annotations

import json

import httpx

from tests.fakeprovider import FakeProvider
from tests.fakeprovider.fixtures import fake, fake_provider
from tests.fakeprovider_helpers import GEM_HEADERS, TWO_CALLS, http, sse_events

__all__ = ["fake", "fake_provider", "http"]  # re-exported so pytest sees the fixtures in this module


GEM_BODY = {
    "systemInstruction": {"parts": [{"text": "be nice"}]},
    "contents": [{"role": "user", "parts": [{"text": "hello gemini"}]}],
}


def test_gemini_generate_content(http: httpx.Client) -> None:
    r = http.post("/v1beta/models/gemini-2.0-flash:generateContent", headers=GEM_HEADERS, json=GEM_BODY)
    assert r.status_code == 200
    data = r.json()
    cand = data["candidates"][0]
    assert cand["content"] == {"parts": [{"text": "Echo: hello gemini"}], "role": "model"}
    assert cand["finishReason"] == "STOP"
    assert data["usageMetadata"] == {"promptTokenCount": 4, "candidatesTokenCount": 3, "totalTokenCount": 7}
    assert data["modelVersion"] == "gemini-2.0-flash"


def test_gemini_stream_sse_with_query_key(fake: FakeProvider, http: httpx.Client) -> None:
    r = http.post(
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent", params={"alt": "sse", "key": "g-test"}, json=GEM_BODY
    )
    assert r.headers["content-type"].startswith("text/event-stream")
    assert "[DONE]" not in r.text and "\r\n\r\n" in r.text
    chunks = [json.loads(d) for _, d in sse_events(r.text)]
    assert len(chunks) == 3
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == "Echo: hello gemini"
    assert [c["candidates"][0].get("finishReason") for c in chunks] == [None, None, "STOP"]
    assert [c["usageMetadata"]["candidatesTokenCount"] for c in chunks] == [1, 2, 3]  # cumulative
    assert fake.last_request.query == {"alt": "sse", "key": "g-test"}


def test_gemini_stream_without_alt_is_json_array(http: httpx.Client) -> None:
    r = http.post("/v1beta/models/g:streamGenerateContent", headers=GEM_HEADERS, json=GEM_BODY)
    arr = r.json()
    assert isinstance(arr, list) and arr[-1]["candidates"][0]["finishReason"] == "STOP"


def test_gemini_function_calls_and_auth(fake: FakeProvider, http: httpx.Client) -> None:
    url = "/v1beta/models/g:generateContent"
    r = http.post(url, json=GEM_BODY)
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    fake.set(tool_calls=TWO_CALLS, api_key="g-right")
    assert http.post(url, json=GEM_BODY, headers=GEM_HEADERS).status_code == 401
    r = http.post(url, json=GEM_BODY, params={"key": "g-right"})
    parts = r.json()["candidates"][0]["content"]["parts"]
    assert parts == [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris", "unit": "celsius"}}},
        {"functionCall": {"name": "get_time", "args": {"tz": "Europe/Paris"}}},
    ]
    fake.set(api_key=None, status=429)
    r = http.post(url, json=GEM_BODY, headers=GEM_HEADERS)
    assert r.status_code == 429
    assert r.json()["error"] == {
        "code": 429,
        "message": "fake provider injected status 429",
        "status": "RESOURCE_EXHAUSTED",
    }


def test_gemini_stream_parallel_function_calls(fake: FakeProvider, http: httpx.Client) -> None:
    fake.set(tool_calls=TWO_CALLS)
    r = http.post("/v1beta/models/g:streamGenerateContent?alt=sse", headers=GEM_HEADERS, json=GEM_BODY)
    chunks = [json.loads(d) for _, d in sse_events(r.text)]
    last = chunks[-1]["candidates"][0]
    assert [p["functionCall"]["name"] for p in last["content"]["parts"]] == ["get_weather", "get_time"]
    assert last["finishReason"] == "STOP"
