"""OpenID Connect against a fake provider on loopback: the authorization-code flow with PKCE
(state, nonce and code verifier checked) for the dashboard, and ID-token sign-in for API clients."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.signin_fakes import FakeOidc, SigningKey, claims, tampered, unsigned
from tests.signin_support import bearer, client, new_email, signin_gateway
from tests.support.servers import ThreadedGateway


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeOidc]:
    with FakeOidc() as fake:
        yield fake


@pytest.fixture(scope="module")
def gw(base_env: dict[str, str], provider: FakeOidc, gateway: ThreadedGateway) -> Iterator[ThreadedGateway]:
    with signin_gateway(base_env, oidc=provider) as server:
        yield server


@pytest.fixture
def person(provider: FakeOidc) -> Iterator[FakeOidc]:
    provider.subject, provider.email, provider.wrong_nonce = f"sub-{secrets.token_hex(6)}", new_email(), False
    yield provider
    provider.wrong_nonce = False


def start(c: httpx.Client) -> str:
    """GET /login; answers the provider's authorize URL (its query checked)."""
    login = c.get("/auth/oidc/fake/login")
    assert login.status_code == 302, login.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(login.headers["location"]).query).items()}
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["response_type"] == "code" and query["scope"] == "openid email profile"
    assert query["redirect_uri"] == f"{c.base_url}/auth/oidc/fake/callback"
    assert query["state"] and query["nonce"] and query["state"] != query["nonce"]
    return str(login.headers["location"])


def approve(authorize_url: str) -> str:
    """The provider approves the user and redirects back: the callback URL with code and state."""
    answer = httpx.get(authorize_url)
    assert answer.status_code == 302
    return str(answer.headers["location"])


def test_code_flow_signs_in_with_a_session_cookie(gw: ThreadedGateway, person: FakeOidc) -> None:
    with client(gw) as c:
        back = approve(start(c))
        done = c.get(back)
        assert done.status_code == 303 and done.headers["location"] == "/dashboard"
        assert "gw_session" in c.cookies
        sessions = c.get("/user/sessions")
        assert sessions.status_code == 200 and sessions.json()["data"][0]["method"] == "oidc:fake"
        token_form = person.token_requests[-1]
        assert token_form["grant_type"] == "authorization_code" and len(token_form["code_verifier"]) >= 43
        again = c.get(back)  # the flow cookie is gone and the code was used: a replay is refused
        assert again.status_code == 401
    with client(gw) as c:  # a second sign-in links to the same user; no API key through a redirect
        c.get(approve(start(c)))
        listed = c.get("/user/api-keys").json()["data"]
        assert listed == []
        user_sessions = c.get("/user/sessions").json()["data"]
        assert len(user_sessions) == 2


def test_a_wrong_state_is_refused(gw: ThreadedGateway, person: FakeOidc) -> None:
    with client(gw) as c:
        back = urlsplit(approve(start(c)))
        query = {k: v[0] for k, v in parse_qs(back.query).items()}
        forged = c.get(back.path, params={"code": query["code"], "state": "forged-" + query["state"]})
        assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_oidc_flow"
        assert "gw_session" not in c.cookies


def test_a_callback_without_the_flow_cookie_is_refused(gw: ThreadedGateway, person: FakeOidc) -> None:
    with client(gw) as starter:
        back = approve(start(starter))
    with client(gw) as stranger:  # another browser (no flow cookie) with a stolen callback URL
        assert stranger.get(back).status_code == 401


def test_a_wrong_nonce_is_refused(gw: ThreadedGateway, person: FakeOidc) -> None:
    person.wrong_nonce = True
    with client(gw) as c:
        answer = c.get(approve(start(c)))
        assert answer.status_code == 401 and "gw_session" not in c.cookies


def test_a_provider_error_is_refused(gw: ThreadedGateway, person: FakeOidc) -> None:
    with client(gw) as c:
        start(c)
        assert c.get("/auth/oidc/fake/callback", params={"error": "access_denied"}).status_code == 401


def test_an_unknown_provider_is_a_404(gw: ThreadedGateway) -> None:
    with client(gw) as c:
        assert c.get("/auth/oidc/nope/login").status_code == 404
        assert c.post("/auth/oidc/nope/token", json={"id_token": "x"}).status_code == 404


def test_an_api_client_signs_in_with_an_id_token(gw: ThreadedGateway, person: FakeOidc) -> None:
    with client(gw) as c:
        first = c.post("/auth/oidc/fake/token", json={"id_token": person.id_token()})
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["created"] is True and body["user"]["email"] == person.email and body["api_key"]["key"]
    with client(gw, headers=bearer(body["session"]["token"])) as c:
        assert c.get("/user/balance").status_code == 200


def test_an_unverified_email_is_not_taken(gw: ThreadedGateway, person: FakeOidc) -> None:
    with client(gw) as c:
        answer = c.post("/auth/oidc/fake/token", json={"id_token": person.id_token(email_verified=False)})
    assert answer.status_code == 200 and answer.json()["user"]["email"].endswith("@users.invalid")


@pytest.mark.parametrize("kind", ["expired", "wrong_audience", "wrong_issuer", "unknown_kid", "tampered",
                                  "alg_none", "another_key"])
def test_a_bad_id_token_is_refused(gw: ThreadedGateway, person: FakeOidc, kind: str) -> None:
    good = claims(person.issuer, person.client_id, person.subject)
    token = {
        "expired": lambda: person.id_token(exp=1_700_000_000, iat=1_699_999_000),
        "wrong_audience": lambda: person.id_token(aud="someone-else"),
        "wrong_issuer": lambda: person.id_token(iss="http://127.0.0.1:1"),
        "unknown_kid": lambda: SigningKey.rsa(kid="nope").sign(good),
        "tampered": lambda: tampered(person.id_token()),
        "alg_none": lambda: unsigned(good),
        "another_key": lambda: SigningKey.rsa(kid=person.key.kid).sign(good),
    }[kind]()
    with client(gw) as c:
        answer = c.post("/auth/oidc/fake/token", json={"id_token": token})
    assert answer.status_code == 401, answer.text
