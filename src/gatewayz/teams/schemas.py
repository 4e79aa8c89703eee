"""Request and response bodies of the teams API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, StrictInt, field_validator

from gatewayz.accounts.schemas import _EMAIL, EMAIL_PATTERN, BudgetPeriod, KeyCreate, KeyOut, _Strict
from gatewayz.billing.money import MAX_USD
from gatewayz.teams.roles import TeamRole

MAX_TOKEN_LENGTH = 128

InvitedRole = Literal["owner", "admin", "member", "viewer"]


class TeamCreate(_Strict):
    name: str = Field(min_length=1, max_length=200)


class TeamUpdate(_Strict):
    name: str | None = Field(None, min_length=1, max_length=200)


class TeamOut(BaseModel):
    id: int
    name: str
    account_id: int = Field(description="The pool's ledger account: POST /admin/credits with user_id = this")
    role: TeamRole = Field(description="The caller's role in the team")
    created_at: datetime
    updated_at: datetime


class TeamList(BaseModel):
    object: Literal["list"] = "list"
    data: list[TeamOut]


class MemberOut(BaseModel):
    user_id: int
    email: str
    name: str | None
    role: TeamRole
    spend_cap: str | None = Field(None, description="USD per cap_period, exact decimal string")
    cap_period: str | None
    cap_spent: str | None = Field(None, description="USD spent (and held) under the cap in its current period")
    created_at: datetime


class MemberList(BaseModel):
    object: Literal["list"] = "list"
    data: list[MemberOut]


class MemberUpdate(_Strict):
    role: TeamRole | None = None
    spend_cap: Decimal | None = Field(None, ge=0, le=MAX_USD, description="USD per cap_period; null: no cap")
    cap_period: BudgetPeriod | None = Field(None, description="daily | weekly | monthly; null: lifetime")


class InvitationCreate(_Strict):
    email: str | None = Field(None, max_length=320, pattern=EMAIL_PATTERN,
                              description="Only this user may accept; none: anyone with the link")
    role: InvitedRole = "member"
    expires_in_hours: StrictInt = Field(168, ge=1, le=30 * 24)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _EMAIL.match(value):
            raise ValueError("not a valid email address")
        return value.strip().lower()


class InvitationOut(BaseModel):
    id: int
    team_id: int
    email: str | None
    role: TeamRole
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None


class InvitationCreated(InvitationOut):
    token: str = Field(description='Shown only once; accept with POST /teams/invitations/accept {"token": ...}')


class InvitationAccept(_Strict):
    token: str = Field(min_length=1, max_length=MAX_TOKEN_LENGTH, description="The invitation's token (gwinv_...)")


class InvitationList(BaseModel):
    object: Literal["list"] = "list"
    data: list[InvitationOut]


class TeamKeyCreate(KeyCreate):
    owner: Literal["member", "team"] = Field(
        "member", description="member: the caller's own team key (their cap applies); team: the team's (admins; the "
                    "creator's cap applies, and it is revoked when the creator leaves or stops being an admin)")


class TeamKeyOut(KeyOut):
    team_id: int
    member_user_id: int | None = Field(description="Whose key it is; null: the team's own")
    created_by: int | None = Field(None, description="The member who created it (a team's own key stops when "
                                   "its creator leaves or is no longer an admin; their cap applies to it)")


class TeamKeyCreated(TeamKeyOut):
    key: str = Field(description="The API key. It is shown only once: store it now.")


class TeamKeyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[TeamKeyOut]


class TransferIn(_Strict):
    amount: Decimal = Field(gt=0, le=MAX_USD, description="USD from your own balance into the team's pool")
    reason: str | None = Field(None, max_length=500)


class TransferOut(BaseModel):
    team_id: int
    amount: str
    balance: str = Field(description="The pool's balance after the transfer")
    reference: str
