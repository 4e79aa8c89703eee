"""The sign-in parts on their own: TOTP on a fixed clock, the JWKS cache's refresh (on an unknown
kid, at a bounded rate, against a real loopback server), a PEM-configured Privy key, pinned algorithms."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import pyotp
import pytest

from gatewayz.settings import Settings, SettingsError
from gatewayz.signin import totp
from gatewayz.signin.http import Fetcher
from gatewayz.signin.jwks import JwksCache
from gatewayz.signin.privy import PrivyVerifier, email_from_linked_accounts
from gatewayz.signin.tokens import TokenRefused, TokenRules
from tests.signin_fakes import JwksServer, SigningKey, claims

T0 = 1_800_000_000.0  # a fixed clock: the start of a 30 s step (1_800_000_000 / 30 is whole)
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_totp_accepts_the_current_step_and_one_either_side_on_a_fixed_clock() -> None:
    reference = pyotp.TOTP(SECRET)
    current = int(T0 // 30)
    assert totp.matching_step(SECRET, reference.at(T0), T0 + 29.9, None) == current
    assert totp.matching_step(SECRET, reference.at(T0 - 30), T0, None) == current - 1
    assert totp.matching_step(SECRET, reference.at(T0 + 30), T0, None) == current + 1
    assert totp.matching_step(SECRET, reference.at(T0 - 60), T0, None) is None  # too old
    assert totp.matching_step(SECRET, reference.at(T0 + 90), T0, None) is None  # too far ahead
    assert totp.matching_step(SECRET, "000000" if reference.at(T0) != "000000" else "111111", T0, None) is None


def test_totp_never_accepts_a_step_twice_or_an_earlier_one() -> None:
    reference = pyotp.TOTP(SECRET)
    current = int(T0 // 30)
    assert totp.matching_step(SECRET, reference.at(T0), T0, current) is None
    assert totp.matching_step(SECRET, reference.at(T0 - 30), T0, current) is None
    assert totp.matching_step(SECRET, reference.at(T0 + 30), T0, current) == current + 1


def test_otpauth_uri_and_recovery_codes() -> None:
    uri = totp.otpauth_uri(SECRET, "a@example.com")
    assert uri.startswith("otpauth://totp/Gatewayz:a%40example.com?secret=" + SECRET)
    codes = totp.new_recovery_codes()
    assert len(set(codes)) == 10
    key = secrets.token_bytes(16)
    assert totp.recovery_hash(key, codes[0]) == totp.recovery_hash(key, " " + codes[0].upper())
    assert totp.recovery_hash(key, codes[0]) != totp.recovery_hash(secrets.token_bytes(16), codes[0])


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    with JwksServer(SigningKey.ec(kid="one")) as server:
        yield server


async def test_the_jwks_is_refreshed_on_an_unknown_kid_at_a_bounded_rate(jwks: JwksServer) -> None:
    fetcher = Fetcher()
    try:
        cache = JwksCache(jwks.jwks_url, fetcher, min_refresh_seconds=60)
        assert await cache.key_for("one", "ES256") is not None and jwks.fetches == 1
        found = await asyncio.gather(*(cache.key_for(f"made-up-{i}", "ES256") for i in range(50)))
        assert found == [None] * 50 and jwks.fetches == 1  # a flood of made-up kids: no refetch within 60 s
        assert await cache.key_for("one", "RS256") is None  # a key declared ES256 is not used for RS256
        rotating = JwksCache(jwks.jwks_url, fetcher, min_refresh_seconds=0)
        assert await rotating.key_for("one", "ES256") is not None
        jwks.keys = [SigningKey.ec(kid="two")]  # the provider rotated its keys
        before = jwks.fetches
        assert await rotating.key_for("two", "ES256") is not None and jwks.fetches == before + 1
    finally:
        await fetcher.close()


async def test_a_jwks_that_cannot_be_fetched_keeps_the_keys_it_had(jwks: JwksServer) -> None:
    fetcher = Fetcher()
    try:
        cache = JwksCache(jwks.jwks_url, fetcher, min_refresh_seconds=0, max_age_seconds=0)
        assert await cache.key_for("one", "ES256") is not None
        cache.url = jwks.url + "/missing"
        assert await cache.key_for("one", "ES256") is not None
    finally:
        await fetcher.close()


async def test_privy_with_a_pem_verification_key() -> None:
    key = SigningKey.ec()
    settings = Settings(privy_app_id="app-1", privy_verification_key=key.public_pem().replace("\n", "\\n"))
    verifier = PrivyVerifier(settings, Fetcher())
    token = key.sign(claims("privy.io", "app-1", "did:privy:abc"))
    assert await verifier.verify(token, None) == ("did:privy:abc", None)
    with pytest.raises(TokenRefused) as refused:
        await verifier.verify(SigningKey.ec().sign(claims("privy.io", "app-1", "did:privy:abc")), None)
    assert refused.value.reason == "bad_signature"
    with pytest.raises(TokenRefused) as refused:
        await verifier.verify(SigningKey.rsa().sign(claims("privy.io", "app-1", "did:privy:abc")), None)
    assert refused.value.reason == "algorithm_not_allowed"


def test_privy_configuration_errors_name_the_setting() -> None:
    with pytest.raises(SettingsError, match="PRIVY_VERIFICATION_KEY or GATEWAYZ_PRIVY_JWKS_URL"):
        PrivyVerifier(Settings(privy_app_id="app-1"), Fetcher())
    with pytest.raises(SettingsError, match="not a PEM public key"):
        PrivyVerifier(Settings(privy_app_id="app-1", privy_verification_key="nope"), Fetcher())


def test_only_asymmetric_algorithms_can_be_configured() -> None:
    for wrong in (("HS256",), ("none",), ()):
        with pytest.raises(ValueError):
            TokenRules("iss", ("aud",), wrong)


def test_email_from_linked_accounts() -> None:
    assert email_from_linked_accounts('[{"type":"email","address":"a@b.c"}]') == "a@b.c"
    assert email_from_linked_accounts([{"type": "google_oauth", "email": "g@b.c"}]) == "g@b.c"
    assert email_from_linked_accounts([{"type": "wallet", "address": "0x1"}]) is None
    assert email_from_linked_accounts("not json") is None and email_from_linked_accounts(7) is None
