"""Dashboard sessions: a bearer token or an HttpOnly cookie on the user endpoints, CSRF on cookie
changes, never more than a user may do, listed and revoked (in every process within a second)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gatewayz.signin.identities import set_cookies
from gatewayz.signin.schemas import SessionCreated, SignedIn
from tests.signin_support import bearer, client, new_email, signin_gateway
from tests.support.servers import ThreadedGateway

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def pair(base_env: dict[str, str], gateway: ThreadedGateway) -> Iterator[tuple[ThreadedGateway, ThreadedGateway]]:
    """Two gateway processes' worth of state on one database (and Redis on the postgres backend)."""
    with signin_gateway(base_env) as one, signin_gateway(base_env) as two:
        yield one, two


@pytest.fixture
def gw(pair: tuple[ThreadedGateway, ThreadedGateway]) -> ThreadedGateway:
    return pair[0]


def sign_up(gw: ThreadedGateway) -> dict[str, Any]:
    with client(gw) as c:
        answer = c.post("/auth/signup", json={"email": new_email(), "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def login(gw: ThreadedGateway, email: str) -> httpx.Response:
    with client(gw) as c:
        return c.post("/auth/login", json={"email": email, "password": PASSWORD})


def test_a_session_manages_the_account_but_neither_calls_models_nor_administers(gw: ThreadedGateway) -> None:
    session = sign_up(gw)["session"]
    with client(gw, headers=bearer(session["token"])) as c:
        assert c.get("/user/balance").status_code == 200
        created = c.post("/user/api-keys", json={"name": "from the dashboard"})
        assert created.status_code == 201, created.text
        assert set(created.json()["scopes"]) == {"inference", "keys", "billing"}  # what any user's key may have
        assert created.json()["expires_at"] is None  # not the session's expiry
        wider = c.post("/user/api-keys", json={"name": "admin?", "scopes": ["admin"]})
        assert wider.status_code == 403
        chat = c.post("/v1/chat/completions", json={"model": "sandbox/chat", "messages": [{"role": "user",
                                                                                              "content": "hi"}]})
        assert chat.status_code == 403 and chat.json()["error"]["code"] == "insufficient_scope"
        assert c.get("/admin/users").status_code == 403


def test_an_admins_session_does_not_administer_either(
    gw: ThreadedGateway, admin: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    email = new_email()
    assert admin.post("/admin/users", json={"email": email, "role": "admin"}).status_code == 201
    with caplog.at_level(logging.WARNING, logger="gatewayz.signin.operator"), client(gw) as c:
        assert c.post("/auth/password-reset", json={"email": email}).status_code == 202
        token = re.findall(r"gwr_[A-Za-z0-9_-]+", caplog.text)[-1]  # logged for the operator in dev
        assert c.post("/auth/password-reset/confirm", json={"token": token, "password": PASSWORD}).status_code == 200
    signed = login(gw, email).json()
    assert signed["user"]["role"] == "admin"
    with client(gw, headers=bearer(signed["session"]["token"])) as c:
        assert c.get("/user/balance").status_code == 200
        refused = c.get("/admin/security-events")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
        assert c.post("/user/api-keys", json={"name": "x", "scopes": ["admin"]}).status_code == 403


def test_the_cookie_authenticates_and_changes_need_the_csrf_token(gw: ThreadedGateway) -> None:
    signed = sign_up(gw)
    cookies = signed["session"]
    with client(gw) as c:
        c.cookies.set("gw_session", cookies["token"])
        assert c.get("/user/api-keys").status_code == 200
        refused = c.post("/user/api-keys", json={"name": "csrf"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
        wrong = c.post("/user/api-keys", json={"name": "csrf"}, headers={"x-csrf-token": "0" * 64})
        assert wrong.status_code == 403
        ok = c.post("/user/api-keys", json={"name": "csrf"}, headers={"x-csrf-token": cookies["csrf_token"]})
        assert ok.status_code == 201, ok.text
        # the same token as a bearer header needs no CSRF token (a page cannot make a browser send it)
        assert c.post("/user/api-keys", json={"name": "b"}, headers=bearer(cookies["token"])).status_code == 201
        # an API key in the cookie is ignored: a cookie only ever carries a session
        c.cookies.set("gw_session", signed["api_key"]["key"])
        assert c.get("/user/api-keys").status_code == 401


def test_sign_in_sets_httponly_samesite_cookies(gw: ThreadedGateway) -> None:
    with client(gw) as c:
        email = new_email()
        answer = c.post("/auth/signup", json={"email": email, "password": PASSWORD})
        cookies = {h.split("=", 1)[0]: h.lower() for h in answer.headers.get_list("set-cookie")}
        assert "httponly" in cookies["gw_session"] and "samesite=lax" in cookies["gw_session"]
        assert "path=/" in cookies["gw_session"] and "httponly" not in cookies["gw_csrf"]
        assert c.get("/user/sessions").status_code == 200  # the client kept the cookie
        out = c.post("/auth/logout", headers={"x-csrf-token": answer.json()["session"]["csrf_token"]})
        assert out.status_code == 200
        assert c.get("/user/sessions").status_code == 401


def test_cookies_are_secure_by_default() -> None:
    from starlette.responses import Response

    from gatewayz.accounts.schemas import UserOut

    now = "2026-01-01T00:00:00Z"
    signed = SignedIn(user=UserOut(id=1, email="a@b.c", name=None, role="user", is_active=True, created_at=now,
                                   updated_at=now),
                      session=SessionCreated(id=1, method="password", ip=None, user_agent=None, created_at=now,
                                             expires_at=now, token="gws_x", csrf_token="c"),
                      created=False)
    response = Response()
    set_cookies(response, signed, secure=True, max_age=60)
    assert all("secure" in h.lower() for h in response.headers.getlist("set-cookie"))


def test_sessions_are_listed_and_one_revoked_stops_in_every_process_within_a_second(
    pair: tuple[ThreadedGateway, ThreadedGateway],
) -> None:
    one, two = pair
    email = sign_up_email = new_email()
    with client(one) as c:
        assert c.post("/auth/signup", json={"email": sign_up_email, "password": PASSWORD}).status_code == 201
    second = login(one, email).json()["session"]
    third = login(two, email).json()["session"]
    with client(two, headers=bearer(third["token"])) as c:
        listed = c.get("/user/sessions").json()["data"]
        assert {s["id"] for s in listed} >= {second["id"], third["id"]}
        assert [s["current"] for s in listed if s["id"] == third["id"]] == [True]
    with client(two, headers=bearer(second["token"])) as victim:
        assert victim.get("/user/balance").status_code == 200  # cached in process two now
        with client(one, headers=bearer(third["token"])) as c:
            assert c.delete(f"/user/sessions/{second['id']}").status_code == 200
        started = time.monotonic()
        while victim.get("/user/balance").status_code == 200:
            assert time.monotonic() - started < 1.0, "the revoked session still works in the other process"
            time.sleep(0.02)
    with client(one, headers=bearer(third["token"])) as c:
        assert second["id"] not in {s["id"] for s in c.get("/user/sessions").json()["data"]}


def test_another_users_session_is_a_404(gw: ThreadedGateway) -> None:
    mine, theirs = sign_up(gw)["session"], sign_up(gw)["session"]
    with client(gw, headers=bearer(mine["token"])) as c:
        assert c.delete(f"/user/sessions/{theirs['id']}").status_code == 404
    with client(gw, headers=bearer(theirs["token"])) as c:
        assert c.get("/user/balance").status_code == 200


def test_a_deactivated_users_sessions_stop(gw: ThreadedGateway, admin: httpx.Client) -> None:
    signed = sign_up(gw)
    with client(gw, headers=bearer(signed["session"]["token"])) as c:
        assert c.get("/user/balance").status_code == 200
        assert admin.patch(f"/admin/users/{signed['user']['id']}", json={"is_active": False}).status_code == 200
        started = time.monotonic()
        while c.get("/user/balance").status_code == 200:
            assert time.monotonic() - started < 1.0
            time.sleep(0.02)
    assert login(gw, signed["user"]["email"]).status_code == 401
