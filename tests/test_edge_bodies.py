"""Request bodies at the HTTP edge: capped while they stream in, never read before the caller is
identified. Driven against a real `gatewayz serve` process, whose memory we watch."""

from __future__ import annotations

import select
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from tests.support.identity import ADMIN_KEY, GwUser
from tests.support.servers import GatewayProcess

MB = 1024 * 1024
UPLOAD = 50 * MB
FRAME = 64 * 1024
RSS_GROWTH_LIMIT = 8 * MB
INFERENCE_BODY_LIMIT = 32 * MB  # the caps users are told about (README)
DEFAULT_BODY_LIMIT = 1 * MB


@pytest.fixture(scope="module")
def served(base_env: dict[str, str], gateway: Any, tmp_root: Path) -> Iterator[GatewayProcess]:
    process = GatewayProcess(base_env, log_dir=tmp_root).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def sandbox_key(served: GatewayProcess) -> str:
    response = httpx.post(
        f"{served.url}/user/api-keys",
        json={"name": "edge", "environment": "test"},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def rss(process: GatewayProcess) -> int:
    assert process.process is not None
    for line in Path(f"/proc/{process.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _read_response(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers["content-length"])
    while len(body) < length:
        body += sock.recv(65536)
    return int(lines[0].split()[1]), orjson.loads(body[:length])


def chunked_upload(url: str, path: str, headers: dict[str, str], total: int) -> tuple[int, dict[str, Any], int]:
    """POST `total` bytes chunked over a raw socket, ALL of them, watching for an early answer.

    Returns (status, JSON body, bytes sent when the answer arrived)."""
    host, port = url.removeprefix("http://").split(":")
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    frame = b"%x\r\n" % FRAME + b"[" * FRAME + b"\r\n"
    sent, answered_at = 0, None
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nhost: {host}\r\ntransfer-encoding: chunked\r\n"
            f"content-type: application/json\r\n{extra}\r\n".encode()
        )
        answer: tuple[int, dict[str, Any]] | None = None
        while sent < total:
            readable, writable, _ = select.select([sock], [sock], [], 10)
            if readable and answer is None:
                answered_at = sent
                answer = _read_response(sock)
            elif writable:
                sock.sendall(frame)
                sent += FRAME
            elif not readable:
                raise AssertionError("upload stalled")
        sock.sendall(b"0\r\n\r\n")
        if answer is None:
            answered_at = sent
            answer = _read_response(sock)
    assert answered_at is not None
    return answer[0], answer[1], answered_at


def _warm(served: GatewayProcess, path: str, headers: dict[str, str]) -> None:
    """One small request first, so what the path imports or caches is not counted as growth."""
    httpx.post(f"{served.url}{path}", content=b"{}", headers={"content-type": "application/json", **headers})


@pytest.mark.parametrize(
    ("path", "headers", "status", "code"),
    [
        ("/admin/users", {}, 401, "missing_api_key"),
        ("/admin/users", {"authorization": "Bearer gw_live_" + "Q" * 43}, 401, "invalid_api_key"),
        ("/user/api-keys", {}, 401, "missing_api_key"),
        ("/v1/chat/completions", {}, 401, "missing_api_key"),
    ],
)
def test_an_anonymous_50_mb_upload_is_refused_before_it_is_read(
    served: GatewayProcess, path: str, headers: dict[str, str], status: int, code: str
) -> None:
    _warm(served, path, headers)
    before = rss(served)
    started = time.monotonic()
    got, body, answered_at = chunked_upload(served.url, path, headers, UPLOAD)
    assert (got, body["error"]["code"]) == (status, code)
    assert answered_at < UPLOAD // 2, f"answered only after {answered_at} bytes"  # the server stopped reading
    assert time.monotonic() - started < 15
    assert rss(served) - before < RSS_GROWTH_LIMIT, f"RSS grew {(rss(served) - before) // MB} MiB"


def test_an_authenticated_50_mb_inference_upload_is_413_as_soon_as_it_crosses_32_mib(
    served: GatewayProcess, sandbox_key: str
) -> None:
    headers = {"authorization": f"Bearer {sandbox_key}"}
    _warm(served, "/v1/chat/completions", headers)
    before = rss(served)
    status, body, answered_at = chunked_upload(served.url, "/v1/chat/completions", headers, UPLOAD)
    assert status == 413
    assert body["error"] == {
        "message": "Request body too large: the limit of this endpoint is 32 MiB.",
        "type": "invalid_request_error",
        "param": None,
        "code": "request_too_large",
    }
    # Answered once the server had read past 32 MiB; what the client wrote beyond that sat in socket
    # buffers (several MiB on loopback), far from the 50 MiB it went on to send.
    assert INFERENCE_BODY_LIMIT <= answered_at < INFERENCE_BODY_LIMIT + 12 * MB, answered_at
    # At most the 32 MiB the endpoint accepts was ever held, never the 50 MiB sent.
    growth = rss(served) - before
    assert growth < INFERENCE_BODY_LIMIT + RSS_GROWTH_LIMIT, f"RSS grew {growth // MB} MiB"


def test_an_authenticated_chunked_management_body_over_1_mib_is_413(served: GatewayProcess) -> None:
    headers = {"authorization": f"Bearer {ADMIN_KEY}"}
    status, body, answered_at = chunked_upload(served.url, "/user/api-keys", headers, 24 * MB)
    assert status == 413 and body["error"]["code"] == "request_too_large"
    assert answered_at < 12 * MB  # the cap is 1 MiB; the rest is what the socket buffers held


def test_a_2_mb_body_to_a_user_route_is_413_in_our_error_shape(user: GwUser) -> None:
    big = {"name": "big", "metadata": {"blob": "x" * (2 * MB)}}
    response = user.client.post("/user/api-keys", json=big)
    assert response.status_code == 413, response.text
    assert response.json() == {
        "error": {
            "message": f"Request body too large: the limit of this endpoint is {DEFAULT_BODY_LIMIT // MB} MiB.",
            "type": "invalid_request_error",
            "param": None,
            "code": "request_too_large",
        }
    }
    # Just under the cap is read and judged on its merits (metadata is limited to 8 KiB).
    response = user.client.post("/user/api-keys", json={"name": "x", "metadata": {"blob": "x" * (MB - 1000)}})
    assert response.status_code == 400 and response.json()["error"]["param"] == "metadata"


def test_a_33_mib_inference_body_is_413(user: GwUser) -> None:
    body = b'{"model": "sandbox/chat", "messages": [{"role": "user", "content": "' + b"x" * (33 * MB) + b'"}]}'
    response = user.client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_an_early_refusal_is_one_security_event_with_the_same_answer(admin: httpx.Client, gateway: Any) -> None:
    agent = f"edge-probe/{uuid.uuid4().hex[:8]}"
    unknown = "gw_live_" + "E" * 43
    response = httpx.post(
        f"{gateway.url}/admin/users",
        json={"email": "nobody@example.com"},
        headers={"Authorization": f"Bearer {unknown}", "User-Agent": agent},
    )
    assert response.status_code == 401
    assert response.json()["error"] == {
        "message": "Invalid API key.",
        "type": "authentication_error",
        "param": None,
        "code": "invalid_api_key",
    }
    deadline = time.monotonic() + 5
    mine: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not mine:
        events = admin.get("/admin/security-events", params={"limit": 200}).json()["data"]
        mine = [e for e in events if e["user_agent"] == agent]
        time.sleep(0.1)
    time.sleep(0.5)
    events = admin.get("/admin/security-events", params={"limit": 200}).json()["data"]
    mine = [e for e in events if e["user_agent"] == agent]
    assert [(e["reason"], e["method"], e["path"], e["status"]) for e in mine] == [
        ("unknown_key", "POST", "/admin/users", 401)
    ]


def test_the_early_check_does_not_consume_the_request_cap(user: GwUser, gateway: Any) -> None:
    created = user.client.post("/user/api-keys", json={"name": "capped", "max_requests": 2, "scopes": ["billing"]})
    assert created.status_code == 201, created.text
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {created.json()['key']}"}) as capped:
        # A body-bearing route: identified at the edge, then fully checked (and counted) once by the route.
        assert capped.patch("/user/balance", json={"low_balance_threshold": "2.00"}).status_code == 200
        assert capped.patch("/user/balance", json={"low_balance_threshold": "3.00"}).status_code == 200
        third = capped.patch("/user/balance", json={"low_balance_threshold": "4.00"})
    assert third.status_code == 403 and third.json()["error"]["code"] == "key_request_cap_reached"


def test_no_v1_route_reads_a_body_before_authenticating(gateway: Any) -> None:
    """The edge lets /v1 through unchecked because those routes read their raw body themselves,
    after authenticating; a body model (read by FastAPI before any dependency) would break that."""
    routes = [context.original_route for context in iter_route_contexts(gateway.app.routes)]
    v1 = [r for r in routes if isinstance(r, APIRoute) and r.path.startswith("/v1/")]
    assert v1
    assert [r.path for r in v1 if r.body_field is not None] == []
