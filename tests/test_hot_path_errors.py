"""What the hot path (http/hot_path.py) answers when an endpoint raises: the app's own exception
handlers, as FastAPI's stack would pick them, behind a real uvicorn server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import Response

from gatewayz.errors import InvalidRequest, install_error_handlers
from gatewayz.http.hot_path import GatewayApp
from tests.support.servers import free_port


async def _unexpected(request: Request) -> Response:
    raise RuntimeError("a bug")


async def _refused(request: Request) -> Response:
    raise InvalidRequest("Nope.", param="model", code="invalid_value")


async def _echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/json")


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    app = GatewayApp()
    install_error_handlers(app)
    app.serve_hot({"/v1/chat/completions": _unexpected, "/v1/messages": _refused, "/v1/embeddings": _echo},
                  access_log=True)  # fmt: skip
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


def test_an_unhandled_exception_is_a_500_in_our_shape_naming_the_request_id(served: str) -> None:
    response = httpx.post(f"{served}/v1/chat/completions/", content=b"{}")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "server_error"
    assert response.headers["x-request-id"] in error["message"]


def test_a_gateway_error_under_messages_is_in_anthropic_shape(served: str) -> None:
    response = httpx.post(f"{served}/v1/messages", content=b"{}", headers={"x-request-id": "mine-1"})
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"] == "Nope."
    assert response.headers["x-client-request-id"] == "mine-1"


def test_a_chunked_body_over_the_cap_is_413_while_it_streams_in(served: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * (1024 * 1024)

    response = httpx.post(f"{served}/v1/embeddings", content=chunks(), timeout=30)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert response.headers["x-request-id"].startswith("req_")


def test_a_body_under_the_cap_reaches_the_endpoint(served: str) -> None:
    response = httpx.post(f"{served}/v1/embeddings/", content=b'{"input": "hi"}')
    assert response.status_code == 200 and response.json() == {"input": "hi"}


def test_other_paths_and_methods_go_through_fastapi(served: str) -> None:
    assert httpx.get(f"{served}/v1/embeddings").status_code == 404  # no FastAPI route in this app
    assert httpx.post(f"{served}/v1/other").status_code == 404
