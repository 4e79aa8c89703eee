"""`POST /trials/start`, `GET /trials/status`, `POST /trials/convert` (scope `billing`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StrictInt

from gatewayz.accounts import service as accounts
from gatewayz.accounts.dependencies import require_scope
from gatewayz.accounts.principal import Principal
from gatewayz.audit.records import audit_change
from gatewayz.billing.money import to_nanos, usd
from gatewayz.errors import Conflict, PermissionDenied
from gatewayz.http.params import MAX_ID
from gatewayz.plans import service, trials
from gatewayz.plans.schemas import Interval, _Strict, errors
from gatewayz.services import services
from gatewayz.signin.identities import email_unverified

router = APIRouter(tags=["Trials"])
billing_scope = require_scope("billing")


class TrialStart(_Strict):
    plan_id: StrictInt | None = Field(None, ge=1, le=MAX_ID, description="a trial-eligible plan (default: the "
                                                                        "gateway's trial plan)")


class TrialConvert(_Strict):
    plan_id: StrictInt = Field(ge=1, le=MAX_ID)
    interval: Interval = "month"


class TrialStatus(BaseModel):
    status: Literal["none", "active", "expired", "converted"]
    plan_id: int | None = None
    started_at: datetime | None = None
    ends_at: datetime | None = None
    seconds_left: float = 0.0
    credits_granted: str = "0.000000000"
    credits_remaining: str = "0.000000000"
    requests: int = 0
    spent: str = Field("0.000000000", description="usage charged during the trial (USD)")
    converted_at: datetime | None = None
    conversion: str | None = None


def _no_sandbox(principal: Principal) -> None:
    if principal.is_sandbox:
        raise PermissionDenied("Sandbox (test) keys cannot start or convert trials.", code="sandbox_key")


async def _status(request: Request, user_id: int) -> TrialStatus:
    async with services(request).db.session() as session:
        found = await trials.trial_status(session, user_id)
    if found is None:
        return TrialStatus(status="none")
    trial = found["trial"]
    status: Literal["active", "expired", "converted"] = (
        "converted" if trial.status == "converted" else "active" if found["active"] else "expired")
    return TrialStatus(
        status=status, plan_id=trial.plan_id, started_at=trial.started_at, ends_at=trial.ends_at,
        seconds_left=found["seconds_left"], credits_granted=usd(trial.credits),
        credits_remaining=usd(found["credits_remaining"]), requests=found["requests"], spent=usd(found["spent"]),
        converted_at=trial.converted_at, conversion=trial.conversion,
    )


@router.post("/trials/start", response_model=TrialStatus, status_code=201, responses=errors(404, 409))
async def start(request: Request, body: TrialStart | None = None,
                principal: Principal = Depends(billing_scope)) -> TrialStatus:
    """Start the free trial: credits that expire with it and the trial plan until then. Once per
    user and per email address (aliases count as one); a few per IP address per day."""
    _no_sandbox(principal)
    svc = services(request)
    settings = svc.settings
    async with svc.db.transaction() as session:
        user = await accounts.get_user(session, principal.user_id)
        if settings.trial_requires_verified_email and await email_unverified(session, user):
            raise PermissionDenied("A free trial needs an email address an identity provider has verified (sign in "
                                   "with it once).", code="trial_needs_verified_email")
        plan = await trials.get_trial_plan(session, body.plan_id if body else None, settings.trial_plan)
        trial, invalidation = await trials.start_trial(
            session, user_id=user.id, email=user.email, ip=svc.auth.client_ip(request), plan=plan,
            credits=to_nanos(settings.trial_credits_usd), length=timedelta(days=settings.trial_days),
            per_ip=settings.trials_per_ip_per_day, per_domain=settings.trials_per_domain_per_day,
            default_slug=settings.default_plan,
        )
        await audit_change(session, request, principal, "trial.start", "user", user.id, after={
            "trial_id": trial.id, "plan_id": plan.id, "credits": usd(trial.credits),
            "ends_at": trial.ends_at.isoformat(), "transaction_id": trial.transaction_id})
    await svc.publish(invalidation)
    return await _status(request, principal.user_id)


@router.get("/trials/status", response_model=TrialStatus)
async def status(request: Request, principal: Principal = Depends(billing_scope)) -> TrialStatus:
    """The trial's credits left, time left and usage so far (`status: none` before one started)."""
    return await _status(request, principal.user_id)


@router.post("/trials/convert", response_model=TrialStatus, responses=errors(404, 409))
async def convert(body: TrialConvert, request: Request, principal: Principal = Depends(billing_scope)) -> TrialStatus:
    """Leave the trial for a plan. A free plan applies at once; a paid one is a Stripe
    subscription (POST /subscriptions/checkout), and the conversion is recorded when it is paid."""
    _no_sandbox(principal)
    svc = services(request)
    async with svc.db.transaction() as session:
        found = await trials.trial_status(session, principal.user_id)
        if found is None:
            raise Conflict("There is no trial to convert; start one with POST /trials/start.", code="no_trial")
        plan = await service.get_plan(session, body.plan_id)
        if not plan.active or plan.visibility != "public":
            raise Conflict("This plan cannot be chosen.", param="plan_id", code="plan_not_available")
        if plan.price_monthly > 0 or (plan.price_yearly or 0) > 0:
            raise Conflict("A paid plan is bought through a Stripe subscription: POST /subscriptions/checkout.",
                           param="plan_id", code="payment_required")
        # Claimed first, by a conditional UPDATE: of two converts at once, one converts, the other is a 409.
        if not await trials.record_conversion(session, principal.user_id, "plan"):
            raise Conflict("This trial was converted already.", code="trial_converted")
        _, _, invalidation = await service.assign_plan(
            session, user_id=principal.user_id, plan=plan, interval=body.interval, source="user",
            actor=f"user:{principal.user_id}", default_slug=svc.settings.default_plan)
        await audit_change(session, request, principal, "trial.convert", "user", principal.user_id,
                           after={"plan_id": plan.id})
    await svc.publish(invalidation)
    return await _status(request, principal.user_id)
