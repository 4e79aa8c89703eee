"""Privy access tokens: ES256 JWTs issued by `privy.io` for the configured app id.

The key is the app's verification key (PEM, from Privy's dashboard) or its JWKS URL. The optional
identity token (same issuer, audience and key) carries the user's linked accounts: the email, when
one is linked, comes from there (or from a `linked_accounts` claim of the access token itself).
"""

from __future__ import annotations

from typing import Any

import orjson

from gatewayz.settings import Settings, SettingsError
from gatewayz.signin.http import Fetcher
from gatewayz.signin.jwks import JwksCache, KeySource, StaticKey
from gatewayz.signin.tokens import TokenRefused, TokenRules, TokenVerifier

PRIVY_ISSUER = "privy.io"
PRIVY_ALGORITHMS = ("ES256",)
PROVIDER = "privy"


def email_from_linked_accounts(value: Any) -> str | None:
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(value, list):
        return None
    accounts = [a for a in value if isinstance(a, dict)]
    for account in accounts:
        if account.get("type") == "email" and isinstance(account.get("address"), str):
            return str(account["address"])[:320]
    for account in accounts:  # an OAuth account Privy verified (google_oauth, ...)
        if str(account.get("type", "")).endswith("_oauth") and isinstance(account.get("email"), str):
            return str(account["email"])[:320]
    return None


class PrivyVerifier:
    def __init__(self, settings: Settings, fetcher: Fetcher) -> None:
        if not settings.privy_app_id:
            raise SettingsError("GATEWAYZ_PRIVY_APP_ID is required for Privy sign-in")
        keys: KeySource
        if settings.privy_verification_key:
            try:
                keys = StaticKey(settings.privy_verification_key)
            except ValueError as exc:
                raise SettingsError(f"GATEWAYZ_PRIVY_VERIFICATION_KEY: {exc}") from exc
        elif settings.privy_jwks_url:
            keys = JwksCache(settings.privy_jwks_url, fetcher)
        else:
            raise SettingsError("Privy sign-in needs GATEWAYZ_PRIVY_VERIFICATION_KEY or GATEWAYZ_PRIVY_JWKS_URL")
        self.keys = keys
        self.tokens = TokenVerifier(TokenRules(PRIVY_ISSUER, (settings.privy_app_id,), PRIVY_ALGORITHMS), keys)

    async def verify(self, access_token: str, identity_token: str | None) -> tuple[str, str | None]:
        """The Privy user id (`sub`, a DID) and the email of their linked accounts, if any."""
        claims = await self.tokens.verify(access_token)
        email = email_from_linked_accounts(claims.get("linked_accounts"))
        if identity_token is not None:
            identity = await self.tokens.verify(identity_token)
            if identity["sub"] != claims["sub"]:
                raise TokenRefused("subject_mismatch")
            email = email_from_linked_accounts(identity.get("linked_accounts")) or email
        return str(claims["sub"]), email


def build_privy(settings: Settings, fetcher: Fetcher) -> PrivyVerifier | None:
    if not (settings.privy_app_id or settings.privy_verification_key or settings.privy_jwks_url):
        return None
    return PrivyVerifier(settings, fetcher)
