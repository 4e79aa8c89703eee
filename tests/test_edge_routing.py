"""Paths, methods and content types the routes do not expect: served sensibly or refused in JSON."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.identity import GwUser

CHAT = b'{"model": "sandbox/chat", "messages": [{"role": "user", "content": "Hi"}]}'


@pytest.fixture
def sandbox(user: GwUser, gateway: Any) -> httpx.Client:
    created = user.client.post("/user/api-keys", json={"name": "sandbox", "environment": "test"})
    assert created.status_code == 201, created.text
    client = httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {created.json()['key']}"})
    return client


def test_a_trailing_slash_is_served_by_the_same_route_not_redirected(sandbox: httpx.Client, anon: httpx.Client) -> None:
    chat = sandbox.post("/v1/chat/completions/", content=CHAT, headers={"content-type": "application/json"})
    assert chat.status_code == 200, chat.text
    assert chat.json()["object"] == "chat.completion"
    assert sandbox.get("/v1/models/").json()["object"] == "list"
    assert anon.get("/health/").json() == {"status": "ok"}
    keys = sandbox.get("/user/api-keys/")
    assert keys.status_code in (200, 403) and keys.headers["content-type"].startswith("application/json")


def test_unknown_paths_are_json_404(anon: httpx.Client) -> None:
    for path in ("/v1/no-such-endpoint", "/nothing/here/", "/"):
        response = anon.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"


def test_a_wrong_method_is_405_listing_every_allowed_method(user: GwUser, anon: httpx.Client) -> None:
    # /user/api-keys is two routes (GET lists, POST creates): both methods are allowed.
    response = user.client.delete("/user/api-keys")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("application/json")
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed and "DELETE" not in allowed
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "method_not_allowed"
    assert "DELETE" in error["message"] and "POST" in error["message"]
    # /user/api-keys/{id}: GET, PATCH, DELETE.
    one = user.client.post("/user/api-keys/1")
    assert {"GET", "PATCH", "DELETE"} <= {m.strip() for m in one.headers["allow"].split(",")}
    health = anon.put("/health")
    assert health.status_code == 405 and "GET" in health.headers["allow"]
    chat = anon.get("/v1/chat/completions")
    assert chat.status_code == 405 and chat.headers["allow"] == "POST"


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "application/json; charset=utf-8", "text/plain;charset=UTF-8"]
)
def test_inference_accepts_a_json_body_whatever_json_like_content_type(
    sandbox: httpx.Client, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = sandbox.post("/v1/chat/completions", content=CHAT, headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"]
)
def test_inference_refuses_a_body_that_says_it_is_not_json_with_415(sandbox: httpx.Client, content_type: str) -> None:
    response = sandbox.post("/v1/chat/completions", content=CHAT, headers={"content-type": content_type})
    assert response.status_code == 415, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "unsupported_media_type"
    assert "application/json" in error["message"]


@pytest.mark.parametrize(
    ("content_type", "said"),
    [(None, "no Content-Type"), ("application/x-www-form-urlencoded", "'application/x-www-form-urlencoded'"),
     ("text/plain", "'text/plain'")],
)  # fmt: skip
def test_management_routes_take_json_only_and_say_so_with_415(
    user: GwUser, content_type: str | None, said: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = user.client.post("/user/api-keys", content=b'{"name": "x"}', headers=headers)
    assert response.status_code == 415, response.text
    error = response.json()["error"]
    assert error["code"] == "unsupported_media_type" and said in error["message"]
    assert "Content-Type: application/json" in error["message"]
    # No body at all needs no Content-Type (e.g. rotating a key).
    assert user.client.post(f"/user/api-keys/{user.key_id}/rotate").status_code == 200
