"""`POST /api/stripe/checkout`, `POST /api/stripe/payment-intent`, `GET /api/stripe/packages` and
`GET /user/payments` (scope `billing`; live keys only: a sandbox key never buys real credits)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from gatewayz.accounts.dependencies import require_scope
from gatewayz.accounts.principal import Principal
from gatewayz.billing.money import usd
from gatewayz.errors import GatewayError, NotFound, PermissionDenied
from gatewayz.http.params import MAX_ID, QueryInt
from gatewayz.payments import store
from gatewayz.payments.client import StripeApi
from gatewayz.payments.config import cents_to_nanos
from gatewayz.payments.purchases import PAYMENT_METADATA
from gatewayz.payments.quote import Quote, quote_purchase
from gatewayz.payments.responses import errors
from gatewayz.payments.schemas import PackageList, PackageOut, PaymentList, PurchaseOut, PurchaseRequest
from gatewayz.services import Services, services

router = APIRouter(tags=["Payments"])
billing_scope = require_scope("billing")


def _buyer(principal: Principal) -> Principal:
    if principal.is_sandbox:
        raise PermissionDenied("Sandbox (test) keys cannot buy credits.", code="sandbox_key")
    return principal


def stripe_api(svc: Services) -> StripeApi:
    if svc.stripe is None:
        raise NotFound("Payments are not configured on this gateway.", code="payments_not_configured")
    return svc.stripe


def _metadata(payment_id: int, user_id: int) -> dict[str, str]:
    return {PAYMENT_METADATA: str(payment_id), "gatewayz_user_id": str(user_id)}


def _return_url(svc: Services, request: Request, configured: str | None, outcome: str) -> str:
    if configured:
        return configured
    base = (svc.settings.public_url or str(request.base_url)).rstrip("/")
    return f"{base}/billing?checkout={outcome}"


@router.get("/api/stripe/packages", response_model=PackageList)
async def packages(request: Request) -> PackageList:
    """The credit packages on sale, and the bounds of a custom amount."""
    settings = services(request).settings
    return PackageList(
        data=[PackageOut(id=key, name=p.name, price=usd(cents_to_nanos(p.price_cents)), price_cents=p.price_cents,
                         credits=usd(p.credit_nanos)) for key, p in settings.credit_packages.items()],
        custom_amount_min=f"{settings.purchase_min_usd:.2f}", custom_amount_max=f"{settings.purchase_max_usd:.2f}",
    )


async def _start(request: Request, principal: Principal, body: PurchaseRequest, kind: str) -> tuple[Any, Quote]:
    svc = services(request)
    async with svc.db.transaction() as session:
        quote = await quote_purchase(session, svc.settings, principal.user_id, body)
        payment = await store.create_payment(session, principal.user_id, kind, quote)
        if quote.applied:
            from gatewayz.promotions.checkout import reserve

            await reserve(session, principal.user_id, quote, payment.id)
    return payment, quote


async def _failed(svc: Services, payment_id: int) -> None:
    async with svc.db.transaction() as session:
        await store.attach(session, payment_id, status="failed")
        from gatewayz.promotions.checkout import release

        await release(session, payment_id)


@router.post("/api/stripe/checkout", response_model=PurchaseOut, status_code=201, responses=errors(404, 502))
async def checkout(body: PurchaseRequest, request: Request,
                   principal: Principal = Depends(billing_scope)) -> PurchaseOut:
    """A Stripe Checkout session for a package or a custom amount (a coupon's discount is the price
    Stripe charges). Credits arrive when Stripe's webhook says the session is paid."""
    svc = services(request)
    api = stripe_api(svc)
    _buyer(principal)
    api.client  # noqa: B018 -- 404 before anything is written when Stripe is not configured
    payment, quote = await _start(request, principal, body, "checkout")
    metadata = _metadata(payment.id, principal.user_id)
    params = {
        "mode": "payment",
        "client_reference_id": str(principal.user_id),
        "line_items": [{"quantity": 1, "price_data": {
            "currency": "usd", "unit_amount": quote.amount_cents,
            "product_data": {"name": f"Gatewayz credits: {quote.name}"}}}],
        "success_url": _return_url(svc, request, svc.settings.stripe_success_url, "success"),
        "cancel_url": _return_url(svc, request, svc.settings.stripe_cancel_url, "cancel"),
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
    }
    try:
        created = await api.create_checkout_session(params, f"gatewayz-checkout-{payment.id}")
    except GatewayError:
        await _failed(svc, payment.id)
        raise
    intent = created.get("payment_intent")
    async with svc.db.transaction() as session:
        await store.attach(session, payment.id, checkout_session_id=created["id"],
                           **({"payment_intent_id": intent} if isinstance(intent, str) else {}))
    return store.purchase_out(payment, quote, checkout_session_id=created["id"], checkout_url=created.get("url"))


@router.post("/api/stripe/payment-intent", response_model=PurchaseOut, status_code=201,
             responses=errors(404, 502))
async def payment_intent(body: PurchaseRequest, request: Request,
                         principal: Principal = Depends(billing_scope)) -> PurchaseOut:
    """A Stripe PaymentIntent for a package or a custom amount, confirmed by the client with Stripe.js
    (`client_secret`); credits arrive with `payment_intent.succeeded`."""
    svc = services(request)
    api = stripe_api(svc)
    _buyer(principal)
    api.client  # noqa: B018
    payment, quote = await _start(request, principal, body, "payment_intent")
    params = {"amount": quote.amount_cents, "currency": "usd", "payment_method_types": ["card"],
              "metadata": _metadata(payment.id, principal.user_id)}
    try:
        created = await api.create_payment_intent(params, f"gatewayz-intent-{payment.id}")
    except GatewayError:
        await _failed(svc, payment.id)
        raise
    async with svc.db.transaction() as session:
        await store.attach(session, payment.id, payment_intent_id=created["id"])
    return store.purchase_out(payment, quote, payment_intent_id=created["id"],
                              client_secret=created.get("client_secret"))


@router.get("/user/payments", response_model=PaymentList)
async def list_payments(
    request: Request,
    status: Annotated[str | None, Query(pattern="^(pending|succeeded|refunded|failed|expired|canceled)$")] = None,
    limit: Annotated[QueryInt, Query(ge=1, le=200)] = 50,
    before_id: Annotated[QueryInt | None, Query(ge=1, le=MAX_ID, description="cursor: next_before_id")] = None,
    principal: Principal = Depends(billing_scope),
) -> PaymentList:
    """The caller's own payments, newest first."""
    async with services(request).db.session() as session:
        rows, more = await store.list_payments(session, principal.user_id, limit=limit, before_id=before_id,
                                               status=status)
    return PaymentList(data=[store.payment_out(p) for p in rows], has_more=more,
                       next_before_id=rows[-1].id if more and rows else None)
