"""`/user/balance`, `/user/credit-transactions`, `/user/usage`, key usage (scope `billing`),
and the admin side: `/admin/credits`, `/admin/refunds`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from gatewayz.accounts import service as accounts
from gatewayz.accounts.dependencies import held_permissions, require_permission, require_scope
from gatewayz.accounts.principal import Principal
from gatewayz.audit.records import audit_change
from gatewayz.billing import ledger, queries
from gatewayz.billing.money import to_nanos, usd
from gatewayz.billing.schemas import (
    AdjustmentOut,
    BalanceOut,
    BalanceSettings,
    BillingEventOut,
    CreditChange,
    RefundOut,
    RefundRequest,
    TransactionList,
    TransactionType,
    UsageSummary,
)
from gatewayz.billing.tables import BillingEvent, CreditAccount
from gatewayz.errors import InvalidRequest, PermissionDenied
from gatewayz.http.params import MAX_ID, QueryInt, RowId, Timestamp
from gatewayz.services import services

router = APIRouter(tags=["Billing"])
billing_scope = require_scope("billing")


@router.get("/user/balance", response_model=BalanceOut)
async def get_balance(request: Request, principal: Principal = Depends(billing_scope)) -> BalanceOut:
    """Balance, money held by in-flight requests, and a forecast from the trailing 7-day burn."""
    svc = services(request)
    async with svc.db.session() as session:
        return await queries.balance(session, principal.user_id, to_nanos(svc.settings.low_balance_threshold_usd))


@router.patch("/user/balance", response_model=BalanceOut)
async def update_balance_settings(
    body: BalanceSettings, request: Request, principal: Principal = Depends(billing_scope)
) -> BalanceOut:
    """Set the low-balance threshold (a `low_balance` event is recorded when the balance crosses it)."""
    svc = services(request)
    threshold = to_nanos(body.low_balance_threshold) if body.low_balance_threshold is not None else None
    async with svc.db.transaction() as session:
        await ledger.ensure_account(session, principal.user_id)
        account = await session.get(CreditAccount, principal.user_id)
        assert account is not None
        before = account.low_balance_threshold
        account.low_balance_threshold = threshold
        await audit_change(session, request, principal, "credits.threshold.set", "user", principal.user_id,
                           before={"low_balance_threshold": usd(before) if before is not None else None},
                           after={"low_balance_threshold": usd(threshold) if threshold is not None else None})
    async with svc.db.session() as session:
        return await queries.balance(session, principal.user_id, to_nanos(svc.settings.low_balance_threshold_usd))


@router.get("/user/credit-transactions", response_model=TransactionList)
async def list_transactions(
    request: Request,
    type: TransactionType | None = Query(None),
    since: Annotated[Timestamp | None, Query()] = None,
    until: Annotated[Timestamp | None, Query()] = None,
    limit: Annotated[QueryInt, Query(ge=1, le=500)] = 50,
    before_id: Annotated[
        QueryInt | None, Query(ge=1, le=MAX_ID, description="cursor: next_before_id of the previous page")
    ] = None,
    principal: Principal = Depends(billing_scope),
) -> TransactionList:
    async with services(request).db.session() as session:
        rows, more = await queries.transactions(
            session,
            principal.user_id,
            type_=type,
            since=since,
            until=until,
            limit=limit,
            before_id=before_id,
        )
    return TransactionList(data=rows, has_more=more, next_before_id=rows[-1].id if more and rows else None)


@router.get("/user/usage", response_model=UsageSummary)
async def usage(
    request: Request,
    group_by: str = Query("day", pattern="^(day|model|provider|key)$"),
    since: Annotated[Timestamp | None, Query()] = None,
    until: Annotated[Timestamp | None, Query()] = None,
    principal: Principal = Depends(billing_scope),
) -> UsageSummary:
    async with services(request).db.session() as session:
        return await queries.usage_summary(
            session, user_id=principal.user_id, group_by=group_by, since=since, until=until
        )


@router.get("/user/api-keys/{key_id}/usage", response_model=UsageSummary)
async def key_usage(
    key_id: RowId,
    request: Request,
    group_by: str = Query("day", pattern="^(day|model|provider)$"),
    since: Annotated[Timestamp | None, Query()] = None,
    until: Annotated[Timestamp | None, Query()] = None,
    principal: Principal = Depends(billing_scope),
) -> UsageSummary:
    async with services(request).db.session() as session:
        await accounts.get_own_key(session, principal.user_id, key_id)
        return await queries.usage_summary(
            session, user_id=principal.user_id, key_id=key_id, group_by=group_by, since=since, until=until
        )


@router.get("/user/billing-events", response_model=list[BillingEventOut])
async def billing_events(
    request: Request,
    limit: Annotated[QueryInt, Query(ge=1, le=500)] = 50,
    principal: Principal = Depends(billing_scope),
) -> list[BillingEventOut]:
    query = (
        select(BillingEvent)
        .where(BillingEvent.user_id == principal.user_id)
        .order_by(BillingEvent.id.desc())
        .limit(limit)
    )
    async with services(request).db.session() as session:
        rows = (await session.execute(query)).scalars().all()
    return [BillingEventOut.model_validate(r, from_attributes=True) for r in rows]


@router.post("/admin/credits", response_model=AdjustmentOut, status_code=201)
async def adjust_credits(
    body: CreditChange,
    request: Request,
    admin: Principal = Depends(require_permission("credits.grant", "credits.grant_small")),
) -> AdjustmentOut:
    """Grant (positive) or deduct (negative) credits; grants may expire. Audited in the ledger.
    With `credits.grant_small` only (the `support` role): grants up to
    GATEWAYZ_SUPPORT_MAX_CREDIT_GRANT_USD each, to other people (not to team pools), no deductions."""
    svc = services(request)
    amount = to_nanos(body.amount)
    small_only = "credits.grant" not in held_permissions(request, admin)
    if small_only:
        limit = svc.settings.support_max_credit_grant_usd
        if amount < 0 or body.amount > limit:
            raise PermissionDenied(f"Without 'credits.grant', a grant is positive and at most {limit} USD.",
                                   param="amount", code="grant_over_limit")
        if body.user_id == admin.user_id:
            raise PermissionDenied("Without 'credits.grant', nobody grants credits to themselves.",
                                   param="user_id", code="self_grant")
    if body.expires_at is not None and body.expires_at <= datetime.now(UTC):
        raise InvalidRequest("expires_at must be in the future.", param="expires_at")
    async with svc.db.transaction() as session:
        target = await accounts.get_user(session, body.user_id)
        if small_only and target.kind == "team":  # a pool its members (the granter, say) can take back out
            raise PermissionDenied("Without 'credits.grant', credits are granted to people, not to team pools.",
                                   param="user_id", code="team_grant")
        entry = await ledger.adjust(
            session,
            user_id=body.user_id,
            amount=amount,
            type_="admin_grant" if amount > 0 else "admin_deduct",
            reason=body.reason,
            actor=f"user:{admin.user_id}",
            expires_at=body.expires_at,
        )
        account = await session.get(CreditAccount, body.user_id)
        assert account is not None
        await session.refresh(account)
        balance = account.balance
        await audit_change(session, request, admin, "credits.grant" if amount > 0 else "credits.deduct", "user",
                           body.user_id, after={"amount": usd(amount), "transaction_id": entry, "reason": body.reason,
                                                "expires_at": body.expires_at.isoformat() if body.expires_at else None})
    return AdjustmentOut(transaction_id=entry, user_id=body.user_id, amount=usd(amount), balance=usd(balance))


@router.post("/admin/refunds", response_model=RefundOut, status_code=201)
async def refund(
    body: RefundRequest, request: Request, admin: Principal = Depends(require_permission("credits.refund"))
) -> RefundOut:
    """Refund a usage charge, or part of it; never more than was charged."""
    amount = to_nanos(body.amount) if body.amount is not None else None
    async with services(request).db.transaction() as session:
        refunded, entry = await ledger.refund(
            session, request_id=body.request_id, amount=amount, reason=body.reason, actor=f"user:{admin.user_id}"
        )
        await audit_change(session, request, admin, "credits.refund", "usage", body.request_id,
                           after={"refunded": usd(refunded), "transaction_id": entry, "reason": body.reason})
    return RefundOut(transaction_id=entry, request_id=body.request_id, refunded=usd(refunded))
