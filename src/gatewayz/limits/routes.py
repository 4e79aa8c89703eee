"""`GET /user/rate-limits` (your limits and usage) and `PUT /admin/users/{id}/rate-limits`."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel

from gatewayz.accounts import service
from gatewayz.accounts.dependencies import require_permission, require_scope
from gatewayz.accounts.principal import Principal
from gatewayz.accounts.schemas import UserOut
from gatewayz.audit.records import audit_change
from gatewayz.http.params import RowId
from gatewayz.inference.pipeline import InferenceCall
from gatewayz.limits.config import RateLimits, stored
from gatewayz.limits.stage import RateLimitStage, duration, model_identities
from gatewayz.services import services

router = APIRouter(tags=["Rate limits"])
inference_scope = require_scope("inference")


class WindowUsage(BaseModel):
    scope: str  # global | user | key
    dimension: str | None  # None (everything), "endpoint:chat", "model:<id>"
    kind: str  # requests | tokens | concurrent
    window: str  # second | minute | hour | day | concurrent
    limit: int
    used: int
    remaining: int
    reset: str  # OpenAI duration format
    reset_ms: int


class RateLimitsOut(BaseModel):
    object: Literal["rate_limits"] = "rate_limits"
    user_id: int
    key_id: int
    backend: str  # where the counters live right now: redis | local
    status: str  # ok | local | degraded
    limits: dict[str, dict[str, Any]]  # effective limits per scope, after every source
    configured: dict[str, dict[str, Any] | None]  # what is set on the user and on this key
    usage: list[WindowUsage]


def _stage(request: Request) -> RateLimitStage:
    for stage in services(request).inference.stages.stages:
        if isinstance(stage, RateLimitStage):
            return stage
    raise RuntimeError("the rate-limit stage is not installed")


async def _identities(request: Request, principal: Principal, model: str | None) -> tuple[str, ...]:
    """The names `model` goes by, as a request for it would count them (the routes it may take)."""
    if model is None:
        return ()
    if principal.is_sandbox:
        return (model,)
    routes = await services(request).inference.router.routes(model)
    return model_identities(InferenceCall("", principal, "chat", model, {}, stream=False, routes=routes))


@router.get("/user/rate-limits", response_model=RateLimitsOut)
async def my_rate_limits(
    request: Request,
    model: str | None = Query(None, max_length=200, description="Also show the windows of this model"),
    principal: Principal = Depends(inference_scope),
) -> RateLimitsOut:
    """The limits that apply to you and to the calling key, with current usage (nothing consumed)."""
    stage = _stage(request)
    limiter = stage.limiter
    checks = stage.planner.overview(principal, await _identities(request, principal, model))
    outcomes = (await limiter.admit(checks, 0, peek=True)).outcomes if checks else []
    usage = [
        WindowUsage(
            scope=check.scope,
            dimension=check.dimension or None,
            kind=check.kind,
            window=check.window,
            limit=check.limit,
            used=outcome.used,
            remaining=max(check.limit - outcome.used, 0),
            reset=duration(outcome.reset_ms),
            reset_ms=outcome.reset_ms,
        )
        for check, outcome in zip(checks, outcomes, strict=True)
    ]
    resolved = stage.planner.resolve(principal)
    return RateLimitsOut(
        user_id=principal.user_id,
        key_id=principal.key_id,
        backend=limiter.backend,
        status=limiter.health()["status"],
        limits={scope: stored(limits) or {} for scope, limits in resolved.items()},
        configured={"user": stored(principal.user_rate_limits), "key": stored(principal.key_rate_limits)},
        usage=usage,
    )


@router.put("/admin/users/{user_id}/rate-limits", response_model=UserOut, tags=["Admin"])
async def set_user_rate_limits(
    user_id: RowId,
    request: Request,
    body: RateLimits = Body(...),
    admin: Principal = Depends(require_permission("limits.write")),
) -> UserOut:
    """Replace a user's limits (`{}` removes them: the defaults apply again). They override the
    settings defaults, so they can raise a user above them; every process applies them within a second."""
    svc = services(request)
    async with svc.db.transaction() as session:
        user = await service.get_user(session, user_id)
        before = user.rate_limits
        invalidation = await service.set_user_rate_limits(session, user, body)
        await audit_change(session, request, admin, "user.rate_limits.set", "user", user_id,
                           before={"rate_limits": before}, after={"rate_limits": user.rate_limits})
        out = service.user_out(user)
    await svc.publish(invalidation)
    return out
