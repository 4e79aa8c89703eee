"""Request and response bodies of the billing API. Money is an exact decimal string of USD."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from gatewayz.billing.money import MAX_USD
from gatewayz.http.params import MAX_ID, Timestamp
from gatewayz.storage.text import check_storable

TransactionType = Literal[
    "purchase", "usage", "refund", "admin_grant", "admin_deduct", "trial", "coupon", "referral", "expiry", "adjustment",
    "plan_credits",
    "transfer",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        check_storable(data)
        return data


class CreditChange(_Strict):
    user_id: StrictInt = Field(ge=1, le=MAX_ID)
    amount: Decimal = Field(ge=-MAX_USD, le=MAX_USD, description="USD; negative to deduct")
    reason: str = Field(min_length=1, max_length=500)
    expires_at: Timestamp | None = None

    @field_validator("amount")
    @classmethod
    def _nonzero(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or abs(value) < Decimal("0.000000001"):
            raise ValueError("amount must be a non-zero number of at least one nano-dollar")
        return value


class RefundRequest(_Strict):
    request_id: str = Field(min_length=1, max_length=128)
    amount: Decimal | None = Field(None, gt=0, le=MAX_USD, description="USD; omitted = the whole remaining charge")
    reason: str = Field(min_length=1, max_length=500)


class BalanceSettings(_Strict):
    low_balance_threshold: Decimal | None = Field(None, ge=0, le=MAX_USD)


class Forecast(BaseModel):
    daily_burn: str
    days_remaining: float | None


class BalanceOut(BaseModel):
    currency: Literal["USD"] = "USD"
    balance: str
    held: str
    available: str
    low_balance_threshold: str | None
    forecast: Forecast


class TransactionOut(BaseModel):
    id: int
    type: str
    amount: str
    balance_before: str
    balance_after: str
    reference: str | None
    actor: str | None
    reason: str | None
    created_at: datetime


class TransactionList(BaseModel):
    object: Literal["list"] = "list"
    data: list[TransactionOut]
    has_more: bool
    next_before_id: int | None


class UsageGroup(BaseModel):
    key: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    images: int = 0  # images answered by image requests
    cost: str


class UsageSummary(BaseModel):
    group_by: str
    since: datetime | None
    until: datetime | None
    total: UsageGroup
    groups: list[UsageGroup]


class AdjustmentOut(BaseModel):
    transaction_id: int
    user_id: int
    amount: str
    balance: str


class RefundOut(BaseModel):
    transaction_id: int
    request_id: str
    refunded: str


class BillingEventOut(BaseModel):
    id: int
    type: str
    data: dict[str, object] | None
    created_at: datetime
