"""Health endpoints and API docs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import settings_from_env
from tests.support.identity import ADMIN_KEY
from tests.support.servers import ThreadedGateway, free_port


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


@pytest.fixture
def redis_down(base_env: dict[str, str], gateway: Any) -> Iterator[tuple[ThreadedGateway, int]]:
    """A gateway whose Redis is configured but not there (a closed loopback port)."""
    port = free_port()
    server = ThreadedGateway(settings_from_env(base_env, redis_url=f"redis://127.0.0.1:{port}/0")).start()
    yield server, port
    server.stop()


def test_ready_tells_the_public_only_the_status_of_each_component(redis_down: tuple[ThreadedGateway, int]) -> None:
    server, port = redis_down
    public = httpx.get(f"{server.url}/health/ready", timeout=10)
    assert public.status_code == 200  # Redis down degrades, it does not take the replica out
    body = public.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["redis"] == {"status": "degraded"}
    assert body["checks"]["rate_limits"] == {"status": "degraded", "backend": "local"}
    assert str(port) not in public.text and "Error" not in public.text  # no exception text, no address

    detailed = httpx.get(f"{server.url}/health/ready", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10)
    checks = detailed.json()["checks"]
    assert checks["redis"]["status"] == "degraded" and str(port) in checks["redis"]["error"]
    assert "latency_ms" in checks["database"]
    not_admin = httpx.get(f"{server.url}/health/ready", headers={"Authorization": "Bearer gw_live_" + "N" * 43})
    assert not_admin.status_code == 200 and "error" not in not_admin.json()["checks"]["redis"]
