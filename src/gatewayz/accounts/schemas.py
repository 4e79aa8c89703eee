"""Request and response bodies of the accounts API."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator

from gatewayz.accounts.keys import SCOPES, normalize_domain_pattern, parse_networks
from gatewayz.billing.money import MAX_USD
from gatewayz.http.params import Timestamp
from gatewayz.limits.config import RateLimits
from gatewayz.storage.text import check_storable

Scope = Literal["inference", "keys", "billing", "admin"]
Role = Literal["admin", "user"]
KeyEnvironment = Literal["live", "test", "staging", "dev"]
BudgetPeriod = Literal["daily", "weekly", "monthly"]
MAX_METADATA_BYTES = 8192
MAX_REQUESTS = 10**12  # a lifetime request cap; bounded so it fits the database's 64-bit integers
MAX_LIST_ITEMS = 256


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        check_storable(data)
        return data


class KeyRules(_Strict):
    """The access rules a key carries; shared by create and update."""

    scopes: list[Scope] | None = Field(None, max_length=len(SCOPES))
    ip_allowlist: list[str] | None = Field(None, max_length=MAX_LIST_ITEMS)
    allowed_referers: list[str] | None = Field(None, max_length=MAX_LIST_ITEMS)
    allowed_models: list[str] | None = Field(None, max_length=MAX_LIST_ITEMS)
    expires_at: Timestamp | None = None
    max_requests: StrictInt | None = Field(None, ge=1, le=MAX_REQUESTS)
    metadata: dict[str, Any] | None = None
    max_budget: Decimal | None = Field(None, ge=0, le=MAX_USD, description="USD the key may spend per budget_period")
    budget_period: BudgetPeriod | None = None
    rate_limits: RateLimits | None = Field(None, description="This key's own limits; they can only narrow the defaults")

    @field_validator("ip_allowlist")
    @classmethod
    def _networks(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        return [str(net) for net in parse_networks(value)]

    @field_validator("allowed_referers")
    @classmethod
    def _referers(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [normalize_domain_pattern(v) for v in value]

    @field_validator("allowed_models")
    @classmethod
    def _models(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [v.strip() for v in value]
        if any(not v or len(v) > 200 for v in cleaned):
            raise ValueError("model ids must be 1-200 characters")
        return cleaned

    @field_validator("metadata")
    @classmethod
    def _metadata_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        try:
            size = len(orjson.dumps(value))
        except TypeError as exc:  # e.g. an integer beyond 64 bits
            raise ValueError("metadata must be JSON with numbers that fit 64 bits") from exc
        if size > MAX_METADATA_BYTES:
            raise ValueError(f"metadata must serialise to at most {MAX_METADATA_BYTES} bytes")
        return value


class KeyCreate(KeyRules):
    name: str = Field("default", min_length=1, max_length=200)
    environment: KeyEnvironment | None = None
    expires_in_days: StrictInt | None = Field(None, ge=1, le=3650)


class KeyUpdate(KeyRules):
    name: str | None = Field(None, min_length=1, max_length=200)


class KeyRotate(_Strict):
    grace_period_seconds: StrictInt = Field(0, ge=0, le=7 * 24 * 3600)


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    last4: str
    environment: str
    scopes: list[str]
    ip_allowlist: list[str] | None
    allowed_referers: list[str] | None
    allowed_models: list[str] | None
    expires_at: datetime | None
    max_requests: int | None
    request_count: int
    max_budget: str | None = Field(None, description="USD, exact decimal string")
    budget_period: str | None = None
    rate_limits: dict[str, Any] | None = None
    metadata: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None
    rotated_at: datetime | None
    previous_key_expires_at: datetime | None
    revoked: bool
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    key: str = Field(description="The API key. It is shown only once: store it now.")


class KeyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[KeyOut]


EMAIL_PATTERN = r"^\s*[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}\s*$"  # surrounding blanks are stripped
_EMAIL = re.compile(EMAIL_PATTERN)


class UserCreate(_Strict):
    email: str = Field(max_length=320, pattern=EMAIL_PATTERN, description="local@domain.tld, stored lower-cased")
    name: str | None = Field(None, max_length=200)
    role: Role = "user"
    roles: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, max_length=32, description="roles to give at once (accounts/permissions.py); role=admin adds `admin`")
    key_name: str = Field("default", min_length=1, max_length=200)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        """A plausible address (local@domain.tld); deliverability is not the gateway's business."""
        if not _EMAIL.match(value):
            raise ValueError("not a valid email address")
        return value.strip().lower()


class UserUpdate(_Strict):
    name: str | None = Field(None, max_length=200)
    role: Role | None = None
    is_active: StrictBool | None = None


class UserOut(BaseModel):
    id: int
    email: str
    name: str | None
    role: str
    is_active: bool
    rate_limits: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime


class UserCreated(BaseModel):
    user: UserOut
    api_key: KeyCreated


class UserList(BaseModel):
    object: Literal["list"] = "list"
    data: list[UserOut]
    total: int
    limit: int
    offset: int


class SecurityEventOut(BaseModel):
    id: int
    created_at: datetime
    event: str
    reason: str
    status: int
    ip: str | None
    key_prefix: str | None
    key_id: int | None
    user_id: int | None
    method: str | None
    path: str | None
    user_agent: str | None


class SecurityEventList(BaseModel):
    object: Literal["list"] = "list"
    data: list[SecurityEventOut]
