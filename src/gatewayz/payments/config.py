"""Stripe configuration values: credit packages and purchase bounds (read by settings.py)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

CENT_NANOS = 10_000_000  # one US cent in nano-dollars: exact, integer
MAX_PURCHASE_USD = Decimal(1_000_000)  # no single purchase, package or bound beyond this


class CreditPackage(BaseModel):
    """A fixed purchase: `price_usd` is charged through Stripe and `credits_usd` credited (defaults to
    the price; more is a volume bonus)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    price_usd: Decimal = Field(ge=Decimal("0.50"), le=MAX_PURCHASE_USD)
    credits_usd: Decimal | None = Field(None, gt=0, le=MAX_PURCHASE_USD)

    @field_validator("price_usd")
    @classmethod
    def _whole_cents(cls, value: Decimal) -> Decimal:
        if value != value.quantize(Decimal("0.01")):
            raise ValueError("a price is a whole number of cents")
        return value

    @field_validator("credits_usd")
    @classmethod
    def _whole_nanos(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value != value.quantize(Decimal("0.000000001")):
            raise ValueError("credits are a whole number of nano-dollars")
        return value

    @property
    def price_cents(self) -> int:
        return int(self.price_usd * 100)

    @property
    def credit_nanos(self) -> int:
        return int((self.credits_usd if self.credits_usd is not None else self.price_usd) * 1_000_000_000)


DEFAULT_PACKAGES: dict[str, CreditPackage] = {
    "starter": CreditPackage(name="Starter", price_usd=Decimal("10"), credits_usd=None),
    "standard": CreditPackage(name="Standard", price_usd=Decimal("25"), credits_usd=None),
    "pro": CreditPackage(name="Pro", price_usd=Decimal("100"), credits_usd=Decimal("105")),
}


def cents_to_nanos(cents: int) -> int:
    return cents * CENT_NANOS
