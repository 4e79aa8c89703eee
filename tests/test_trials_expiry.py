"""A trial's end, on a gateway whose trials last 4 seconds: the reminder is emitted once, the plan
stops applying at the end, what is left of the credits leaves through an `expiry` ledger entry,
and a `trial_expired` event is recorded. Also: admin-assigned plans renew with their credits."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import settings_from_env
from tests.support.databases import backend, run_sql
from tests.support.identity import ADMIN_KEY
from tests.support.money import nanos
from tests.support.servers import ThreadedGateway

TRIAL_SECONDS = 4.0


@pytest.fixture(scope="module")
def short(base_env: dict[str, str], gateway: Any) -> Iterator[ThreadedGateway]:
    settings = settings_from_env(base_env, trial_days=TRIAL_SECONDS / 86400, trial_reminder_hours=3 / 3600,
                                 billing_job_interval_seconds=0.2, trials_per_ip_per_day=1000)
    server = ThreadedGateway(settings).start()
    yield server
    server.stop()


@pytest.fixture
def staff(short: ThreadedGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=short.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        yield client


def _user(staff: httpx.Client, short: ThreadedGateway) -> tuple[int, httpx.Client]:
    created = staff.post("/admin/users", json={"email": f"short-{secrets.token_hex(5)}@example.com"})
    assert created.status_code == 201, created.text
    key = created.json()["api_key"]["key"]
    return created.json()["user"]["id"], httpx.Client(base_url=short.url, headers={"Authorization": f"Bearer {key}"})


def _wait(check: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _events(client: httpx.Client, type_: str) -> list[dict[str, Any]]:
    return [e for e in client.get("/user/billing-events").json() if e["type"] == type_]


def test_the_end_of_a_trial(staff: httpx.Client, short: ThreadedGateway, database_url: str) -> None:
    plan = staff.post("/admin/plans", json={"slug": f"try-{secrets.token_hex(4)}", "name": "Try",
                                            "trial_eligible": True, "features": ["history"]}).json()
    user_id, client = _user(staff, short)
    with client:
        started = client.post("/trials/start", json={"plan_id": plan["id"]})
        assert started.status_code == 201, started.text
        sandbox = client.post("/user/api-keys", json={"name": "s", "environment": "test"}).json()["key"]
        image = {"model": "sandbox/image", "prompt": "a field"}
        images = httpx.post(f"{short.url}/v1/images/generations", json=image,
                            headers={"Authorization": f"Bearer {sandbox}"})
        assert images.status_code == 403  # the trial plan has no images
        _wait(lambda: len(_events(client, "trial_ending")) == 1, 3)
        reminder = _events(client, "trial_ending")[0]
        assert reminder["data"]["credits_remaining"] == "10.000000000"
        assert client.get("/user/plan").json()["plan"]["id"] == plan["id"]
        _wait(lambda: client.get("/user/plan").json()["default"] is True, TRIAL_SECONDS + 1)
        images = httpx.post(f"{short.url}/v1/images/generations", json=image,
                            headers={"Authorization": f"Bearer {sandbox}"})
        assert images.status_code == 200, images.text  # the default plan again, at once
        _wait(lambda: client.get("/trials/status").json()["status"] == "expired", 3)
        _wait(lambda: client.get("/user/balance").json()["balance"] == "0.000000000", 3)
        _wait(lambda: len(_events(client, "trial_expired")) == 1, 3)
        assert len(_events(client, "trial_ending")) == 1  # reminded once, by one of the job runs
        status = client.get("/trials/status").json()
        assert status["credits_remaining"] == "0.000000000" and status["seconds_left"] == 0
    rows = run_sql(database_url, "SELECT type, amount FROM credit_transactions WHERE user_id = :p0 ORDER BY id",
                   user_id)
    assert [(r[0], int(r[1])) for r in rows] == [("trial", nanos("10")), ("expiry", -nanos("10"))]
    audit = staff.get("/admin/audit-logs", params={"target_type": "user", "target_id": str(user_id)}).json()["data"]
    assert {"trial.start", "trial.expire"} <= {r["action"] for r in audit}


def test_an_assigned_plan_renews_with_its_credits_once_per_period(
    staff: httpx.Client, short: ThreadedGateway, database_url: str
) -> None:
    plan = staff.post("/admin/plans", json={"slug": f"renew-{secrets.token_hex(4)}", "name": "Renew",
                                            "credits_per_period": "1"}).json()
    user_id, client = _user(staff, short)
    with client:
        assert staff.post("/plans/assign", json={"user_id": user_id, "plan_id": plan["id"]}).status_code == 200
        assert client.get("/user/balance").json()["balance"] == "1.000000000"
        # the period is a month: move it back, as if the month had gone by (SQLite: in the stored format)
        def days_back(days: int) -> str:
            return (f"strftime('%Y-%m-%d %H:%M:%f000', current_period_start, '-{days} days')" if backend() == "sqlite"
                    else f"current_period_start - interval '{days} days'")

        run_sql(database_url, f"UPDATE plan_subscriptions SET current_period_start = {days_back(31)}, "
                f"current_period_end = {days_back(1)} WHERE user_id = :p0", user_id)
        _wait(lambda: client.get("/user/balance").json()["balance"] == "2.000000000", 3)
        time.sleep(0.6)  # several job runs later, still one grant for that period
        assert client.get("/user/balance").json()["balance"] == "2.000000000"
        sub = client.get("/user/plan").json()["subscription"]
        assert sub["current_period_start"] < sub["current_period_end"]
    grants = run_sql(database_url, "SELECT COUNT(*) FROM plan_credit_grants WHERE user_id = :p0", user_id)
    assert grants[0][0] == 2
    audit = staff.get("/admin/audit-logs", params={"target_type": "user", "target_id": str(user_id)}).json()["data"]
    assert [r["action"] for r in audit].count("plan.renew") == 1
