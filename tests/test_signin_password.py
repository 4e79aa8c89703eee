"""Email + password: sign-up, sign-in, reset tokens (single use, expiring), TOTP second factor with
recovery codes, and the brute-force lockout per account and per IP (recorded as security events)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pyotp
import pytest

from tests.signin_support import (
    FAILURES_PER_ACCOUNT,
    FAILURES_PER_IP,
    bearer,
    client,
    new_email,
    new_ip,
    signin_gateway,
)
from tests.support.servers import ThreadedGateway

PASSWORD = "correct horse battery"
RESET_TTL = 2.0


@pytest.fixture(scope="module")
def gw(base_env: dict[str, str], gateway: ThreadedGateway) -> Iterator[ThreadedGateway]:
    with signin_gateway(base_env, password_reset_ttl_seconds=RESET_TTL) as server:
        yield server


def sign_up(gw: ThreadedGateway, email: str | None = None) -> dict[str, Any]:
    with client(gw) as c:
        answer = c.post("/auth/signup", json={"email": email or new_email(), "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def login(gw: ThreadedGateway, email: str, password: str = PASSWORD, *, ip: str | None = None,
          **extra: Any) -> httpx.Response:
    with client(gw, ip=ip) as c:
        return c.post("/auth/login", json={"email": email, "password": password, **extra})


def reset_token(gw: ThreadedGateway, email: str, caplog: pytest.LogCaptureFixture) -> str:
    with caplog.at_level(logging.WARNING, logger="gatewayz.signin.operator"), client(gw) as c:
        caplog.clear()
        assert c.post("/auth/password-reset", json={"email": email}).status_code == 202
        found = re.findall(r"gwr_[A-Za-z0-9_-]+", caplog.text)
    assert len(found) == 1
    return found[0]


def test_sign_up_then_sign_in(gw: ThreadedGateway) -> None:
    email = new_email()
    signed = sign_up(gw, email.upper())
    assert signed["user"]["email"] == email and signed["created"] is True and signed["api_key"]["key"]
    again = login(gw, email)
    assert again.status_code == 200 and again.json()["api_key"] is None
    assert again.json()["user"]["id"] == signed["user"]["id"]
    with client(gw) as c:
        twice = c.post("/auth/signup", json={"email": email, "password": PASSWORD})
        assert twice.status_code == 409
        short = c.post("/auth/signup", json={"email": new_email(), "password": "short"})
        assert short.status_code == 400
    wrong = login(gw, email, "not the password")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_credentials"
    unknown = login(gw, new_email())
    assert unknown.status_code == 401 and unknown.json()["error"] == wrong.json()["error"]  # nothing told


def test_the_password_is_stored_as_argon2id(gw: ThreadedGateway) -> None:
    import asyncio

    from sqlalchemy import select

    from gatewayz.signin.tables import SigninPassword
    from gatewayz.storage.db import Database

    signed = sign_up(gw)

    async def stored() -> str:
        db = Database(gw.settings)
        try:
            async with db.session() as session:
                row = await session.execute(select(SigninPassword.password_hash)
                                            .where(SigninPassword.user_id == signed["user"]["id"]))
                return str(row.scalar_one())
        finally:
            await db.close()

    assert asyncio.run(stored()).startswith("$argon2id$v=19$")


def test_a_reset_token_works_once_and_ends_every_session(gw: ThreadedGateway, caplog: pytest.LogCaptureFixture) -> None:
    signed = sign_up(gw)
    email, old_session = signed["user"]["email"], signed["session"]["token"]
    token = reset_token(gw, email, caplog)
    with client(gw) as c:
        done = c.post("/auth/password-reset/confirm", json={"token": token, "password": "a brand new secret"})
        assert done.status_code == 200, done.text
        reused = c.post("/auth/password-reset/confirm", json={"token": token, "password": "and another one!"})
        assert reused.status_code == 400 and reused.json()["error"]["code"] == "invalid_reset_token"
        bogus = c.post("/auth/password-reset/confirm", json={"token": "gwr_" + "x" * 43, "password": "whatever12"})
        assert bogus.status_code == 400
    assert login(gw, email).status_code == 401
    assert login(gw, email, "a brand new secret").status_code == 200
    started = time.monotonic()
    with client(gw, headers=bearer(old_session)) as c:
        while c.get("/user/balance").status_code == 200:
            assert time.monotonic() - started < 1.0, "the old session survived the reset"
            time.sleep(0.02)


def test_a_reset_token_expires(gw: ThreadedGateway, caplog: pytest.LogCaptureFixture) -> None:
    email = sign_up(gw)["user"]["email"]
    token = reset_token(gw, email, caplog)
    time.sleep(RESET_TTL + 0.3)
    with client(gw) as c:
        late = c.post("/auth/password-reset/confirm", json={"token": token, "password": "too late, sorry"})
    assert late.status_code == 400 and late.json()["error"]["code"] == "invalid_reset_token"
    assert login(gw, email).status_code == 200


def test_an_unknown_email_gets_the_same_reset_answer_and_no_token(
    gw: ThreadedGateway, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gatewayz.signin.operator"), client(gw) as c:
        caplog.clear()
        answer = c.post("/auth/password-reset", json={"email": new_email()})
    assert answer.status_code == 202 and "gwr_" not in caplog.text


def test_totp_second_factor_with_recovery_codes(gw: ThreadedGateway) -> None:
    signed = sign_up(gw)
    email = signed["user"]["email"]
    with client(gw, headers=bearer(signed["session"]["token"])) as c:
        enrolment = c.post("/user/totp/enroll").json()
        assert enrolment["otpauth_uri"].startswith("otpauth://totp/Gatewayz:")
        totp = pyotp.TOTP(enrolment["secret"])
        assert c.post("/user/totp/confirm", json={"code": "000000" if totp.now() != "000000" else "111111"}
                      ).status_code == 400
        confirmed_at = time.time()
        code = totp.at(confirmed_at)
        confirmed = c.post("/user/totp/confirm", json={"code": code})
        assert confirmed.status_code == 200, confirmed.text
        codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10
    needs = login(gw, email)
    assert needs.status_code == 401 and needs.json()["error"]["code"] == "totp_required"
    # the code used to confirm was this step's: it cannot be used again (no replay)
    replay = login(gw, email, totp_code=code)
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "invalid_totp_code"
    step_after = totp.at(confirmed_at + 30)  # within the drift window, a step not used yet
    assert login(gw, email, totp_code=step_after).status_code == 200
    assert login(gw, email, recovery_code=codes[0]).status_code == 200
    assert login(gw, email, recovery_code=codes[0]).status_code == 401  # single use
    assert login(gw, email, "wrong password", recovery_code=codes[1]).status_code == 401


def test_failed_sign_ins_lock_the_account(gw: ThreadedGateway, admin: httpx.Client) -> None:
    email = sign_up(gw)["user"]["email"]
    for _ in range(FAILURES_PER_ACCOUNT):
        assert login(gw, email, "guess", ip=new_ip()).status_code == 401  # from many IPs: still one account
    locked = login(gw, email, ip=new_ip())  # even the right password, now
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "signin_locked"
    assert int(locked.headers["retry-after"]) >= 1
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        events = admin.get("/admin/security-events", params={"limit": 1000}).json()["data"]
        kinds = [e["event"] for e in events if e["path"] == "/auth/login"]
        if "signin_locked" in kinds and kinds.count("signin_failed") >= FAILURES_PER_ACCOUNT:
            return
        time.sleep(0.05)
    raise AssertionError("the failures and the lockout were not recorded as security events")


def test_failed_sign_ins_lock_the_ip(gw: ThreadedGateway) -> None:
    ip = new_ip()
    for _ in range(FAILURES_PER_IP):
        assert login(gw, new_email(), "guess", ip=ip).status_code == 401  # a new account each time
    assert login(gw, new_email(), ip=ip).status_code == 429
    other = sign_up(gw)["user"]["email"]
    assert login(gw, other, ip=ip).status_code == 429
    assert login(gw, other, ip=new_ip()).status_code == 200  # another IP is not locked
