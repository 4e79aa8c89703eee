"""`/plans` (public), `/user/plan`, `POST /plans/assign` and `/admin/plans` (CRUD)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from gatewayz.accounts import service as accounts
from gatewayz.accounts.auth import extract_key
from gatewayz.accounts.dependencies import held_permissions, require_permission, require_scope
from gatewayz.accounts.principal import Principal
from gatewayz.audit.records import audit_change
from gatewayz.billing.money import usd
from gatewayz.errors import Conflict, GatewayError, NotFound, PermissionDenied
from gatewayz.http.params import RowId
from gatewayz.plans import service
from gatewayz.plans.analytics import PlanAnalytics, plan_analytics
from gatewayz.plans.schemas import (
    AdminPlanList,
    AdminPlanOut,
    Assign,
    PlanCreate,
    PlanFields,
    PlanList,
    PlanOut,
    UserPlanOut,
    errors,
)
from gatewayz.plans.tables import Plan, PlanSubscription
from gatewayz.services import services

router = APIRouter(tags=["Plans"])
read_plans = require_permission("plans.read", "plans.write")
write_plans = require_permission("plans.write")
billing_scope = require_scope("billing")


# -- public and the user's own ----------------------------------------------------------------------


@router.get("/plans", response_model=PlanList)
async def public_plans(request: Request) -> PlanList:
    """The active public plans, cheapest first (no key needed)."""
    async with services(request).db.session() as session:
        rows = (await session.execute(
            select(Plan).where(Plan.visibility == "public", Plan.active.is_(True))
            .order_by(Plan.price_monthly, Plan.id)
        )).scalars().all()
    return PlanList(data=[service.plan_out(r) for r in rows])


async def _may_see(request: Request, plan: Plan) -> bool:
    """A custom (or archived) plan is visible to its users and to holders of plans.read."""
    if plan.visibility == "public" and plan.active:
        return True
    if extract_key(request) is None:
        return False
    try:
        principal = await services(request).auth.authenticate(request, "billing")
    except GatewayError:  # a bad or weak key learns no more than an anonymous caller: 404
        return False
    if held_permissions(request, principal) & {"plans.read", "plans.write"} and not principal.is_sandbox:
        return True
    async with services(request).db.session() as session:
        mine = await session.get(PlanSubscription, principal.user_id)
    return mine is not None and mine.plan_id == plan.id


@router.get("/plans/{plan_id}", response_model=PlanOut, responses=errors(404))
async def get_public_plan(plan_id: RowId, request: Request) -> PlanOut:
    async with services(request).db.session() as session:
        plan = await session.get(Plan, plan_id)
    if plan is None or not await _may_see(request, plan):
        raise NotFound(f"No plan with id {plan_id}.", param="plan_id")
    return service.plan_out(plan)


@router.get("/user/plan", response_model=UserPlanOut)
async def user_plan(request: Request, principal: Principal = Depends(billing_scope)) -> UserPlanOut:
    """The caller's plan now (the default plan when none of its own applies) and its subscription."""
    svc = services(request)
    plan_id = principal.plan_id
    if principal.plan_ends_at is not None and principal.plan_ends_at <= time.time():
        plan_id = None
    async with svc.db.session() as session:
        sub = await session.get(PlanSubscription, principal.user_id)
        row = await session.get(Plan, plan_id) if plan_id is not None else None
        if row is None:
            row = (await session.execute(select(Plan).where(Plan.slug == svc.settings.default_plan))).scalar_one()
    own = sub is not None and sub.plan_id == row.id and principal.plan_id == row.id
    return UserPlanOut(user_id=principal.user_id, plan=service.plan_out(row), default=not own,
                       subscription=service.subscription_out(sub) if own and sub is not None else None)


@router.post("/plans/assign", response_model=UserPlanOut, responses=errors(404, 409))
async def assign(body: Assign, request: Request, admin: Principal = Depends(write_plans)) -> UserPlanOut:
    """Put a user on a plan from now (the default plan: back to it). A Stripe subscription is
    cancelled through Stripe, not overwritten here (409)."""
    svc = services(request)
    may_grant = "credits.grant" in held_permissions(request, admin)
    if body.user_id == admin.user_id and not may_grant:
        raise PermissionDenied("Without 'credits.grant', nobody puts themselves on a plan.", param="user_id",
                               code="self_assign")
    async with svc.db.transaction() as session:
        await accounts.get_user(session, body.user_id)
        plan = await service.get_plan(session, body.plan_id)
        if plan.credits_per_period > 0 and not may_grant:
            raise PermissionDenied("This plan grants credits every period: assigning it needs 'credits.grant'.",
                                   param="plan_id", code="plan_credits_need_credits_grant")
        if not plan.active:
            raise Conflict("This plan is archived (active=false); it cannot be assigned.", param="plan_id",
                           code="plan_archived")
        current = await session.get(PlanSubscription, body.user_id)
        if current is not None and current.source == "stripe":
            raise Conflict("The user has a Stripe subscription; cancel it first.", param="user_id",
                           code="stripe_subscription_active")
        before = {"plan_id": current.plan_id, "source": current.source} if current is not None else {"plan_id": None}
        sub, entry, invalidation = await service.assign_plan(
            session, user_id=body.user_id, plan=plan, interval=body.interval, source="admin",
            ends_at=body.ends_at, grant_credits=body.grant_credits, actor=f"user:{admin.user_id}",
            default_slug=svc.settings.default_plan,
        )
        after = {"plan_id": plan.id, "source": "admin" if sub is not None else None, "credits_transaction_id": entry,
                 "credits": usd(plan.credits_per_period) if entry is not None else None}
        await audit_change(session, request, admin, "plan.assign", "user", body.user_id, before, after)
        out = UserPlanOut(user_id=body.user_id, plan=service.plan_out(plan), default=sub is None,
                          subscription=service.subscription_out(sub) if sub is not None else None)
    await svc.publish(invalidation)
    return out


# -- admin ------------------------------------------------------------------------------------------


def _credits_need_grant(request: Request, admin: Principal, body: PlanFields) -> None:
    """A plan's credits are granted to its users every period: setting them is granting credits."""
    if body.credits_per_period and "credits.grant" not in held_permissions(request, admin):
        raise PermissionDenied("Plans with credits need the 'credits.grant' permission too.",
                               param="credits_per_period", code="plan_credits_need_credits_grant")


@router.get("/admin/plans", response_model=AdminPlanList)
async def list_plans(request: Request, admin: Principal = Depends(read_plans)) -> AdminPlanList:
    """Every plan (custom and archived ones too) with its number of subscribers."""
    async with services(request).db.session() as session:
        rows = (await session.execute(select(Plan).order_by(Plan.id))).scalars().all()
        counts = await service.subscriber_counts(session)
    return AdminPlanList(data=[service.admin_plan_out(r, counts.get(r.id, 0)) for r in rows])


@router.get("/admin/plans/analytics", response_model=PlanAnalytics)
async def analytics(request: Request, admin: Principal = Depends(read_plans)) -> PlanAnalytics:
    """Per plan: subscribers by status and source, periods and credits granted, invoices paid and
    their revenue, trials started and converted; and all trials together."""
    async with services(request).db.session() as session:
        return await plan_analytics(session)


@router.get("/admin/plans/{plan_id}", response_model=AdminPlanOut)
async def get_plan(plan_id: RowId, request: Request, admin: Principal = Depends(read_plans)) -> AdminPlanOut:
    async with services(request).db.session() as session:
        row = await service.get_plan(session, plan_id)
        counts = await service.subscriber_counts(session)
    return service.admin_plan_out(row, counts.get(row.id, 0))


@router.post("/admin/plans", response_model=AdminPlanOut, status_code=201, responses=errors(409))
async def create_plan(body: PlanCreate, request: Request, admin: Principal = Depends(write_plans)) -> AdminPlanOut:
    svc = services(request)
    _credits_need_grant(request, admin, body)
    async with svc.db.transaction() as session:
        row, invalidation = await service.create_plan(session, body)
        await audit_change(session, request, admin, "plan.create", "plan", row.id, after=service.audit_fields(row))
        out = service.admin_plan_out(row, 0)
    await svc.plans.reload()
    await svc.publish(invalidation)
    return out


@router.patch("/admin/plans/{plan_id}", response_model=AdminPlanOut)
async def update_plan(plan_id: RowId, body: PlanFields, request: Request,
                      admin: Principal = Depends(write_plans)) -> AdminPlanOut:
    """Change a plan; in force for its users' next request, in every process."""
    svc = services(request)
    _credits_need_grant(request, admin, body)
    async with svc.db.transaction() as session:
        row = await service.get_plan(session, plan_id)
        before = service.audit_fields(row)
        invalidation = await service.update_plan(session, row, body)
        await audit_change(session, request, admin, "plan.update", "plan", row.id, before, service.audit_fields(row))
        counts = await service.subscriber_counts(session)
        out = service.admin_plan_out(row, counts.get(row.id, 0))
    await svc.plans.reload()
    await svc.publish(invalidation)
    return out


@router.delete("/admin/plans/{plan_id}", response_model=AdminPlanOut, responses=errors(409))
async def delete_plan(plan_id: RowId, request: Request, admin: Principal = Depends(write_plans)) -> AdminPlanOut:
    svc = services(request)
    async with svc.db.transaction() as session:
        row = await service.get_plan(session, plan_id)
        out = service.admin_plan_out(row, 0)
        before = service.audit_fields(row)
        invalidation = await service.delete_plan(session, row, {svc.settings.default_plan, svc.settings.trial_plan})
        await audit_change(session, request, admin, "plan.delete", "plan", plan_id, before, None)
    await svc.plans.reload()
    await svc.publish(invalidation)
    return out
