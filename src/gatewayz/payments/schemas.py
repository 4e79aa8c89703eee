"""Request and response bodies of the payments API. Money in is USD (exact, whole cents); money out is
an exact decimal string of USD, with the Stripe amount in cents beside it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints, model_validator

from gatewayz.http.params import MAX_ID
from gatewayz.payments.config import MAX_PURCHASE_USD
from gatewayz.storage.text import check_storable

COUPON_CODE = r"^[A-Za-z0-9][A-Za-z0-9_-]{1,19}$"
MAX_COUPONS = 3  # coupons stacked on one purchase


class StrictBody(BaseModel):
    """A request body: unknown fields refused, text storable in both databases."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        check_storable(data)
        return data


class PurchaseRequest(StrictBody):
    """Either a credit package (`package`, an id from GET /api/stripe/packages) or a custom `amount` in USD."""

    package: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    amount: Decimal | None = Field(None, gt=0, le=MAX_PURCHASE_USD, decimal_places=2,
                                   description="USD, whole cents, within the configured bounds")
    coupon_code: str | None = Field(None, pattern=COUPON_CODE)
    coupon_codes: list[Annotated[str, StringConstraints(pattern=COUPON_CODE)]] | None = Field(
        None, min_length=1, max_length=MAX_COUPONS, description="several stackable coupons")

    @model_validator(mode="after")
    def _one_of(self) -> PurchaseRequest:
        if (self.package is None) == (self.amount is None):
            raise ValueError("give exactly one of 'package' and 'amount'")
        if self.coupon_code is not None and self.coupon_codes is not None:
            raise ValueError("give 'coupon_code' or 'coupon_codes', not both")
        return self

    def codes(self) -> list[str]:
        """The coupon codes, upper case (codes are not case-sensitive)."""
        given = self.coupon_codes or ([self.coupon_code] if self.coupon_code else [])
        return [code.upper() for code in given]


class PackageOut(BaseModel):
    id: str
    name: str
    price: str
    price_cents: int
    credits: str


class PackageList(BaseModel):
    object: str = "list"
    data: list[PackageOut]
    custom_amount_min: str
    custom_amount_max: str


class PurchaseOut(BaseModel):
    payment_id: int
    status: str
    list_price: str
    amount: str
    amount_cents: int
    discount: str
    credits: str
    bonus_credits: str
    coupon_code: str | None
    checkout_session_id: str | None = None
    checkout_url: str | None = None
    payment_intent_id: str | None = None
    client_secret: str | None = None


class PaymentOut(BaseModel):
    id: int
    kind: str
    status: str
    package: str | None
    currency: str
    amount: str
    amount_cents: int
    discount: str
    credits: str
    bonus_credits: str
    coupon_code: str | None
    refunded_cents: int
    refunded_credits: str
    checkout_session_id: str | None
    payment_intent_id: str | None
    created_at: datetime
    completed_at: datetime | None


class PaymentList(BaseModel):
    object: str = "list"
    data: list[PaymentOut]
    has_more: bool
    next_before_id: int | None


class RefundRequest(StrictBody):
    payment_id: StrictInt = Field(ge=1, le=MAX_ID)
    amount: Decimal | None = Field(None, gt=0, le=MAX_PURCHASE_USD, decimal_places=2,
                                   description="USD to refund; omitted = all that is not refunded yet")
    reason: str = Field(min_length=1, max_length=500)
    force: StrictBool = Field(False, description="refund even what the user has already spent "
                                                 "(the ledger then takes what is left, never below zero)")


class RefundOut(BaseModel):
    refund_id: int
    payment_id: int
    stripe_refund_id: str | None
    status: str
    amount: str
    amount_cents: int
    credits_deducted: str
    credits_shortfall: str
    forced: bool
