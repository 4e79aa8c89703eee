"""Admin CRUD of coupons (`coupons.write`; reading: `coupons.read`), disabling, and analytics."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.accounts.dependencies import held_permissions, require_permission
from gatewayz.accounts.principal import Principal
from gatewayz.audit.records import audit_change
from gatewayz.billing.money import usd
from gatewayz.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from gatewayz.http.params import QueryBool, QueryInt, RowId
from gatewayz.payments.config import cents_to_nanos
from gatewayz.payments.responses import errors
from gatewayz.promotions.schemas import CouponAnalytics, CouponCreate, CouponList, CouponOut, CouponRules
from gatewayz.promotions.tables import Coupon, CouponRedemption
from gatewayz.services import services
from gatewayz.storage.types import utcnow

router = APIRouter(prefix="/admin/coupons", tags=["Admin", "Coupons"])
can_read = require_permission("coupons.read", "coupons.write")
can_write = require_permission("coupons.write")


# Without 'credits.grant' a coupon gives no credits and at most this much off (review P6: otherwise
# 'coupons.write' alone mints credits: a credit coupon for oneself, or a 99.99 % coupon).
SMALL_PERCENT_BPS = 5_000  # 50 %
SMALL_FIXED_CENTS = 500  # $5, or up to half the coupon's minimum purchase
PATCH_HARMLESS = {"description"}


def gives_money(c: Coupon) -> bool:
    """Whether making or widening `c` needs 'credits.grant': it gives credits, or a large discount."""
    if c.kind in ("credit", "bonus"):
        return True
    if c.kind == "percent":
        return (c.percent_off_bps or 0) > SMALL_PERCENT_BPS
    return (c.amount_off_cents or 0) > max(SMALL_FIXED_CENTS, (c.min_purchase_cents or 0) // 2)


def _need_grant(request: Request, admin: Principal, coupon: Coupon) -> None:
    if gives_money(coupon) and "credits.grant" not in held_permissions(request, admin):
        raise PermissionDenied(
            "Coupons that give credits (credit, bonus) or more than 50 % / $5 (or half the minimum purchase) off "
            "need the 'credits.grant' permission too.", param="kind", code="coupon_needs_credits_grant")


def _cents(value: Decimal | None) -> int | None:
    return None if value is None else int(value * 100)


def _money(cents: int | None) -> str | None:
    return None if cents is None else usd(cents_to_nanos(cents))


def coupon_out(c: Coupon) -> CouponOut:
    return CouponOut(
        id=c.id, code=c.code, kind=c.kind, description=c.description,
        percent_off=None if c.percent_off_bps is None else f"{Decimal(c.percent_off_bps) / 100:.2f}",
        amount_off=_money(c.amount_off_cents), credits=None if c.credit_nanos is None else usd(c.credit_nanos),
        max_uses=c.max_uses, max_uses_per_user=c.max_uses_per_user, uses=c.uses, first_time_only=c.first_time_only,
        valid_from=c.valid_from, valid_until=c.valid_until, allowed_user_ids=c.allowed_user_ids,
        allowed_emails=c.allowed_emails, allowed_plans=c.allowed_plans, min_purchase=_money(c.min_purchase_cents),
        stackable=c.stackable, stacks_with=c.stacks_with, disabled=c.disabled, created_at=c.created_at,
        updated_at=c.updated_at)


def _rule_values(body: CouponRules, *, only_set: bool) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=only_set, exclude={"code", "kind", "percent_off", "amount_off", "credits"})
    if "min_purchase" in given:
        given["min_purchase_cents"] = _cents(given.pop("min_purchase"))
    if "allowed_emails" in given and given["allowed_emails"] is not None:
        given["allowed_emails"] = [e.lower() for e in given["allowed_emails"]]
    return given


def _audit(c: Coupon) -> dict[str, Any]:
    return coupon_out(c).model_dump(mode="json", exclude={"created_at", "updated_at", "uses"})


async def _get(session: AsyncSession, coupon_id: int) -> Coupon:
    coupon = await session.get(Coupon, coupon_id)
    if coupon is None:
        raise NotFound(f"No coupon {coupon_id}.", param="coupon_id")
    return coupon


@router.post("", response_model=CouponOut, status_code=201, responses=errors(409))
async def create_coupon(body: CouponCreate, request: Request, admin: Principal = Depends(can_write)) -> CouponOut:
    values = _rule_values(body, only_set=False)
    values.update(first_time_only=bool(values.get("first_time_only")), stackable=bool(values.get("stackable")),
                  disabled=bool(values.get("disabled")))
    if "max_uses_per_user" not in body.model_fields_set:
        values["max_uses_per_user"] = 1
    now = utcnow()
    coupon = Coupon(code=body.code.upper(), kind=body.kind, uses=0, created_by=admin.user_id, created_at=now,
                    updated_at=now, percent_off_bps=None if body.percent_off is None else int(body.percent_off * 100),
                    amount_off_cents=_cents(body.amount_off),
                    credit_nanos=None if body.credits is None else int(body.credits * 1_000_000_000), **values)
    _need_grant(request, admin, coupon)
    try:
        async with services(request).db.transaction() as session:
            session.add(coupon)
            await session.flush()
            await audit_change(session, request, admin, "coupons.create", "coupon", coupon.id, after=_audit(coupon))
    except IntegrityError as exc:
        raise Conflict(f"A coupon {coupon.code} exists already.", param="code", code="coupon_exists") from exc
    return coupon_out(coupon)


@router.get("", response_model=CouponList)
async def list_coupons(
    request: Request,
    include_disabled: Annotated[QueryBool, Query()] = True,
    limit: Annotated[QueryInt, Query(ge=1, le=500)] = 100,
    offset: Annotated[QueryInt, Query(ge=0, le=10**9)] = 0,
    _: Principal = Depends(can_read),
) -> CouponList:
    query = select(Coupon).order_by(Coupon.id.desc()).offset(offset).limit(limit + 1)
    if not include_disabled:
        query = query.where(Coupon.disabled.is_(False))
    async with services(request).db.session() as session:
        rows = list((await session.execute(query)).scalars())
    return CouponList(data=[coupon_out(c) for c in rows[:limit]], has_more=len(rows) > limit)


@router.get("/{coupon_id}", response_model=CouponOut)
async def get_coupon(coupon_id: RowId, request: Request, _: Principal = Depends(can_read)) -> CouponOut:
    async with services(request).db.session() as session:
        return coupon_out(await _get(session, coupon_id))


@router.patch("/{coupon_id}", response_model=CouponOut)
async def update_coupon(coupon_id: RowId, body: CouponRules, request: Request,
                        admin: Principal = Depends(can_write)) -> CouponOut:
    """Change a coupon's rules (its code, kind and value stay: make a new coupon for another offer)."""
    async with services(request).db.transaction() as session:
        coupon = await _get(session, coupon_id)
        before = _audit(coupon)
        changes = _rule_values(body, only_set=True)
        for name, value in changes.items():
            if value is None and name in ("first_time_only", "stackable", "disabled"):
                continue
            setattr(coupon, name, value)
        if set(changes) - PATCH_HARMLESS and not (set(changes) == {"disabled"} and changes["disabled"]):
            _need_grant(request, admin, coupon)
        if coupon.valid_from and coupon.valid_until and coupon.valid_until <= coupon.valid_from:
            raise InvalidRequest("valid_until must be after valid_from.", param="valid_until")
        coupon.updated_at = utcnow()
        await session.flush()
        await audit_change(session, request, admin, "coupons.update", "coupon", coupon.id, before=before,
                           after=_audit(coupon))
    return coupon_out(coupon)


@router.delete("/{coupon_id}", response_model=CouponOut)
async def disable_coupon(coupon_id: RowId, request: Request, admin: Principal = Depends(can_write)) -> CouponOut:
    """Disable a coupon (kept, with its redemptions, for the analytics; PATCH `disabled: false` revives it)."""
    async with services(request).db.transaction() as session:
        coupon = await _get(session, coupon_id)
        if not coupon.disabled:
            coupon.disabled, coupon.updated_at = True, utcnow()
            await audit_change(session, request, admin, "coupons.disable", "coupon", coupon.id,
                               before={"disabled": False}, after={"disabled": True})
    return coupon_out(coupon)


@router.get("/{coupon_id}/analytics", response_model=CouponAnalytics)
async def coupon_analytics(coupon_id: RowId, request: Request, _: Principal = Depends(can_read)) -> CouponAnalytics:
    """Redeemed uses, uses reserved by unpaid checkouts, users, the discount and credits given, and the
    revenue of the purchases that used it (what they paid)."""
    done = CouponRedemption.status == "redeemed"

    def total(column: Any) -> Any:
        return func.coalesce(func.sum(case((done, column), else_=0)), 0)

    async with services(request).db.session() as session:
        coupon = await _get(session, coupon_id)
        row = (await session.execute(select(
            func.coalesce(func.sum(case((done, 1), else_=0)), 0),
            func.coalesce(func.sum(case((CouponRedemption.status == "reserved", 1), else_=0)), 0),
            func.count(func.distinct(case((done, CouponRedemption.user_id)))),
            total(CouponRedemption.discount_cents), total(CouponRedemption.bonus_credits),
            total(CouponRedemption.credits), total(CouponRedemption.amount_cents),
        ).where(CouponRedemption.coupon_id == coupon_id))).one()
    return CouponAnalytics(coupon_id=coupon.id, code=coupon.code, redemptions=int(row[0]), reserved=int(row[1]),
                           users=int(row[2]), discount_given=usd(cents_to_nanos(int(row[3]))),
                           bonus_credits_given=usd(int(row[4])), free_credits_given=usd(int(row[5])),
                           revenue=usd(cents_to_nanos(int(row[6]))))
