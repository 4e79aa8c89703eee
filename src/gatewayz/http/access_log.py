"""One structlog line per request: method, path, status, latency, request id, and for inference
calls the provider, the upstream model and the cost.

Logged when the app returns, i.e. after the last body byte went out and, for streams, after the
stages finished (so the cost is known); the latency is measured to the last body byte. On by
default; `GATEWAYZ_ACCESS_LOG=false` turns it off (then the layer is not installed at all).
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatewayz.billing.money import usd

log = structlog.get_logger("gatewayz.access")


def access_log_enabled(settings: Any) -> bool:
    """GATEWAYZ_ACCESS_LOG (default true)."""
    return bool(settings.access_log)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        finished: float | None = None

        async def logged_send(message: Message) -> None:
            nonlocal status, finished
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        except BaseException:
            status = status or 500  # the error middleware outside us answers 500
            raise
        finally:
            log_request(scope, status, started, finished)


def log_request(scope: Scope, status: int, started: float, finished: float | None) -> None:
    """The access log line of one request (`finished`: when its last body byte went out)."""
    latency_ms = round(((finished or time.perf_counter()) - started) * 1000, 2)
    fields: dict[str, Any] = {}
    call = scope.get("gatewayz.call")
    if call is not None:
        fields["provider"] = call.provider
        fields["model"] = call.upstream_model
        cost = call.state.get("cost")
        if cost is not None:
            fields["cost_usd"] = usd(cost)
        if call.status and call.status != status:
            fields["call_status"] = call.status  # e.g. 499: the client left mid-stream
    log.info(
        "request",
        method=scope["method"],
        path=scope["path"],
        status=status,
        latency_ms=latency_ms,
        request_id=scope.get("gatewayz.request_id"),
        **fields,
    )
