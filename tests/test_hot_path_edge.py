"""The inference endpoints, served in front of FastAPI's stack (http/hot_path.py), give every POST
the edge's answers: request ids, the face's error shape, 401 before the body, 415, 413, and the
FastAPI answers (405 with Allow, the OpenAPI document) for everything else on those paths."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.identity import GwUser

HOT = ("/v1/chat/completions", "/v1/responses", "/v1/messages", "/v1/embeddings")
PATHS = [*HOT, *(path + "/" for path in HOT)]
JSON = {"content-type": "application/json"}


def _is_anthropic(path: str) -> bool:
    return path.startswith("/v1/messages")


def _error_type(path: str, response: httpx.Response) -> str:
    body = response.json()
    if _is_anthropic(path):
        assert body["type"] == "error", body
    return str(body["error"]["type"])


@pytest.mark.parametrize("path", PATHS)
def test_no_key_is_401_in_the_face_shape_with_request_ids(anon: httpx.Client, path: str) -> None:
    response = anon.post(path, content=b'{"model": "m"}', headers={**JSON, "x-client-request-id": "trace-42"})
    assert response.status_code == 401, response.text
    assert response.headers["x-request-id"].startswith("req_")
    assert response.headers["x-client-request-id"] == "trace-42"
    assert response.headers["content-type"].startswith("application/json")
    assert _error_type(path, response) == "authentication_error"


@pytest.mark.parametrize("path", PATHS)
def test_a_wrong_method_is_405_with_allow(anon: httpx.Client, path: str) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = anon.request(method, path)
        assert response.status_code == 405, (method, response.text)
        assert response.headers["allow"] == "POST"
        assert response.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize("path", PATHS)
def test_a_body_that_is_not_json_is_415(user: GwUser, path: str) -> None:
    response = user.client.post(path, content=b"<xml/>", headers={"content-type": "application/xml"})
    assert response.status_code == 415, response.text
    assert response.headers["x-request-id"].startswith("req_")
    assert _error_type(path, response) == "invalid_request_error"


@pytest.mark.parametrize("path", ["/v1/messages/", "/v1/embeddings"])
def test_an_announced_body_over_the_cap_is_413_in_the_face_shape(user: GwUser, path: str) -> None:
    body = b"x" * (32 * 1024 * 1024 + 1)
    response = user.client.post(path, content=body, headers=JSON)
    assert response.status_code == 413, response.text
    assert response.headers["x-request-id"].startswith("req_")
    assert _error_type(path, response) in ("invalid_request_error", "request_too_large")


def test_each_answer_has_its_own_request_id(user: GwUser) -> None:
    ids = {user.client.post("/v1/chat/completions", content=b"{}", headers=JSON).headers["x-request-id"]
           for _ in range(5)}  # fmt: skip
    assert len(ids) == 5


def test_an_unsafe_client_request_id_is_not_echoed(anon: httpx.Client) -> None:
    response = anon.post("/v1/chat/completions", content=b"{}", headers={**JSON, "x-client-request-id": "a b"})
    assert response.status_code == 401
    assert "x-client-request-id" not in response.headers


def test_the_openapi_document_still_lists_the_hot_operations(anon: httpx.Client, gateway: Any) -> None:
    paths = anon.get("/openapi.json").json()["paths"]
    for path in HOT:
        assert "post" in paths[path], path
