"""`POST /coupons/validate` (what coupons would do for this user and purchase) and `POST
/coupons/redeem` (a credit coupon's credits, through the ledger). Scope `billing`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from gatewayz.accounts.dependencies import require_scope
from gatewayz.accounts.principal import Principal
from gatewayz.audit.records import audit_change
from gatewayz.billing import ledger
from gatewayz.billing.money import usd
from gatewayz.billing.tables import CreditAccount
from gatewayz.errors import PermissionDenied
from gatewayz.payments.config import cents_to_nanos
from gatewayz.payments.quote import STRIPE_MIN_CENTS, base_quote
from gatewayz.promotions import coupons
from gatewayz.promotions.checkout import apply_coupons
from gatewayz.promotions.schemas import RedeemOut, RedeemRequest, ValidateOut, ValidateRequest
from gatewayz.promotions.tables import CouponRedemption
from gatewayz.services import services
from gatewayz.storage.types import utcnow

router = APIRouter(tags=["Coupons"])
billing_scope = require_scope("billing")


@router.post("/coupons/validate", response_model=ValidateOut)
async def validate(body: ValidateRequest, request: Request,
                   principal: Principal = Depends(billing_scope)) -> ValidateOut:
    """What the coupon(s) would do for you: with `package` or `amount`, the price and credits of that
    purchase; a credit coupon alone, the credits POST /coupons/redeem would give. A coupon that does not
    apply is a 400 whose `code` says why (coupon_expired, coupon_used_up, coupon_min_purchase, ...)."""
    svc = services(request)
    codes = body.codes()
    async with svc.db.session() as session:
        if body.package is None and body.amount is None:
            found = await coupons.find(session, codes)
            if len(found) == 1 and found[0].kind == "credit":
                await coupons.check(session, svc.settings, found[0], principal.user_id, kinds=("credit",),
                                    list_cents=None)
                return ValidateOut(coupon_codes=codes, kind="credit", list_price=None, amount=None, amount_cents=None,
                                   discount=usd(0), credits=usd(found[0].credit_nanos or 0), bonus_credits=usd(0))
            raise coupons.refuse("Name the purchase (package or amount) to validate a checkout coupon.",
                                 "coupon_needs_purchase")
        quote = await apply_coupons(session, svc.settings, principal.user_id, base_quote(svc.settings, body), codes,
                                    lock=False)
    if quote.amount_cents < STRIPE_MIN_CENTS:
        raise coupons.refuse(f"After the discount the price is below Stripe's minimum of {STRIPE_MIN_CENTS} cents.",
                             "amount_below_minimum")
    return ValidateOut(coupon_codes=[a.code for a in quote.applied], kind="checkout",
                       list_price=usd(cents_to_nanos(quote.list_cents)),
                       amount=usd(cents_to_nanos(quote.amount_cents)), amount_cents=quote.amount_cents,
                       discount=usd(cents_to_nanos(quote.discount_cents)), credits=usd(quote.credits),
                       bonus_credits=usd(quote.bonus_credits))


@router.post("/coupons/redeem", response_model=RedeemOut, status_code=201)
async def redeem(body: RedeemRequest, request: Request, principal: Principal = Depends(billing_scope)) -> RedeemOut:
    """Redeem a credit coupon: its credits are granted once (the coupon's use limits hold under any
    concurrency: the use and the grant commit together)."""
    if principal.is_sandbox:
        raise PermissionDenied("Sandbox (test) keys cannot redeem coupons.", code="sandbox_key")
    svc = services(request)
    code = body.coupon_code.upper()
    async with svc.db.transaction() as session:
        (coupon,) = await coupons.lock(session, [code])
        await coupons.check(session, svc.settings, coupon, principal.user_id, kinds=("credit",), list_cents=None)
        await coupons.claim(session, coupon, principal.user_id)
        credits = coupon.credit_nanos or 0
        entry = await ledger.adjust(session, user_id=principal.user_id, amount=credits, type_="coupon",
                                    reason=f"coupon {coupon.code}", actor=f"user:{principal.user_id}",
                                    reference=f"coupon:{coupon.id}")
        now = utcnow()
        session.add(CouponRedemption(coupon_id=coupon.id, user_id=principal.user_id, status="redeemed", credits=credits,
                                     discount_cents=0, bonus_credits=0, amount_cents=0, credit_transaction_id=entry,
                                     created_at=now, completed_at=now))
        await audit_change(session, request, principal, "coupons.redeem", "coupon", coupon.id,
                           after={"code": coupon.code, "credits": usd(credits), "transaction_id": entry})
        account = await session.get(CreditAccount, principal.user_id, populate_existing=True)
        assert account is not None
    return RedeemOut(coupon_code=coupon.code, credits=usd(credits), transaction_id=entry, balance=usd(account.balance))
