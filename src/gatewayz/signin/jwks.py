"""Verification keys: a configured PEM, or a JWKS URL fetched and cached.

A JWKS is refreshed when it is older than `max_age_seconds`, and when a token names a `kid` it does
not hold (the provider rotated its keys) — but at most once per `min_refresh_seconds`, so a flood of
tokens with made-up `kid`s cannot turn into a flood of requests to the provider. One refresh at a
time; a failed refresh keeps the keys it had.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any, Protocol

import structlog
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt import PyJWK
from jwt.exceptions import InvalidKeyError, PyJWKError

from gatewayz.signin.http import Fetcher, FetchFailed

log = structlog.get_logger("gatewayz.signin.jwks")

MIN_REFRESH_SECONDS = 10.0
MAX_AGE_SECONDS = 3600.0
MAX_KEYS = 64


class KeySource(Protocol):
    async def key_for(self, kid: str | None, alg: str) -> Any | None: ...


class StaticKey:
    """One public key given as PEM (Privy's dashboard shows it so); it signs whatever the kid."""

    def __init__(self, pem: str) -> None:
        text = pem.replace("\\n", "\n").strip()
        try:
            self.key = load_pem_public_key(text.encode())
        except ValueError as exc:
            raise ValueError("the verification key is not a PEM public key") from exc

    async def key_for(self, kid: str | None, alg: str) -> Any | None:
        return self.key


class JwksCache:
    def __init__(self, url: str, http: Fetcher, *, min_refresh_seconds: float = MIN_REFRESH_SECONDS,
                 max_age_seconds: float = MAX_AGE_SECONDS) -> None:
        self.url = url
        self.http = http
        self.min_refresh_seconds = min_refresh_seconds
        self.max_age_seconds = max_age_seconds
        self.keys: dict[str | None, tuple[PyJWK, str | None]] = {}  # kid -> (key, its declared alg)
        self.fetched_at = -math.inf
        self.fetches = 0
        self._lock = asyncio.Lock()

    def _find(self, kid: str | None, alg: str) -> Any | None:
        found = self.keys.get(kid) if kid is not None else (
            next(iter(self.keys.values())) if len(self.keys) == 1 else None)
        if found is None:
            return None
        jwk, declared = found
        if declared is not None and declared != alg:
            return None  # a key published for one algorithm is never used with another
        return jwk.key

    async def key_for(self, kid: str | None, alg: str) -> Any | None:
        if time.monotonic() - self.fetched_at > self.max_age_seconds:
            await self._refresh()
        key = self._find(kid, alg)
        if key is None and time.monotonic() - self.fetched_at >= self.min_refresh_seconds:
            await self._refresh()
            key = self._find(kid, alg)
        return key

    async def _refresh(self) -> None:
        started = time.monotonic()
        async with self._lock:
            if self.fetched_at >= started:
                return  # another caller refreshed while this one waited
            self.fetched_at = time.monotonic()
            self.fetches += 1
            try:
                data = await self.http.get_json(self.url)
            except FetchFailed as exc:
                log.warning("jwks_refresh_failed", url=self.url, error=str(exc))
                return
            entries = data.get("keys") if isinstance(data, dict) else None
            if not isinstance(entries, list):
                log.warning("jwks_refresh_failed", url=self.url, error="no 'keys' list")
                return
            self.keys = dict(_usable(entries[:MAX_KEYS]))


def _usable(entries: list[Any]) -> list[tuple[str | None, tuple[PyJWK, str | None]]]:
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use") not in (None, "sig"):
            continue
        try:
            out.append((entry.get("kid"), (PyJWK(entry), entry.get("alg"))))
        except (PyJWKError, InvalidKeyError, ValueError, TypeError, KeyError):
            continue  # a key of a type or curve this build cannot use: skipped, the others still work
    return out
