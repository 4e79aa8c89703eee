"""Request and response bodies of sign-in."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gatewayz.accounts.schemas import KeyCreated, UserOut

MAX_TOKEN_CHARS = 16_384
MIN_PASSWORD = 10
MAX_PASSWORD = 256


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrivySignIn(_Strict):
    access_token: str = Field(min_length=1, max_length=MAX_TOKEN_CHARS)
    identity_token: str | None = Field(None, min_length=1, max_length=MAX_TOKEN_CHARS,
                                       description="Privy identity token: its linked accounts give the email")


class IdTokenSignIn(_Strict):
    id_token: str = Field(min_length=1, max_length=MAX_TOKEN_CHARS)


class SignUp(_Strict):
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)
    name: str | None = Field(None, max_length=200)


class PasswordSignIn(_Strict):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)
    totp_code: str | None = Field(None, min_length=6, max_length=8, pattern=r"^[0-9]+$")
    recovery_code: str | None = Field(None, min_length=8, max_length=64)


class ResetRequest(_Strict):
    email: str = Field(min_length=1, max_length=320)


class ResetConfirm(_Strict):
    token: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)


class PasswordChange(_Strict):
    current_password: str | None = Field(None, min_length=1, max_length=MAX_PASSWORD,
                                         description="required when the account has a password")
    new_password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)
    totp_code: str | None = Field(None, min_length=6, max_length=8, pattern=r"^[0-9]+$",
                                  description="setting a first password on an account with a second factor")


class TotpCode(_Strict):
    code: str = Field(min_length=6, max_length=8, pattern=r"^[0-9]+$")


class SessionOut(BaseModel):
    id: int
    method: str
    ip: str | None
    user_agent: str | None
    created_at: datetime
    expires_at: datetime
    current: bool = False


class SessionCreated(SessionOut):
    token: str = Field(description="Bearer token for API clients (the dashboard gets it as a cookie too)")
    csrf_token: str = Field(description="Send as X-CSRF-Token with cookie-authenticated changes")


class SessionList(BaseModel):
    data: list[SessionOut]


class SignedIn(BaseModel):
    user: UserOut
    session: SessionCreated
    created: bool = Field(description="True on the first sign-in (the account was created)")
    api_key: KeyCreated | None = Field(None, description="The first API key, on the first sign-in only")


class TotpEnrolment(BaseModel):
    secret: str
    otpauth_uri: str


class RecoveryCodes(BaseModel):
    recovery_codes: list[str]


class Status(BaseModel):
    status: str
