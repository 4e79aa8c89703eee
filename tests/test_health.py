"""Health endpoints and API docs."""

from __future__ import annotations

import httpx


def test_health_is_alive(anon: httpx.Client) -> None:
    response = anon.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_checks_database_and_redis(anon: httpx.Client, redis_url: str | None) -> None:
    response = anon.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == ("ok" if redis_url else "disabled")


def test_ping(anon: httpx.Client) -> None:
    body = anon.get("/ping").json()
    assert body["message"] == "pong"
    assert body["uptime_seconds"] >= 0


def test_openapi_docs_are_served(anon: httpx.Client) -> None:
    assert "swagger" in anon.get("/docs").text.lower()
    assert "redoc" in anon.get("/redoc").text.lower()
    spec = anon.get("/openapi.json").json()
    assert "/user/api-keys" in spec["paths"]
    assert "/admin/users" in spec["paths"]


def test_every_response_has_a_request_id(anon: httpx.Client) -> None:
    first = anon.get("/health").headers["x-request-id"]
    second = anon.get("/health").headers["x-request-id"]
    assert first and second and first != second
    # the caller's id is a correlation field only: echoed apart, never the gateway's own id
    echoed = anon.get("/health", headers={"x-request-id": "client-chosen-123"})
    assert echoed.headers["x-request-id"] != "client-chosen-123"
    assert echoed.headers["x-request-id"].startswith("req_")
    assert echoed.headers["x-client-request-id"] == "client-chosen-123"
    unsafe = anon.get("/health", headers={"x-request-id": "bad id with spaces"})
    assert unsafe.headers["x-request-id"] != "bad id with spaces"
    assert "x-client-request-id" not in unsafe.headers
