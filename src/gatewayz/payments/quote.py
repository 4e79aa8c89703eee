"""What a purchase costs and credits: a package or a custom amount, then any coupon."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.errors import InvalidRequest
from gatewayz.payments.schemas import PurchaseRequest
from gatewayz.settings import Settings

STRIPE_MIN_CENTS = 50  # Stripe's smallest card charge in USD


@dataclass(frozen=True, slots=True)
class Quote:
    package: str | None
    name: str
    list_cents: int  # the price before any discount
    amount_cents: int  # what Stripe charges
    credits: int  # nanos credited for the purchase
    bonus_credits: int = 0  # nanos a coupon adds
    coupon_id: int | None = None
    coupon_code: str | None = None

    @property
    def discount_cents(self) -> int:
        return self.list_cents - self.amount_cents

    def with_coupon(self, coupon_id: int, code: str, *, amount_cents: int, bonus_credits: int) -> Quote:
        return replace(self, coupon_id=coupon_id, coupon_code=code, amount_cents=amount_cents,
                       bonus_credits=bonus_credits)


def base_quote(settings: Settings, body: PurchaseRequest) -> Quote:
    if body.package is not None:
        package = settings.credit_packages.get(body.package)
        if package is None:
            raise InvalidRequest(f"No credit package {body.package!r} (GET /api/stripe/packages lists them).",
                                 param="package", code="unknown_package")
        return Quote(body.package, package.name, package.price_cents, package.price_cents, package.credit_nanos)
    assert body.amount is not None
    low, high = settings.purchase_min_usd, settings.purchase_max_usd
    if not low <= body.amount <= high:
        raise InvalidRequest(f"A custom amount is between {low} and {high} USD.", param="amount",
                             code="amount_out_of_bounds")
    cents = int(body.amount * 100)
    return Quote(None, "Custom amount", cents, cents, int(body.amount * Decimal(1_000_000_000)))


async def quote_purchase(session: AsyncSession, settings: Settings, user_id: int, body: PurchaseRequest) -> Quote:
    """The price of `body` for `user_id`, with its coupon applied (400 saying why when it does not apply)."""
    quote = base_quote(settings, body)
    if body.coupon_code is not None:
        raise InvalidRequest("Coupons are not available yet.", param="coupon_code", code="coupon_not_found")
    if quote.amount_cents < STRIPE_MIN_CENTS:
        raise InvalidRequest(f"After the discount the price is below Stripe's minimum of {STRIPE_MIN_CENTS} cents.",
                             param="coupon_code", code="amount_below_minimum")
    return quote
