"""Bodies of the plans API. Money is an exact decimal string of USD; prices are whole cents
(Stripe's unit), credits any number of nano-dollars."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)

from gatewayz.billing.money import MAX_USD
from gatewayz.http.params import MAX_ID, Timestamp
from gatewayz.limits.config import MAX_LIMIT, RateLimits
from gatewayz.plans.book import FEATURES
from gatewayz.storage.text import check_storable

Tier = Literal["free", "pro", "enterprise", "custom"]
Visibility = Literal["public", "custom"]
Interval = Literal["month", "year"]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
ModelGlob = Annotated[str, StringConstraints(min_length=1, max_length=200)]
StripePrice = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,255}$")]
MAX_PRICE_USD = 1_000_000
MAX_MODELS = 500
MAX_KEYS = 100_000


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route beyond the usual ones (http/openapi.py adds those)."""
    from gatewayz.http.openapi import DESCRIPTIONS

    return {status: {"description": DESCRIPTIONS[str(status)],
                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            for status in statuses}


def _cents(value: Decimal | None) -> Decimal | None:
    if value is not None and (not value.is_finite() or value != value.quantize(Decimal("0.01"))):
        raise ValueError("a price is a whole number of cents, such as 20 or 19.99")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        check_storable(data)
        return data


class PlanFields(_Strict):
    """Every field optional: a PATCH sends only what changes (a POST requires slug and name)."""

    name: str | None = Field(None, min_length=1, max_length=200)
    tier: Tier | None = None
    description: str | None = Field(None, max_length=4000)
    price_monthly: Decimal | None = Field(None, ge=0, le=MAX_PRICE_USD, description="USD, whole cents")
    price_yearly: Decimal | None = Field(None, ge=0, le=MAX_PRICE_USD, description="USD, whole cents")
    credits_per_period: Decimal | None = Field(None, ge=0, le=MAX_USD, description="USD granted each period")
    credits_expire: StrictBool | None = Field(None, description="the period's credits expire at its end")
    rate_limits: RateLimits | None = None
    allowed_models: list[ModelGlob] | None = Field(None, max_length=MAX_MODELS,
                                                   description="model ids or globs; null: every model")
    max_keys: StrictInt | None = Field(None, ge=1, le=MAX_KEYS)
    max_concurrent_requests: StrictInt | None = Field(None, ge=1, le=MAX_LIMIT)
    features: list[str] | None = Field(None, max_length=len(FEATURES), description="null: every feature")
    trial_eligible: StrictBool | None = None
    visibility: Visibility | None = None
    active: StrictBool | None = None
    stripe_price_monthly: StripePrice | None = None
    stripe_price_yearly: StripePrice | None = None

    @field_validator("price_monthly", "price_yearly")
    @classmethod
    def _whole_cents(cls, value: Decimal | None) -> Decimal | None:
        return _cents(value)

    @field_validator("credits_per_period")
    @classmethod
    def _nanos(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and (not value.is_finite() or value != value.quantize(Decimal("0.000000001"))):
            raise ValueError("credits are at most 9 decimal places of USD")
        return value

    @field_validator("features")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            unknown = sorted(set(value) - set(FEATURES))
            if unknown:
                raise ValueError(f"unknown feature(s) {unknown}; known: {sorted(FEATURES)}")
            return sorted(set(value))
        return value


class PlanCreate(PlanFields):
    slug: Slug
    name: str = Field(min_length=1, max_length=200)


class PlanOut(BaseModel):
    id: int
    slug: str
    name: str
    tier: str
    description: str | None
    currency: Literal["USD"] = "USD"
    price_monthly: str
    price_yearly: str | None
    credits_per_period: str
    credits_expire: bool
    rate_limits: dict[str, Any] | None
    allowed_models: list[str] | None
    max_keys: int | None
    max_concurrent_requests: int | None
    features: list[str] | None
    trial_eligible: bool
    visibility: str
    active: bool
    created_at: datetime
    updated_at: datetime


class AdminPlanOut(PlanOut):
    stripe_price_monthly: str | None
    stripe_price_yearly: str | None
    subscribers: int


class PlanList(BaseModel):
    data: list[PlanOut]


class AdminPlanList(BaseModel):
    data: list[AdminPlanOut]


class Assign(_Strict):
    user_id: StrictInt = Field(ge=1, le=MAX_ID)
    plan_id: StrictInt = Field(ge=1, le=MAX_ID)
    interval: Interval = "month"
    grant_credits: StrictBool = Field(True, description="grant the first period's credits now")
    ends_at: Timestamp | None = Field(None, description="the plan stops applying then (default: never)")


class SubscriptionOut(BaseModel):
    source: str
    status: str
    interval: str
    current_period_start: datetime
    current_period_end: datetime | None
    ends_at: datetime | None
    cancel_at_period_end: bool
    past_due_since: datetime | None


class UserPlanOut(BaseModel):
    user_id: int
    plan: PlanOut
    default: bool = Field(description="true: no plan of its own, the gateway's default plan applies")
    subscription: SubscriptionOut | None
