"""GDPR from outside: the data export holds every category of what is kept about the user (and no key
hash); erasure stops the keys, removes the personal data and the conversations, and keeps the ledger
and usage amounts so the books still balance (the autouse ledger check runs after each test)."""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any

import httpx
import orjson

from tests.support.databases import run_sql
from tests.support.identity import GwUser

PRICED = {"model": "fakepriced/priced-model", "messages": [{"role": "user", "content": "hello there"}],
          "max_tokens": 10}
FILES = {"profile.json", "credit_account.json", "api_keys.json", "credit_transactions.json", "usage_records.json",
         "conversations.json", "conversation_items.json", "stored_responses.json", "audit_records.json",
         "security_events.json", "team_memberships.json", "payments.json", "payment_refunds.json",
         "coupon_redemptions.json", "referral_codes.json", "referrals.json", "plan_subscriptions.json",
         "plan_credit_grants.json", "trials.json", "README.json"}


def _use(person: GwUser) -> str:
    conversation = person.client.post("/v1/conversations", json={"items": [{"role": "user", "content": "secret"}]})
    assert conversation.status_code == 200, conversation.text
    answered = person.client.post("/v1/chat/completions", json=PRICED, headers={"user-agent": "privacy-test"})
    assert answered.status_code == 200, answered.text
    return str(answered.headers["x-request-id"])


def test_the_export_holds_every_category(funded: GwUser) -> None:
    request_id = _use(funded)
    exported = funded.client.post("/user/data-export")
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(exported.content))
    assert set(archive.namelist()) == FILES
    data = {name: orjson.loads(archive.read(name)) for name in FILES}
    assert data["profile.json"]["email"] == funded.email and data["profile.json"]["roles"] == []
    assert [k["id"] for k in data["api_keys.json"]] == [funded.key_id]
    assert "key_hash" not in data["api_keys.json"][0] and funded.key not in exported.content.decode("latin-1")
    assert [u["request_id"] for u in data["usage_records.json"]] == [request_id]
    assert {t["type"] for t in data["credit_transactions.json"]} >= {"admin_grant", "usage"}
    assert len(data["conversations.json"]) == 1 and data["conversation_items.json"][0]["user_id"] == funded.id
    assert "user.create" in {r["action"] for r in data["audit_records.json"]}
    assert data["README.json"]["files"]["usage_records.json"] == 1
    audited = funded.client.get("/user/audit-logs", params={"action": "user.data_export"}).json()["data"]
    assert len(audited) == 1


def test_erasure_keeps_the_books_and_removes_the_person(funded: GwUser, admin: httpx.Client,
                                                        database_url: str) -> None:
    request_id = _use(funded)
    assert funded.client.get("/user/balance", headers={"Authorization": "Bearer gw_live_wrong"}).status_code == 401
    wrong = funded.client.request("DELETE", "/user/account", json={"confirm": "someone@example.com"})
    assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "confirm"
    assert funded.client.get("/user/balance").status_code == 200  # nothing happened
    erased = funded.client.request("DELETE", "/user/account", json={"confirm": funded.email.upper()})
    assert erased.status_code == 200, erased.text
    assert erased.json()["removed"] == {"keys_revoked": 1, "conversations": 1, "conversation_items": 1,
                                        "stored_responses": 0, "sessions_revoked": 0}
    deadline = time.monotonic() + 1.0
    while funded.client.get("/user/balance").status_code != 401 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert funded.client.get("/user/balance").status_code == 401  # within a second, everywhere
    profile = admin.get(f"/admin/users/{funded.id}").json()
    assert profile["email"] == f"erased-{funded.id}@erased.invalid" and profile["name"] is None
    assert profile["is_active"] is False
    usage = run_sql(database_url, "SELECT cost FROM usage_records WHERE request_id = :p0", request_id)
    assert len(usage) == 1 and int(usage[0][0]) > 0  # the amounts stay
    assert run_sql(database_url, "SELECT id, title, created_at FROM conversations WHERE user_id = :p0", funded.id) == []
    ips = run_sql(database_url, "SELECT COUNT(*) FROM audit_records WHERE actor_user_id = :p0 AND ip IS NOT NULL",
                  funded.id)
    assert ips[0][0] == 0
    about = run_sql(database_url, "SELECT after FROM audit_records WHERE target_type = 'user' AND target_id = :p0",
                    str(funded.id))
    assert about and funded.email not in str(about)
    trail = admin.get("/admin/audit-logs", params={"action": "user.erase", "target_id": str(funded.id)}).json()
    assert len(trail["data"]) == 1


def test_admin_erasure_and_its_refusals(make_user: Any, admin: httpx.Client) -> None:
    person: GwUser = make_user()
    me = admin.get("/admin/users", params={"email": "admin@example.com"}).json()["data"][0]["id"]
    assert admin.delete(f"/admin/users/{me}").status_code == 400  # not oneself
    assert person.client.delete(f"/admin/users/{person.id}").status_code == 403
    assert admin.delete(f"/admin/users/{person.id}").status_code == 200
    again = admin.delete(f"/admin/users/{person.id}")
    assert again.status_code == 404 and again.json()["error"]["code"] == "user_not_found"
    assert admin.delete("/admin/users/999999999").status_code == 404
    missing = person.client.request("DELETE", "/user/account", json={})
    assert missing.status_code in (400, 401)


def test_an_account_with_a_password_is_erased_only_with_it(base_env: dict[str, str], gateway: Any,
                                                           database_url: str) -> None:
    from tests.signin_support import bearer, client, new_email, signin_gateway

    with signin_gateway(base_env) as server, client(server) as anonymous:
        email = new_email()
        signed = anonymous.post("/auth/signup", json={"email": email, "password": "correct horse battery"})
        assert signed.status_code == 201, signed.text
        user_id, key = signed.json()["user"]["id"], signed.json()["api_key"]["key"]
        session = signed.json()["session"]["token"]
        with client(server, headers=bearer(key)) as owner:
            for body in ({"confirm": email}, {"confirm": email, "password": "wrong horse"}):
                refused = owner.request("DELETE", "/user/account", json=body)
                assert refused.status_code == 400 and refused.json()["error"]["param"] == "password", refused.text
            erased = owner.request("DELETE", "/user/account", json={"confirm": email,
                                                                   "password": "correct horse battery"})
            assert erased.status_code == 200, erased.text
            assert erased.json()["removed"]["sessions_revoked"] == 1
        for table in ("signin_passwords", "signin_identities"):
            assert run_sql(database_url, f"SELECT COUNT(*) FROM {table} WHERE user_id = :p0", user_id)[0][0] == 0
        deadline = time.monotonic() + 1.0
        with client(server, headers=bearer(session)) as signed_in:
            while signed_in.get("/user/balance").status_code != 401 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert signed_in.get("/user/balance").status_code == 401
        assert anonymous.post("/auth/login", json={"email": email, "password": "correct horse battery"}
                              ).status_code == 401
