"""Verifying signed tokens (Privy access tokens, OpenID Connect ID tokens) with PyJWT.

The algorithm is pinned per issuer and must be asymmetric: `none` and every HS* algorithm are
refused before any key is looked at (an HS token "signed" with a public key is the classic forgery).
Issuer, audience, expiry and not-before are checked with a small leeway. A verified token is cached
until it expires, so presenting it again costs a dictionary lookup.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import jwt

from gatewayz.signin.jwks import KeySource

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
MAX_TOKEN_LENGTH = 16_384
DEFAULT_LEEWAY_SECONDS = 30.0
MAX_CACHED = 10_000


class TokenRefused(Exception):
    """The token is not acceptable; `reason` names why (for security events, never for clients)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TokenRules:
    issuer: str
    audiences: tuple[str, ...]
    algorithms: tuple[str, ...]
    leeway: float = DEFAULT_LEEWAY_SECONDS

    def __post_init__(self) -> None:
        wrong = [a for a in self.algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if wrong or not self.algorithms:
            raise ValueError(f"token algorithms must be asymmetric ones of {sorted(ASYMMETRIC_ALGORITHMS)}: {wrong}")


_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidAudienceError, "wrong_audience"),
    (jwt.InvalidIssuerError, "wrong_issuer"),
    (jwt.InvalidSignatureError, "bad_signature"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
)


class TokenVerifier:
    def __init__(self, rules: TokenRules, keys: KeySource) -> None:
        self.rules = rules
        self.keys = keys
        self._verified: dict[bytes, tuple[dict[str, Any], float]] = {}  # sha256(token) -> (claims, exp)

    def cached(self, token: str) -> dict[str, Any] | None:
        digest = hashlib.sha256(token.encode()).digest()
        hit = self._verified.get(digest)
        if hit is None:
            return None
        claims, expires = hit
        if time.time() >= expires + self.rules.leeway:
            self._verified.pop(digest, None)
            return None
        return claims

    async def verify(self, token: str) -> dict[str, Any]:
        hit = self.cached(token)
        if hit is not None:
            return hit
        claims = await self._verify(token)
        if len(self._verified) >= MAX_CACHED:
            self._verified.pop(next(iter(self._verified)))
        self._verified[hashlib.sha256(token.encode()).digest()] = (claims, float(claims["exp"]))
        return claims

    async def _verify(self, token: str) -> dict[str, Any]:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise TokenRefused("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRefused("malformed") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in self.rules.algorithms:
            raise TokenRefused("algorithm_not_allowed")
        if kid is not None and not isinstance(kid, str):
            raise TokenRefused("malformed")
        key = await self.keys.key_for(kid, alg)
        if key is None:
            raise TokenRefused("unknown_kid")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[alg], audience=list(self.rules.audiences), issuer=self.rules.issuer,
                leeway=self.rules.leeway, options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            reason = next((name for kind, name in _ERRORS if isinstance(exc, kind)), "invalid")
            raise TokenRefused(reason) from exc
        if not isinstance(claims.get("sub"), str) or not 0 < len(claims["sub"]) <= 255:
            raise TokenRefused("bad_subject")
        return claims
