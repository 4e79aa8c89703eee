"""Request and response bodies of the coupon and referral APIs. Money in: USD decimals (whole cents
for prices, nanos for credits); money out: exact decimal strings of USD."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt, StringConstraints, model_validator

from gatewayz.http.params import MAX_ID, Timestamp
from gatewayz.payments.config import MAX_PURCHASE_USD
from gatewayz.payments.schemas import PurchaseRequest, StrictBody

CouponKind = Literal["percent", "fixed", "bonus", "credit"]
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{1,19}$"
Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
Email = Annotated[str, StringConstraints(min_length=2, max_length=320, pattern=r"^[^@\s]*@[^@\s]+$")]
PlanSlug = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class CouponRules(StrictBody):
    """The rules of a coupon (all optional; a PATCH changes only what it names)."""

    description: str | None = Field(None, max_length=500)
    max_uses: StrictInt | None = Field(None, ge=1, le=10**9, description="uses in total")
    max_uses_per_user: StrictInt | None = Field(None, ge=1, le=10**6)
    first_time_only: StrictBool | None = Field(None, description="only users who never paid for a purchase")
    valid_from: Timestamp | None = None
    valid_until: Timestamp | None = None
    allowed_user_ids: list[Annotated[StrictInt, Field(ge=1, le=MAX_ID)]] | None = Field(None, max_length=1000)
    allowed_emails: list[Email] | None = Field(None, max_length=1000, description='addresses, or "@domain"')
    allowed_plans: list[PlanSlug] | None = Field(None, max_length=100, description="plan slugs")
    min_purchase: Decimal | None = Field(None, gt=0, le=MAX_PURCHASE_USD, decimal_places=2, description="USD")
    stackable: StrictBool | None = None
    stacks_with: list[CouponKind] | None = Field(None, max_length=4, description="kinds it combines with")
    disabled: StrictBool | None = None

    @model_validator(mode="after")
    def _window(self) -> CouponRules:
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class CouponCreate(CouponRules):
    code: Code
    kind: CouponKind
    percent_off: Decimal | None = Field(None, gt=0, le=100, decimal_places=2, description="percent off the price")
    amount_off: Decimal | None = Field(None, gt=0, le=MAX_PURCHASE_USD, decimal_places=2, description="USD off")
    credits: Decimal | None = Field(None, gt=0, le=MAX_PURCHASE_USD, decimal_places=9,
                                    description="USD of credits: a purchase's bonus, or a credit coupon's grant")

    @model_validator(mode="after")
    def _value(self) -> CouponCreate:
        needed = {"percent": "percent_off", "fixed": "amount_off", "bonus": "credits", "credit": "credits"}[self.kind]
        for name in ("percent_off", "amount_off", "credits"):
            if (getattr(self, name) is not None) != (name == needed):
                raise ValueError(f"a {self.kind} coupon has {needed} and no other value")
        return self


class CouponOut(BaseModel):
    id: int
    code: str
    kind: str
    description: str | None
    percent_off: str | None
    amount_off: str | None
    credits: str | None
    max_uses: int | None
    max_uses_per_user: int | None
    uses: int
    first_time_only: bool
    valid_from: datetime | None
    valid_until: datetime | None
    allowed_user_ids: list[int] | None
    allowed_emails: list[str] | None
    allowed_plans: list[str] | None
    min_purchase: str | None
    stackable: bool
    stacks_with: list[str] | None
    disabled: bool
    created_at: datetime
    updated_at: datetime


class CouponList(BaseModel):
    object: str = "list"
    data: list[CouponOut]
    has_more: bool


class CouponAnalytics(BaseModel):
    coupon_id: int
    code: str
    redemptions: int
    reserved: int
    users: int
    discount_given: str
    bonus_credits_given: str
    free_credits_given: str
    revenue: str  # what the purchases that used it paid


class ValidateRequest(PurchaseRequest):
    """A purchase (package or amount) with its coupon(s); for a credit coupon, only `coupon_code`."""

    @model_validator(mode="after")
    def _one_of(self) -> ValidateRequest:  # type: ignore[override]
        if not self.codes():
            raise ValueError("give coupon_code")
        if self.package is not None and self.amount is not None:
            raise ValueError("give at most one of 'package' and 'amount'")
        return self


class RedeemRequest(StrictBody):
    coupon_code: Code


class ValidateOut(BaseModel):
    valid: Literal[True] = True
    coupon_codes: list[str]
    kind: str
    list_price: str | None
    amount: str | None
    amount_cents: int | None
    discount: str
    credits: str | None
    bonus_credits: str


class RedeemOut(BaseModel):
    coupon_code: str
    credits: str
    transaction_id: int
    balance: str


class ReferralCodeOut(BaseModel):
    code: str
    link: str


class ApplyReferral(StrictBody):
    code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{4,32}$")]


class ReferralStats(BaseModel):
    code: str
    invited: int  # visits of the invite link
    signed_up: int
    converted: int
    earned: str


class ReferralAnalytics(BaseModel):
    codes: int
    visits: int
    signed_up: int
    converted: int
    referrer_rewards: str
    referred_rewards: str


class ReferralEntry(BaseModel):
    id: int
    referred: str  # the referred user's email, masked
    status: str
    created_at: datetime
    converted_at: datetime | None
    reward: str


class ReferralHistory(BaseModel):
    object: str = "list"
    data: list[ReferralEntry]
    has_more: bool
    next_before_id: int | None
