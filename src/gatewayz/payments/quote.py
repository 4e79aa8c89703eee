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
class Applied:
    """One coupon's part of a quote."""

    coupon_id: int
    code: str
    discount_cents: int = 0
    bonus_credits: int = 0


@dataclass(frozen=True, slots=True)
class Quote:
    package: str | None
    name: str
    list_cents: int  # the price before any discount
    amount_cents: int  # what Stripe charges
    credits: int  # nanos credited for the purchase
    bonus_credits: int = 0  # nanos the coupons add
    applied: tuple[Applied, ...] = ()

    @property
    def discount_cents(self) -> int:
        return self.list_cents - self.amount_cents

    @property
    def coupon_id(self) -> int | None:
        return self.applied[0].coupon_id if self.applied else None

    @property
    def coupon_code(self) -> str | None:
        return "+".join(a.code for a in self.applied) or None

    def with_coupons(self, applied: tuple[Applied, ...]) -> Quote:
        return replace(self, applied=applied, amount_cents=self.list_cents - sum(a.discount_cents for a in applied),
                       bonus_credits=sum(a.bonus_credits for a in applied))


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
    codes = body.codes()
    if codes:
        from gatewayz.promotions.checkout import apply_coupons

        quote = await apply_coupons(session, settings, user_id, quote, codes)
    if quote.amount_cents < STRIPE_MIN_CENTS:
        raise InvalidRequest(f"After the discount the price is below Stripe's minimum of {STRIPE_MIN_CENTS} cents.",
                             param="coupon_code", code="amount_below_minimum")
    return quote
