"""An account's own credentials after sign-up: `POST /user/password` (change, or set a first one),
erasure confirmed by a second factor, and the audit records every sign-in action leaves."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pyotp

from tests.signin_fakes import SigningKey, claims
from tests.signin_support import PRIVY_APP_ID, bearer, client, new_email, privy_fixtures
from tests.support.servers import ThreadedGateway

PASSWORD = "correct horse battery"
KEY = SigningKey.ec()
jwks, gw = privy_fixtures(KEY)


def sign_up(gw: ThreadedGateway) -> dict[str, Any]:
    with client(gw) as c:
        signed = c.post("/auth/signup", json={"email": new_email(), "password": PASSWORD})
    assert signed.status_code == 201, signed.text
    return signed.json()  # type: ignore[no-any-return]


def login(gw: ThreadedGateway, email: str, password: str = PASSWORD) -> httpx.Response:
    with client(gw) as c:
        return c.post("/auth/login", json={"email": email, "password": password})


def actions(admin: httpx.Client, user_id: int) -> list[str]:
    rows = admin.get("/admin/audit-logs", params={"target_type": "user", "target_id": str(user_id),
                                                  "limit": 100}).json()["data"]
    return sorted(r["action"] for r in rows)


def enable_totp(c: httpx.Client) -> pyotp.TOTP:
    totp = pyotp.TOTP(c.post("/user/totp/enroll").json()["secret"])
    assert c.post("/user/totp/confirm", json={"code": totp.now()}).status_code == 200
    return totp


def test_changing_the_password_needs_the_current_one_and_ends_the_other_sessions(
    gw: ThreadedGateway, admin: httpx.Client
) -> None:
    signed = sign_up(gw)
    email, user_id = signed["user"]["email"], signed["user"]["id"]
    other = login(gw, email).json()["session"]["token"]
    with client(gw, headers=bearer(signed["session"]["token"])) as mine:
        for body in ({"new_password": "a new long password"},
                     {"current_password": "not it at all", "new_password": "a new long password"}):
            refused = mine.post("/user/password", json=body)
            assert refused.status_code == 400 and refused.json()["error"]["param"] == "current_password"
        short = mine.post("/user/password", json={"current_password": PASSWORD, "new_password": "short"})
        assert short.status_code == 400
        changed = mine.post("/user/password", json={"current_password": PASSWORD,
                                                    "new_password": "a new long password"})
        assert changed.status_code == 200 and changed.json()["status"] == "changed"
        assert mine.get("/user/balance").status_code == 200  # the caller's own session goes on
    with client(gw, headers=bearer(other)) as theirs:
        deadline = time.monotonic() + 1.0
        while theirs.get("/user/balance").status_code != 401 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert theirs.get("/user/balance").status_code == 401  # every other session ended within a second
    assert login(gw, email).status_code == 401
    assert login(gw, email, "a new long password").status_code == 200
    assert {"user.create", "user.sign_in", "password.change"} <= set(actions(admin, user_id))


def test_a_first_password_needs_a_session_and_the_second_factor(gw: ThreadedGateway, admin: httpx.Client) -> None:
    subject = "did:privy:first-password"
    with client(gw) as c:
        signed = c.post("/auth/privy", json={"access_token": KEY.sign(claims("privy.io", PRIVY_APP_ID, subject))})
    assert signed.status_code == 200, signed.text
    body = signed.json()
    key, session, user_id = body["api_key"]["key"], body["session"]["token"], body["user"]["id"]
    with client(gw, headers=bearer(key)) as by_key:
        refused = by_key.post("/user/password", json={"new_password": "a first long password"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "session_required"
    with client(gw, headers=bearer(session)) as by_session:
        totp = enable_totp(by_session)
        no_code = by_session.post("/user/password", json={"new_password": "a first long password"})
        assert no_code.status_code == 400 and no_code.json()["error"]["param"] == "totp_code"
        code = totp.at(time.time() + 30)  # the confirming step is used: the next one, within the drift window
        done = by_session.post("/user/password", json={"new_password": "a first long password", "totp_code": code})
        assert done.status_code == 200 and done.json()["status"] == "set", done.text
    assert {"user.create", "user.sign_in", "totp.enroll", "totp.enable", "password.set"} <= set(actions(admin, user_id))


def test_an_account_with_only_a_second_factor_is_erased_with_a_code(gw: ThreadedGateway, admin: httpx.Client) -> None:
    subject = "did:privy:erase-with-code"
    with client(gw) as c:
        body = c.post("/auth/privy", json={"access_token": KEY.sign(claims("privy.io", PRIVY_APP_ID, subject))}).json()
    email, user_id = body["user"]["email"], body["user"]["id"]
    with client(gw, headers=bearer(body["session"]["token"])) as owner:
        totp = enable_totp(owner)
        refused = owner.request("DELETE", "/user/account", json={"confirm": email})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "totp_code"
        wrong = owner.request("DELETE", "/user/account", json={"confirm": email, "totp_code": "000000"
                                                                if totp.now() != "000000" else "111111"})
        assert wrong.status_code == 400
        erased = owner.request("DELETE", "/user/account", json={"confirm": email,
                                                                "totp_code": totp.at(time.time() + 30)})
        assert erased.status_code == 200, erased.text
    assert "user.erase" in actions(admin, user_id)


def test_sign_in_actions_are_audited_and_counted(gw: ThreadedGateway, admin: httpx.Client) -> None:
    signed = sign_up(gw)
    user_id, session = signed["user"]["id"], signed["session"]["token"]
    with client(gw) as anonymous:
        assert anonymous.post("/auth/password-reset", json={"email": signed["user"]["email"]}).status_code == 202
    with client(gw, headers=bearer(session)) as mine:
        assert mine.post("/auth/logout").status_code == 200
    rows = admin.get("/admin/audit-logs", params={"target_type": "user", "target_id": str(user_id),
                                                  "limit": 100}).json()["data"]
    by_action = {r["action"]: r for r in rows}
    assert by_action["user.sign_in"]["actor_user_id"] == user_id and by_action["user.sign_in"]["after"]["method"] == \
        "password"
    assert by_action["password.reset_request"]["actor_type"] == "anonymous"
    assert by_action["session.logout"]["actor_type"] == "user"
    keys = admin.get("/admin/audit-logs", params={"action": "api_key.create", "actor_user_id": user_id}).json()["data"]
    assert len(keys) == 1 and keys[0]["after"]["first_key"] is True
    report = admin.get("/admin/compliance/report").json()["counts"]
    assert report["sign_ins"] >= 1 and report["session_revocations"] >= 1
