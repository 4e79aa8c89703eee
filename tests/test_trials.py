"""Free trials: $10 that expire, the trial plan, once per user and per email address (aliases are
one address), a few per IP per day, exactly once under concurrency, status and conversion.
Expiry and reminders: tests/test_trials_expiry.py."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support.databases import run_sql
from tests.support.identity import GwUser
from tests.support.money import balance, nanos
from tests.support.plans import assign, make_plan

PROXY = "127.0.0.2"  # a trusted proxy of the session gateway: X-Forwarded-For names the client


def user_with_email(admin: httpx.Client, gateway: Any, email: str, client_ip: str | None = None) -> GwUser:
    created = admin.post("/admin/users", json={"email": email})
    assert created.status_code == 201, created.text
    body = created.json()
    headers = {"Authorization": f"Bearer {body['api_key']['key']}"}
    transport = None
    if client_ip is not None:
        headers["X-Forwarded-For"] = client_ip
        transport = httpx.HTTPTransport(local_address=PROXY)
    client = httpx.Client(base_url=gateway.url, headers=headers, transport=transport)
    return GwUser(body["user"]["id"], email, body["api_key"]["key"], body["api_key"]["id"], client)


def fresh_ip() -> str:
    return f"198.18.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


@pytest.fixture
def newcomer(admin: httpx.Client, gateway: Any) -> Any:
    person = user_with_email(admin, gateway, f"new-{secrets.token_hex(5)}@example.com", fresh_ip())
    yield person
    person.client.close()


def test_a_trial_grants_expiring_credits_and_the_trial_plan_once(
    newcomer: GwUser, database_url: str
) -> None:
    assert newcomer.client.get("/trials/status").json()["status"] == "none"
    started = newcomer.client.post("/trials/start")
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["status"] == "active" and body["credits_granted"] == "10.000000000"
    assert body["credits_remaining"] == "10.000000000" and body["requests"] == 0
    assert 3 * 86400 - 60 < body["seconds_left"] <= 3 * 86400
    assert balance(newcomer.client)["balance"] == "10.000000000"
    plan = newcomer.client.get("/user/plan").json()
    assert plan["plan"]["slug"] == "trial" and plan["subscription"]["source"] == "trial"
    assert plan["subscription"]["status"] == "trialing" and plan["subscription"]["ends_at"] == body["ends_at"]
    again = newcomer.client.post("/trials/start")
    assert again.status_code == 409 and again.json()["error"]["code"] in ("trial_already_used", "already_subscribed")
    assert balance(newcomer.client)["balance"] == "10.000000000"
    rows = run_sql(database_url, "SELECT type, amount FROM credit_transactions WHERE user_id = :p0", newcomer.id)
    assert [(r[0], int(r[1])) for r in rows] == [("trial", nanos("10"))]
    grants = run_sql(database_url, "SELECT amount FROM credit_grants WHERE user_id = :p0", newcomer.id)
    assert [int(g[0]) for g in grants] == [nanos("10")]  # an expiring grant


def test_starting_twice_at_once_gives_one_trial(newcomer: GwUser) -> None:
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: newcomer.client.post("/trials/start").status_code, range(4)))
    assert sorted(statuses) == [201, 409, 409, 409], statuses
    assert balance(newcomer.client)["balance"] == "10.000000000"


def test_aliases_of_one_address_get_one_trial(admin: httpx.Client, gateway: Any) -> None:
    name = f"jo.hn{secrets.token_hex(3)}"
    first = user_with_email(admin, gateway, f"{name}+ai@gmail.com", fresh_ip())
    second = user_with_email(admin, gateway, f"{name.replace('.', '')}@googlemail.com", fresh_ip())
    third = user_with_email(admin, gateway, f"{name}+other@example.org", fresh_ip())
    try:
        assert first.client.post("/trials/start").status_code == 201
        refused = second.client.post("/trials/start")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "trial_already_used"
        assert balance(second.client)["balance"] == "0.000000000"
        assert third.client.post("/trials/start").status_code == 201  # another domain, another address
    finally:
        for person in (first, second, third):
            person.client.close()


def test_at_most_three_trials_per_ip_per_day_even_at_once(admin: httpx.Client, gateway: Any) -> None:
    ip = fresh_ip()
    people = [user_with_email(admin, gateway, f"ip-{secrets.token_hex(5)}@example.com", ip) for _ in range(5)]
    try:
        with ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(lambda p: p.client.post("/trials/start"), people))
        assert sorted(a.status_code for a in answers) == [201, 201, 201, 429, 429]
        refused = next(a for a in answers if a.status_code == 429)
        assert refused.json()["error"]["code"] == "trial_limit_reached"
        for person, answer in zip(people, answers, strict=True):
            expected = "10.000000000" if answer.status_code == 201 else "0.000000000"
            assert balance(person.client)["balance"] == expected
            assert person.client.get("/trials/status").json()["status"] == ("active" if expected != "0.000000000"
                                                                            else "none")
        other = user_with_email(admin, gateway, f"ip-{secrets.token_hex(5)}@example.com", fresh_ip())
        assert other.client.post("/trials/start").status_code == 201  # another address is not limited
        other.client.close()
    finally:
        for person in people:
            person.client.close()


def test_status_counts_usage_and_what_is_left(newcomer: GwUser, fake_b: Any) -> None:
    assert newcomer.client.post("/trials/start").status_code == 201
    spent = newcomer.client.post("/v1/chat/completions", json={
        "model": "fakepriced/priced-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5})
    assert spent.status_code == 200, spent.text
    status = newcomer.client.get("/trials/status").json()
    assert status["requests"] == 1 and nanos(status["spent"]) > 0
    assert nanos(status["credits_remaining"]) == nanos("10") - nanos(status["spent"])
    assert balance(newcomer.client)["balance"] == status["credits_remaining"]


def test_who_cannot_start_a_trial(admin: httpx.Client, newcomer: GwUser, gateway: Any) -> None:
    sandbox = newcomer.client.post("/user/api-keys", json={"name": "s", "environment": "test"}).json()["key"]
    refused = httpx.post(f"{gateway.url}/trials/start", headers={"Authorization": f"Bearer {sandbox}"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "sandbox_key"
    not_eligible = make_plan(admin)
    wrong = newcomer.client.post("/trials/start", json={"plan_id": not_eligible["id"]})
    assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "plan_not_trial_eligible"
    assert newcomer.client.post("/trials/start", json={"plan_id": "x"}).status_code == 400
    assign(admin, newcomer.id, make_plan(admin)["id"])
    subscribed = newcomer.client.post("/trials/start")
    assert subscribed.status_code == 409 and subscribed.json()["error"]["code"] == "already_subscribed"
    assert httpx.post(f"{gateway.url}/trials/start").status_code == 401


def test_a_trial_of_another_eligible_plan_gives_its_entitlements(admin: httpx.Client, newcomer: GwUser) -> None:
    plan = make_plan(admin, trial_eligible=True, allowed_models=["fakebackup/*"])
    assert newcomer.client.post("/trials/start", json={"plan_id": plan["id"]}).status_code == 201
    refused = newcomer.client.post("/v1/chat/completions", json={
        "model": "fakeopenai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "model_not_in_plan"


def test_converting_to_a_free_plan_is_recorded_once(admin: httpx.Client, newcomer: GwUser) -> None:
    paid = make_plan(admin, price_monthly="20")
    free = make_plan(admin)
    assert newcomer.client.post("/trials/convert", json={"plan_id": free["id"]}).json()["error"]["code"] == "no_trial"
    assert newcomer.client.post("/trials/start").status_code == 201
    needs_payment = newcomer.client.post("/trials/convert", json={"plan_id": paid["id"]})
    assert needs_payment.status_code == 409 and needs_payment.json()["error"]["code"] == "payment_required"
    converted = newcomer.client.post("/trials/convert", json={"plan_id": free["id"]})
    assert converted.status_code == 200, converted.text
    assert converted.json()["status"] == "converted" and converted.json()["conversion"] == "plan"
    assert newcomer.client.get("/user/plan").json()["plan"]["id"] == free["id"]
    assert newcomer.client.post("/trials/convert", json={"plan_id": free["id"]}).status_code == 409
    assert balance(newcomer.client)["balance"] == "10.000000000"  # the trial's credits stay until they expire


def test_converting_twice_at_once_converts_once(admin: httpx.Client, newcomer: GwUser) -> None:
    hobby = make_plan(admin, credits_per_period="5")
    assert newcomer.client.post("/trials/start").status_code == 201
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: newcomer.client.post("/trials/convert", json={"plan_id": hobby["id"]}),
                                range(6)))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 5, [a.text for a in answers]
    assert balance(newcomer.client)["balance"] == "15.000000000"  # the trial's 10 and one period's 5


def test_a_password_sign_up_needs_a_verified_email_for_a_trial(anon: httpx.Client, gateway: Any) -> None:
    email = f"made-up-{secrets.token_hex(5)}@nowhere-{secrets.token_hex(3)}.example"
    signed = anon.post("/auth/signup", json={"email": email, "password": "correct horse battery"})
    assert signed.status_code == 201, signed.text
    key = signed.json()["api_key"]["key"]
    refused = httpx.post(f"{gateway.url}/trials/start", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "trial_needs_verified_email"
    status = httpx.get(f"{gateway.url}/trials/status", headers={"Authorization": f"Bearer {key}"})
    assert status.json()["status"] == "none"
    assert httpx.get(f"{gateway.url}/user/balance", headers={"Authorization": f"Bearer {key}"}).json()[
        "balance"] == "0.000000000"


def test_ipv6_clients_are_counted_per_48() -> None:
    from gatewayz.plans.trials import ip_bucket

    assert ip_bucket("2001:db8:1:2::5") == ip_bucket("2001:db8:1:ffff::9") == "2001:db8:1::/48"
    assert ip_bucket("::ffff:198.51.100.7") == "198.51.100.7" and ip_bucket("198.51.100.7") == "198.51.100.7"


def test_a_trial_is_in_the_export_and_erasure_forgets_its_address(newcomer: GwUser, database_url: str) -> None:
    import io
    import zipfile

    import orjson

    assert newcomer.client.post("/trials/start").status_code == 201
    exported = newcomer.client.post("/user/data-export")
    assert exported.status_code == 200, exported.text
    archive = zipfile.ZipFile(io.BytesIO(exported.content))
    trials = orjson.loads(archive.read("trials.json"))
    assert [t["user_id"] for t in trials] == [newcomer.id] and trials[0]["ip"]
    assert orjson.loads(archive.read("plan_subscriptions.json"))[0]["source"] == "trial"
    erased = newcomer.client.request("DELETE", "/user/account", json={"confirm": newcomer.email})
    assert erased.status_code == 200, erased.text
    row = run_sql(database_url, "SELECT email_key, email_domain, ip FROM trials WHERE user_id = :p0", newcomer.id)
    assert row[0][0].startswith("erased-") and row[0][1] == "erased" and row[0][2] is None
