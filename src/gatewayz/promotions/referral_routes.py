"""`GET /referral/code`, `POST /referral/apply`, `GET /referral/stats`, `GET /referral/history` (scope
`billing`) and the invite link `GET /r/{code}` (no key: it counts the visit and sends the browser to
sign-up with the code attached as `?ref=`)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from gatewayz.accounts.dependencies import require_permission, require_scope
from gatewayz.accounts.principal import Principal
from gatewayz.accounts.tables import User
from gatewayz.audit.records import audit_change
from gatewayz.billing.money import usd
from gatewayz.errors import Conflict, NotFound, PermissionDenied
from gatewayz.http.params import MAX_ID, QueryInt
from gatewayz.payments.responses import errors
from gatewayz.promotions import referrals
from gatewayz.promotions.schemas import (
    ApplyReferral,
    ReferralAnalytics,
    ReferralCodeOut,
    ReferralEntry,
    ReferralHistory,
    ReferralStats,
)
from gatewayz.promotions.tables import Referral, ReferralCode
from gatewayz.services import Services, services

router = APIRouter(tags=["Referrals"])
billing_scope = require_scope("billing")


def _base(svc: Services, request: Request) -> str:
    return (svc.settings.public_url or str(request.base_url)).rstrip("/")


def _mask(email: str) -> str:
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}" if domain else "***"


@router.get("/referral/code", response_model=ReferralCodeOut)
async def referral_code(request: Request, principal: Principal = Depends(billing_scope)) -> ReferralCodeOut:
    """Your referral code and invite link."""
    svc = services(request)
    async with svc.db.transaction() as session:
        code = await referrals.code_for(session, principal.user_id)
    return ReferralCodeOut(code=code, link=f"{_base(svc, request)}/r/{code}")


@router.get("/r/{code}", include_in_schema=True, status_code=302, response_class=RedirectResponse)
async def invite_link(request: Request,
                      code: Annotated[str, Path(pattern=r"^[A-Za-z0-9]{4,32}$")]) -> RedirectResponse:
    """The invite link: to sign-up (GATEWAYZ_REFERRAL_SIGNUP_URL, else `<public url>/signup`) with `?ref=<code>`,
    to be sent with POST /referral/apply once signed up."""
    svc = services(request)
    async with svc.db.transaction() as session:
        if not await referrals.visit(session, code):
            raise NotFound("No such referral code.", param="code")
    target = svc.settings.referral_signup_url or f"{_base(svc, request)}/signup"
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}ref={quote(code.upper())}", status_code=302)


@router.post("/referral/apply", response_model=ReferralEntry, status_code=201, responses=errors(409))
async def apply_referral(body: ApplyReferral, request: Request,
                         principal: Principal = Depends(billing_scope)) -> ReferralEntry:
    """Apply a referral code to your new account (within the apply window of sign-up, before a first
    purchase; once). Rewards come with your first qualifying purchase. Not with a sandbox (test) key."""
    if principal.is_sandbox:
        raise PermissionDenied("Sandbox (test) keys cannot apply referral codes.", code="sandbox_key")
    svc = services(request)
    try:
        async with svc.db.transaction() as session:
            referral = await referrals.apply(session, svc.settings, principal.user_id, body.code)
            await audit_change(session, request, principal, "referrals.apply", "user", principal.user_id,
                               after={"referrer_id": referral.referrer_id, "code": referral.code})
    except IntegrityError as exc:
        raise Conflict("A referral code is already applied to this account.", param="code",
                       code="already_referred") from exc
    return ReferralEntry(id=referral.id, referred="you", status=referral.status, created_at=referral.created_at,
                         converted_at=None, reward="0.000000000")


@router.get("/referral/stats", response_model=ReferralStats)
async def referral_stats(request: Request, principal: Principal = Depends(billing_scope)) -> ReferralStats:
    """Invited (visits of your link), signed up, converted, and what you earned."""
    svc = services(request)
    async with svc.db.transaction() as session:
        code = await referrals.code_for(session, principal.user_id)
        invited, signed_up, converted, earned = await referrals.stats(session, principal.user_id)
    return ReferralStats(code=code, invited=invited, signed_up=signed_up, converted=converted, earned=usd(earned))


@router.get("/referral/history", response_model=ReferralHistory)
async def referral_history(
    request: Request,
    limit: Annotated[QueryInt, Query(ge=1, le=200)] = 50,
    before_id: Annotated[QueryInt | None, Query(ge=1, le=MAX_ID, description="cursor: next_before_id")] = None,
    principal: Principal = Depends(billing_scope),
) -> ReferralHistory:
    """The people you referred (emails masked), newest first."""
    query = (select(Referral, User.email).join(User, User.id == Referral.referred_id, isouter=True)
             .where(Referral.referrer_id == principal.user_id).order_by(Referral.id.desc()).limit(limit + 1))
    if before_id is not None:
        query = query.where(Referral.id < before_id)
    async with services(request).db.session() as session:
        rows = (await session.execute(query)).all()
    data = [ReferralEntry(id=r.id, referred=_mask(email or ""), status=r.status, created_at=r.created_at,
                          converted_at=r.converted_at, reward=usd(r.referrer_reward)) for r, email in rows[:limit]]
    more = len(rows) > limit
    return ReferralHistory(data=data, has_more=more, next_before_id=data[-1].id if more and data else None)


@router.get("/admin/referrals/analytics", response_model=ReferralAnalytics, tags=["Admin"])
async def referral_analytics(request: Request,
                             _: Principal = Depends(require_permission("analytics.read"))) -> ReferralAnalytics:
    """Gateway-wide: codes issued, invite-link visits, referrals signed up and converted, rewards paid."""
    async with services(request).db.session() as session:
        codes = (await session.execute(select(func.count(), func.coalesce(func.sum(ReferralCode.visits), 0))
                                       .select_from(ReferralCode))).one()
        made = (await session.execute(select(
            func.count(), func.count(Referral.converted_at),
            func.coalesce(func.sum(Referral.referrer_reward), 0), func.coalesce(func.sum(Referral.referred_reward), 0),
        ).select_from(Referral))).one()
    return ReferralAnalytics(codes=int(codes[0]), visits=int(codes[1]), signed_up=int(made[0]),
                             converted=int(made[1]), referrer_rewards=usd(int(made[2])),
                             referred_rewards=usd(int(made[3])))
