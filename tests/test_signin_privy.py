"""POST /auth/privy against a loopback JWKS server: a valid Privy token signs in (the first time it
creates the user and answers their first API key); every forged or stale token is a 401."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import jwt
import orjson
import pytest

from tests.signin_fakes import SigningKey, claims, tampered, unsigned
from tests.signin_support import PRIVY_APP_ID, bearer, client, new_email, privy_fixtures
from tests.support.servers import ThreadedGateway

KEY = SigningKey.ec()


jwks, gw = privy_fixtures(KEY)


def privy_token(sub: str | None = None, key: SigningKey = KEY, **overrides: Any) -> str:
    body = claims("privy.io", PRIVY_APP_ID, sub or f"did:privy:{secrets.token_hex(8)}", sid=secrets.token_hex(4))
    return key.sign({**body, **overrides})


def sign_in(gw: ThreadedGateway, token: str, **extra: Any) -> httpx.Response:
    with client(gw) as c:
        return c.post("/auth/privy", json={"access_token": token, **extra})


def test_first_sign_in_creates_the_user_and_a_first_key_then_links_to_it(gw: ThreadedGateway) -> None:
    sub = f"did:privy:{secrets.token_hex(8)}"
    first = sign_in(gw, privy_token(sub))
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["created"] is True and body["api_key"]["key"].startswith("gw_")
    assert body["user"]["email"].endswith("@users.invalid")  # no linked email: a placeholder
    assert body["session"]["token"].startswith("gws_") and body["session"]["method"] == "privy"
    again = sign_in(gw, privy_token(sub)).json()
    assert again["created"] is False and again["api_key"] is None
    assert again["user"]["id"] == body["user"]["id"] and again["session"]["id"] != body["session"]["id"]
    with client(gw, headers=bearer(again["session"]["token"])) as c:  # the session works on user endpoints
        assert c.get("/user/balance").status_code == 200
        assert [k["id"] for k in c.get("/user/api-keys").json()["data"]] == [body["api_key"]["id"]]
    with client(gw, headers=bearer(body["api_key"]["key"])) as c:  # and so does the first key
        assert c.get("/user/api-keys").status_code == 200


def test_the_email_comes_from_the_identity_tokens_linked_accounts(gw: ThreadedGateway) -> None:
    sub, email = f"did:privy:{secrets.token_hex(8)}", new_email()
    linked = orjson.dumps([{"type": "wallet", "address": "0xabc"}, {"type": "email", "address": email}]).decode()
    answer = sign_in(gw, privy_token(sub), identity_token=privy_token(sub, linked_accounts=linked))
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"]["email"] == email
    # an identity token of someone else is refused
    other = sign_in(gw, privy_token(), identity_token=privy_token(linked_accounts=linked))
    assert other.status_code == 401


def test_an_email_of_another_account_is_not_linked(gw: ThreadedGateway, user: Any) -> None:
    linked = orjson.dumps([{"type": "email", "address": user.email}]).decode()
    sub = f"did:privy:{secrets.token_hex(8)}"
    answer = sign_in(gw, privy_token(sub), identity_token=privy_token(sub, linked_accounts=linked))
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "email_in_use"


def _public_key_hs256(claims_: dict[str, Any]) -> str:
    """The classic forgery: HS256 with the public key (as PEM) for the secret. PyJWT refuses to make
    one, so it is assembled here."""
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing = f"{b64(orjson.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': KEY.kid}))}.{b64(orjson.dumps(claims_))}"
    signature = hmac.new(KEY.public_pem().encode(), signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{b64(signature)}"


BAD_TOKENS = {
    "expired": lambda: privy_token(exp=1_700_000_000, iat=1_699_999_000),
    "not_yet_valid": lambda: privy_token(nbf=2_000_000_000),
    "wrong_audience": lambda: privy_token(aud="another-app"),
    "wrong_issuer": lambda: privy_token(iss="privy.example"),
    "unknown_kid": lambda: privy_token(key=SigningKey.ec(kid="not-published")),
    "signed_by_another_key_same_kid": lambda: privy_token(key=SigningKey.ec(kid=KEY.kid)),
    "tampered_signature": lambda: tampered(privy_token()),
    "alg_none": lambda: unsigned(claims("privy.io", PRIVY_APP_ID, "did:privy:none")),
    "hs256_with_public_key": lambda: _public_key_hs256(claims("privy.io", PRIVY_APP_ID, "did:privy:hs")),
    "no_subject": lambda: KEY.sign({k: v for k, v in claims("privy.io", PRIVY_APP_ID, "x").items() if k != "sub"}),
    "garbage": lambda: "not.a.jwt",
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_a_bad_token_is_refused_with_401(gw: ThreadedGateway, kind: str) -> None:
    answer = sign_in(gw, BAD_TOKENS[kind]())
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["type"] == "authentication_error"
    assert "session" not in answer.json() and "set-cookie" not in answer.headers


def test_the_forgeries_would_decode_without_pinning(gw: ThreadedGateway) -> None:
    """The bad tokens above are refused for the right reason, not by accident of their shape: the
    tampered and wrong-claim tokens are well formed, and `alg: none` is what an unpinned decoder accepts."""
    token = unsigned(claims("privy.io", PRIVY_APP_ID, "did:privy:none"))
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == "did:privy:none"
    assert jwt.get_unverified_header(tampered(privy_token()))["alg"] == "ES256"


def test_failed_token_sign_ins_are_security_events(gw: ThreadedGateway, admin: httpx.Client) -> None:
    ip = "198.18.250.7"
    with client(gw, ip=ip) as c:
        assert c.post("/auth/privy", json={"access_token": privy_token(aud="x")}).status_code == 401
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        events = admin.get("/admin/security-events", params={"limit": 1000}).json()["data"]
        found = [e for e in events if e.get("ip") == ip and e["event"] == "signin_failed"]
        if found:
            assert found[0]["reason"] == "privy:wrong_audience" and found[0]["path"] == "/auth/privy"
            return
        time.sleep(0.05)
    raise AssertionError("no security event for the failed sign-in")
