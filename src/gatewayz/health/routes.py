"""`/health` (alive), `/health/ready` (dependencies reachable), `/health/providers` (live
provider figures), `/ping`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from gatewayz import __version__
from gatewayz.accounts.dependencies import is_admin_request, require_scope
from gatewayz.accounts.principal import Principal
from gatewayz.services import services

router = APIRouter(tags=["Health"])
log = structlog.get_logger("gatewayz.health")
CHECK_TIMEOUT = 2.0


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ping")
async def ping(request: Request) -> dict[str, Any]:
    svc = services(request)
    return {
        "message": "pong",
        "version": __version__,
        "uptime_seconds": round(time.monotonic() - svc.started_at, 3),
        "timestamp": time.time(),
    }


async def _check(name: str, coro: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(coro, CHECK_TIMEOUT)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
        log.warning("health_check_failed", component=name, error=error)
        return {"status": "unavailable", "error": error}
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


PUBLIC_FIELDS = ("status", "backend")


def _public(checks: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Exception texts name hosts, users and driver internals: for the log and admins only."""
    return {name: {f: check[f] for f in PUBLIC_FIELDS if f in check} for name, check in checks.items()}


@router.get("/health/ready")
async def ready(request: Request) -> Response:
    """503 only when the database is unreachable. Redis is optional: without it the gateway keeps
    serving (rate limits per process, invalidation by polling), so it reports `degraded`, still 200,
    rather than take every replica out of rotation when Redis goes down. Each component says `ok`,
    `degraded`, `unavailable` (or `disabled`/`local`); with an admin key, also why."""
    svc = services(request)
    checks: dict[str, Any] = {"database": await _check("database", svc.db.ping())}
    if svc.redis is not None:
        checks["redis"] = await _check("redis", svc.redis.ping())
        if checks["redis"]["status"] != "ok":
            checks["redis"]["status"] = "degraded"
            svc.limits.degrade(RuntimeError(checks["redis"].get("error", "redis unreachable")))
    else:
        checks["redis"] = {"status": "disabled"}
    checks["rate_limits"] = svc.limits.health()
    checks["billing"] = svc.billing_jobs.health()
    ok = checks["database"]["status"] == "ok"
    degraded = any(c["status"] == "degraded" for c in checks.values())
    shown = checks if await is_admin_request(request) else _public(checks)
    body = {"status": ("degraded" if degraded else "ready") if ok else "unavailable", "checks": shown}
    return Response(orjson.dumps(body), status_code=200 if ok else 503, media_type="application/json")


@router.get("/health/providers")
async def provider_health(
    request: Request, principal: Principal = Depends(require_scope("inference"))
) -> dict[str, Any]:
    """Live figures of every endpoint (provider, model) this gateway relayed to, shared by all its
    processes: attempts, error rate, uptime, time to first token p50/p95 and output tokens/s p50
    over 5 minutes, 1 hour and 24 hours; `unhealthy` endpoints are tried after the others."""
    svc = services(request)
    health, breakers = svc.health_store.health, svc.breakers
    data = [
        {
            "provider": provider,
            "model": model,
            "breaker": breakers.status(provider),
            "unhealthy": health.unhealthy(provider, model),
            "windows": {name: figures.as_json() for name, figures in health.figures(provider, model).items()},
        }
        for provider, model in health.endpoints()
    ]
    return {"object": "list", "data": data}
