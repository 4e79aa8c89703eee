"""Generic OpenID Connect providers, configured in the TOML file:

    [oidc_providers.google]
    issuer = "https://accounts.google.com"
    client_id = "…"
    client_secret = "…"

Endpoints come from the issuer's discovery document unless given. ID tokens are verified against
the provider's JWKS (cached; refreshed on an unknown `kid`) with the issuer, the audience (the client
id, plus any extra `audiences` for tokens minted for API clients), expiry and the pinned algorithms.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gatewayz.settings import Settings, SettingsError
from gatewayz.signin.http import Fetcher, FetchFailed
from gatewayz.signin.jwks import JwksCache
from gatewayz.signin.tokens import ASYMMETRIC_ALGORITHMS, TokenRefused, TokenRules, TokenVerifier

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
Algorithm = Literal[tuple(sorted(ASYMMETRIC_ALGORITHMS))]  # type: ignore[valid-type]


class OidcConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    issuer: str = Field(min_length=1, max_length=2000)
    client_id: str = Field(min_length=1, max_length=500)
    client_secret: str | None = Field(None, max_length=2000)
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"], max_length=32)
    discovery_url: str | None = None
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    jwks_uri: str | None = None
    algorithms: list[Algorithm] = Field(default_factory=lambda: ["RS256", "ES256"], min_length=1)
    audiences: list[str] = Field(default_factory=list, max_length=32)
    token_auth: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    redirect_uri: str | None = None


def pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class OidcProvider:
    def __init__(self, name: str, config: OidcConfig, fetcher: Fetcher) -> None:
        self.name = name
        self.config = config
        self.fetcher = fetcher
        self._metadata: dict[str, Any] | None = None
        self._tokens: TokenVerifier | None = None

    @property
    def provider_key(self) -> str:
        return f"oidc:{self.name}"

    async def metadata(self) -> dict[str, Any]:
        """The endpoints: the configured ones, else discovery (fetched once it succeeds)."""
        if self._metadata is not None:
            return self._metadata
        cfg = self.config
        found: dict[str, Any] = {}
        if not (cfg.authorization_endpoint and cfg.token_endpoint and cfg.jwks_uri):
            url = cfg.discovery_url or cfg.issuer.rstrip("/") + "/.well-known/openid-configuration"
            data = await self.fetcher.get_json(url)
            if not isinstance(data, dict) or data.get("issuer") != cfg.issuer:
                raise FetchFailed(f"{url}: discovery document of another issuer")
            found = data
        merged = {name: getattr(cfg, name) or found.get(name)
                  for name in ("authorization_endpoint", "token_endpoint", "jwks_uri")}
        if not all(isinstance(v, str) and v for v in merged.values()):
            raise FetchFailed(f"provider {self.name}: endpoints missing from discovery")
        self._metadata = merged
        return merged

    async def tokens(self) -> TokenVerifier:
        if self._tokens is None:
            meta = await self.metadata()
            rules = TokenRules(self.config.issuer, (self.config.client_id, *self.config.audiences),
                               tuple(self.config.algorithms))
            self._tokens = TokenVerifier(rules, JwksCache(meta["jwks_uri"], self.fetcher))
        return self._tokens

    async def authorization_url(self, redirect_uri: str, state: str, nonce: str, verifier: str) -> str:
        meta = await self.metadata()
        query = urlencode({
            "response_type": "code", "client_id": self.config.client_id, "redirect_uri": redirect_uri,
            "scope": " ".join(self.config.scopes), "state": state, "nonce": nonce,
            "code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256",
        })
        endpoint = meta["authorization_endpoint"]
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def exchange(self, code: str, redirect_uri: str, verifier: str) -> str:
        """The authorization code for the ID token (the provider checks the PKCE verifier)."""
        meta = await self.metadata()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": verifier, "client_id": self.config.client_id}
        headers: dict[str, str] = {}
        if self.config.client_secret:
            if self.config.token_auth == "client_secret_post":
                form["client_secret"] = self.config.client_secret
            else:
                pair = f"{self.config.client_id}:{self.config.client_secret}".encode()
                headers["authorization"] = "Basic " + base64.b64encode(pair).decode()
        status, data = await self.fetcher.post_form(meta["token_endpoint"], form, headers)
        token = data.get("id_token") if isinstance(data, dict) else None
        if status != 200 or not isinstance(token, str):
            raise TokenRefused("code_exchange_failed")
        return token

    async def verify_id_token(self, token: str, nonce: str | None = None) -> dict[str, Any]:
        claims = await (await self.tokens()).verify(token)
        if nonce is not None:
            sent = claims.get("nonce")
            if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
                raise TokenRefused("wrong_nonce")
        return claims


def verified_email(claims: dict[str, Any]) -> str | None:
    email = claims.get("email")
    if isinstance(email, str) and claims.get("email_verified") is True and len(email) <= 320:
        return email
    return None


def build_providers(settings: Settings, fetcher: Fetcher) -> dict[str, OidcProvider]:
    out: dict[str, OidcProvider] = {}
    for name, raw in settings.oidc_providers.items():
        if not NAME.match(name):
            raise SettingsError(f"oidc_providers: {name!r} is not a provider name (a-z, 0-9, '-', '_')")
        try:
            out[name] = OidcProvider(name, OidcConfig.model_validate(raw), fetcher)
        except ValidationError as exc:
            raise SettingsError(f"oidc_providers.{name}: {exc}") from exc
    return out
