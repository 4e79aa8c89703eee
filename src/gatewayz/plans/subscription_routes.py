"""Stripe subscriptions (scope `billing`, live keys): `POST /subscriptions/checkout` (Checkout in
subscription mode), `/subscriptions/change` (another plan or interval, prorated as Stripe
computes it), `/subscriptions/cancel` (at the period's end), `/subscriptions/resume`, and
`/subscriptions/portal` (a Stripe customer portal link). The user's plan row follows Stripe's
answer at once and Stripe's events afterwards (plans/stripe_events.py)."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StrictInt

from gatewayz.accounts.dependencies import require_scope
from gatewayz.accounts.principal import Principal
from gatewayz.accounts.service import get_user
from gatewayz.audit.records import audit_change
from gatewayz.errors import Conflict, InvalidRequest, PermissionDenied
from gatewayz.http.params import MAX_ID
from gatewayz.payments.client import StripeApi
from gatewayz.plans import service
from gatewayz.plans import stripe_events as _events  # noqa: F401 -- registers the subscription events
from gatewayz.plans.schemas import Interval, SubscriptionOut, _Strict, errors
from gatewayz.plans.stripe_sync import (
    INTERVAL_KEY,
    PLAN_KEY,
    TAG_KEY,
    USER_KEY,
    apply_subscription,
    first_item,
    owner_tag,
)
from gatewayz.plans.tables import Plan, PlanSubscription
from gatewayz.services import Services, services

router = APIRouter(tags=["Subscriptions"])
billing_scope = require_scope("billing")
# The difference is invoiced at once, and the change is only made when that invoice is paid (Stripe
# keeps it as a pending update until then): a dearer plan is never used before it is paid for.
CHANGE = {"proration_behavior": "always_invoice", "payment_behavior": "pending_if_incomplete"}


class Choice(_Strict):
    plan_id: StrictInt = Field(ge=1, le=MAX_ID)
    interval: Interval = "month"


class CheckoutOut(BaseModel):
    checkout_session_id: str
    checkout_url: str | None


class PortalOut(BaseModel):
    url: str


def _api(svc: Services, principal: Principal) -> StripeApi:
    if principal.is_sandbox:
        raise PermissionDenied("Sandbox (test) keys cannot subscribe.", code="sandbox_key")
    api = svc.stripe
    assert api is not None  # Services.build makes one
    api.client  # noqa: B018 -- 404 before anything else when Stripe is not configured
    return api


def _price(plan: Plan, interval: str) -> tuple[str | None, int]:
    """(the Stripe price id, the price in cents) of a plan for an interval; 400 if not sold so."""
    nanos = plan.price_monthly if interval == "month" else plan.price_yearly
    if nanos is None or nanos <= 0:
        raise InvalidRequest(f"The plan {plan.slug!r} has no {interval}ly price.", param="interval",
                             code="plan_not_for_sale")
    return (plan.stripe_price_monthly if interval == "month" else plan.stripe_price_yearly), nanos // 10_000_000


async def _choosable(svc: Services, plan_id: int) -> Plan:
    async with svc.db.session() as session:
        plan = await service.get_plan(session, plan_id)
    if not plan.active or plan.visibility != "public":
        raise Conflict("This plan cannot be chosen.", param="plan_id", code="plan_not_available")
    return plan


async def _stripe_row(svc: Services, user_id: int) -> PlanSubscription:
    async with svc.db.session() as session:
        row = await session.get(PlanSubscription, user_id)
    if row is None or row.source != "stripe" or row.stripe_subscription_id is None:
        raise Conflict("You have no Stripe subscription.", code="no_subscription")
    return row


def _return_url(svc: Services, request: Request, outcome: str) -> str:
    base = (svc.settings.public_url or str(request.base_url)).rstrip("/")
    return f"{base}/billing?subscription={outcome}"


async def _apply(request: Request, principal: Principal, sub: dict[str, Any], action: str) -> SubscriptionOut:
    svc = services(request)
    async with svc.db.transaction() as session:
        invalidation = await apply_subscription(session, sub, None, svc.settings.key_hash_secret_bytes)
        row = await session.get(PlanSubscription, principal.user_id)
        if row is None:
            raise Conflict("The subscription is not active.", code="no_subscription")
        out = service.subscription_out(row)
        await audit_change(session, request, principal, action, "user", principal.user_id,
                           after={"plan_id": row.plan_id, "cancel_at_period_end": row.cancel_at_period_end,
                                  "subscription": row.stripe_subscription_id})
    if invalidation is not None:
        await svc.publish(invalidation)
    return out


@router.post("/subscriptions/checkout", response_model=CheckoutOut, status_code=201,
             responses=errors(404, 409, 502))
async def checkout(body: Choice, request: Request, principal: Principal = Depends(billing_scope)) -> CheckoutOut:
    """A Stripe Checkout session (mode=subscription) for a public plan; the plan applies when
    Stripe's events say the subscription is active, and each paid invoice brings its credits."""
    svc = services(request)
    api = _api(svc, principal)
    plan = await _choosable(svc, body.plan_id)
    price_id, cents = _price(plan, body.interval)
    async with svc.db.session() as session:
        current = await session.get(PlanSubscription, principal.user_id)
        user = await get_user(session, principal.user_id)
    if current is not None and current.source == "stripe":
        raise Conflict("You have a subscription already: change it with POST /subscriptions/change.",
                       code="already_subscribed")
    metadata = {USER_KEY: str(principal.user_id), PLAN_KEY: str(plan.id), INTERVAL_KEY: body.interval,
                TAG_KEY: owner_tag(svc.settings.key_hash_secret_bytes, principal.user_id)}
    item: dict[str, Any] = {"quantity": 1}
    if price_id is not None:
        item["price"] = price_id
    else:
        item["price_data"] = {"currency": "usd", "unit_amount": cents, "recurring": {"interval": body.interval},
                              "product_data": {"name": f"Gatewayz {plan.name}"}}
    params: dict[str, Any] = {
        "mode": "subscription", "client_reference_id": str(principal.user_id), "line_items": [item],
        "success_url": _return_url(svc, request, "success"), "cancel_url": _return_url(svc, request, "cancel"),
        "metadata": metadata, "subscription_data": {"metadata": metadata},
    }
    if current is not None and current.stripe_customer_id:
        params["customer"] = current.stripe_customer_id
    else:
        params["customer_email"] = user.email
    created = await api.create_checkout_session(params, f"gatewayz-sub-{principal.user_id}-{secrets.token_hex(8)}")
    async with svc.db.transaction() as session:
        await audit_change(session, request, principal, "subscription.checkout", "user", principal.user_id,
                           after={"plan_id": plan.id, "interval": body.interval, "checkout_session": created["id"]})
    return CheckoutOut(checkout_session_id=created["id"], checkout_url=created.get("url"))


@router.post("/subscriptions/change", response_model=SubscriptionOut, responses=errors(404, 409, 502))
async def change(body: Choice, request: Request, principal: Principal = Depends(billing_scope)) -> SubscriptionOut:
    """Another plan (or interval) for the subscription: Stripe prorates the difference."""
    svc = services(request)
    api = _api(svc, principal)
    plan = await _choosable(svc, body.plan_id)
    price_id, _ = _price(plan, body.interval)
    if price_id is None:
        raise Conflict(f"The plan {plan.slug!r} has no Stripe price for a {body.interval}ly subscription.",
                       param="plan_id", code="plan_not_on_stripe")
    row = await _stripe_row(svc, principal.user_id)
    sub_id = row.stripe_subscription_id
    current = await api.call("read the subscription", api.client.v1.subscriptions.retrieve_async, sub_id)
    item_id = first_item(current).get("id")
    updated = await api.call("change the subscription", api.client.v1.subscriptions.update_async, sub_id, params={
        "items": [{"id": item_id, "price": price_id}], **CHANGE})  # (a pending update takes no metadata)
    return await _apply(request, principal, updated, "subscription.change")


async def _set_cancel(request: Request, principal: Principal, cancel: bool) -> SubscriptionOut:
    svc = services(request)
    api = _api(svc, principal)
    row = await _stripe_row(svc, principal.user_id)
    updated = await api.call("update the subscription", api.client.v1.subscriptions.update_async,
                             row.stripe_subscription_id, params={"cancel_at_period_end": cancel})
    return await _apply(request, principal, updated, "subscription.cancel" if cancel else "subscription.resume")


@router.post("/subscriptions/cancel", response_model=SubscriptionOut, responses=errors(404, 409, 502))
async def cancel(request: Request, principal: Principal = Depends(billing_scope)) -> SubscriptionOut:
    """Cancel at the end of the period paid for: the plan applies until then."""
    return await _set_cancel(request, principal, True)


@router.post("/subscriptions/resume", response_model=SubscriptionOut, responses=errors(404, 409, 502))
async def resume(request: Request, principal: Principal = Depends(billing_scope)) -> SubscriptionOut:
    """Undo a cancellation before the period ends."""
    return await _set_cancel(request, principal, False)


@router.post("/subscriptions/portal", response_model=PortalOut, status_code=201, responses=errors(404, 409, 502))
async def portal(request: Request, principal: Principal = Depends(billing_scope)) -> PortalOut:
    """A link to Stripe's customer portal (payment methods, invoices, cancellation)."""
    svc = services(request)
    api = _api(svc, principal)
    async with svc.db.session() as session:
        row = await session.get(PlanSubscription, principal.user_id)
    if row is None or not row.stripe_customer_id:
        raise Conflict("You have no Stripe subscription.", code="no_subscription")
    created = await api.call("open the customer portal", api.client.v1.billing_portal.sessions.create_async,
                             params={"customer": row.stripe_customer_id,
                                     "return_url": _return_url(svc, request, "portal")})
    return PortalOut(url=created["url"])
