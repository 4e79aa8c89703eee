"""The audit trail from outside: key and account changes, credit grants and refunds each leave one
record written with the change (changed fields only, no secret, who/where/which request); a user sees
their own trail and nobody else's; admins page and filter everything, and export it as CSV."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import httpx

from tests.support.identity import GwUser


def _records(client: httpx.Client, path: str = "/user/audit-logs", **params: Any) -> list[dict[str, Any]]:
    response = client.get(path, params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def test_key_changes_are_audited_with_the_changed_fields_and_no_secret(make_user: Any) -> None:
    person: GwUser = make_user()
    client = person.client
    created = client.post("/user/api-keys", json={"name": "ci", "scopes": ["inference"]},
                          headers={"user-agent": "audit-test/1", "x-request-id": "audit-req-1"})
    assert created.status_code == 201, created.text
    key_id, plaintext = created.json()["id"], created.json()["key"]
    assert client.patch(f"/user/api-keys/{key_id}", json={"name": "ci-2"}).status_code == 200
    rotated = client.post(f"/user/api-keys/{key_id}/rotate")
    assert rotated.status_code == 200, rotated.text
    assert client.delete(f"/user/api-keys/{key_id}").status_code == 200
    widened = client.patch(f"/user/api-keys/{key_id}", json={"scopes": ["admin"]})  # refused: no record
    assert widened.status_code in (400, 403, 404), widened.text

    trail = [r for r in _records(client) if r["target_id"] == str(key_id)]
    assert [r["action"] for r in trail] == ["api_key.revoke", "api_key.rotate", "api_key.update", "api_key.create"]
    revoke, _, update, create = trail
    assert update["before"] == {"name": "ci"} and update["after"] == {"name": "ci-2"}
    assert revoke["before"]["revoked"] is False and revoke["after"]["revoked"] is True
    assert create["before"] is None and create["after"]["scopes"] == ["inference"]
    assert create["actor_user_id"] == person.id and create["actor_key_id"] == person.key_id
    assert create["user_agent"] == "audit-test/1" and create["ip"] == "127.0.0.1"
    assert create["request_id"] and create["target_type"] == "api_key"
    text = str(trail)
    for secret in (plaintext, rotated.json()["key"]):
        assert secret not in text and secret[-12:] not in text  # neither key, nor its tail


def test_a_user_sees_their_own_trail_and_not_anothers(make_user: Any, admin: httpx.Client) -> None:
    alice: GwUser = make_user()
    bob: GwUser = make_user()
    assert alice.client.post("/user/api-keys", json={"name": "alice-key"}).status_code == 201
    granted = admin.post("/admin/credits", json={"user_id": bob.id, "amount": "2.5", "reason": "welcome"})
    assert granted.status_code == 201, granted.text
    assert admin.patch(f"/admin/users/{bob.id}", json={"name": "Bob"}).status_code == 200
    bobs = _records(bob.client)
    assert [r["action"] for r in bobs] == ["user.update", "credits.grant", "user.create"]  # done to him
    assert (bobs[0]["before"], bobs[0]["after"]) == ({"name": None}, {"name": "Bob"})
    grant = bobs[1]
    assert grant["after"]["amount"] == "2.500000000" and grant["after"]["reason"] == "welcome"
    assert grant["actor_user_id"] != bob.id and grant["target_id"] == str(bob.id)
    assert all(r["actor_user_id"] != alice.id and r["target_id"] != str(alice.id) for r in bobs)
    assert not [r for r in _records(alice.client) if r["target_id"] == str(bob.id)]
    # an admin finds the grant by action and target
    found = _records(admin, "/admin/audit-logs", action="credits.grant", target_type="user", target_id=str(bob.id))
    assert [r["id"] for r in found] == [grant["id"]]
    assert _records(admin, "/admin/audit-logs", action="credits.", target_id=str(bob.id))[0]["id"] == grant["id"]
    refused = bob.client.get("/admin/audit-logs")
    assert refused.status_code == 403 and refused.json()["error"]["type"]


def test_admin_pages_by_cursor_and_exports_csv(make_user: Any, admin: httpx.Client) -> None:
    person: GwUser = make_user()
    for index in range(5):
        assert person.client.post("/user/api-keys", json={"name": f"k{index}"}).status_code == 201
    everything = [r["id"] for r in _records(admin, "/admin/audit-logs", actor_user_id=person.id)]
    assert len(everything) == 5 and everything == sorted(everything, reverse=True)
    seen: list[int] = []
    params: dict[str, Any] = {"actor_user_id": person.id, "limit": 2}
    while True:
        page = admin.get("/admin/audit-logs", params=params).json()
        seen += [r["id"] for r in page["data"]]
        if not page["has_more"]:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == everything
    exported = admin.get("/admin/audit-logs", params={"actor_user_id": person.id, "format": "csv"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [int(r["id"]) for r in rows] == everything and rows[0]["action"] == "api_key.create"
    for bad in ({"limit": 501}, {"since": "yesterday"}, {"format": "xml"}, {"cursor": -1}):
        response = admin.get("/admin/audit-logs", params=bad)
        assert response.status_code == 400, (bad, response.text)


def test_the_compliance_report_counts_what_happened_in_its_range(make_user: Any, admin: httpx.Client) -> None:
    def counts(**params: Any) -> dict[str, int]:
        response = admin.get("/admin/compliance/report", params=params)
        assert response.status_code == 200, response.text
        return response.json()["counts"]  # type: ignore[no-any-return]

    before = counts()
    person: GwUser = make_user()
    created = person.client.post("/user/api-keys", json={"name": "c"}).json()
    assert person.client.delete(f"/user/api-keys/{created['id']}").status_code == 200
    assert httpx.get(f"{person.client.base_url}/user/balance", headers={"Authorization": "Bearer gw_live_nope"}
                     ).status_code == 401
    deadline = time.monotonic() + 5  # security events are written in the background
    while (after := counts())["refused_requests"] == before["refused_requests"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert after["key_creations"] - before["key_creations"] == 1
    assert after["key_revocations"] - before["key_revocations"] == 1
    assert after["account_creations"] - before["account_creations"] == 1
    assert after["refused_requests"] - before["refused_requests"] >= 1
    assert counts(since="2000-01-01T00:00:00Z", until="2000-02-01T00:00:00Z")["audit_records"] == 0
    exported = admin.get("/admin/compliance/report", params={"format": "csv"})
    assert exported.text.splitlines()[0] == "metric,count,since,until" and "key_creations," in exported.text
    assert admin.get("/admin/compliance/report", params={"since": "2030-01-01T00:00:00Z",
                                                           "until": "2029-01-01T00:00:00Z"}).status_code == 400
    assert person.client.get("/admin/compliance/report").status_code == 403


def test_rate_limit_and_threshold_changes_are_audited(user: GwUser, admin: httpx.Client) -> None:
    limited = admin.put(f"/admin/users/{user.id}/rate-limits", json={"requests_per_minute": 7})
    assert limited.status_code == 200, limited.text
    assert user.client.patch("/user/balance", json={"low_balance_threshold": "2.5"}).status_code == 200
    rows = admin.get("/admin/audit-logs", params={"target_type": "user", "target_id": str(user.id)}).json()["data"]
    by_action = {r["action"]: r for r in rows}
    assert by_action["user.rate_limits.set"]["after"]["rate_limits"]["requests_per_minute"] == 7
    assert by_action["user.rate_limits.set"]["before"] == {"rate_limits": None}
    assert by_action["credits.threshold.set"]["actor_user_id"] == user.id
    assert by_action["credits.threshold.set"]["after"] == {"low_balance_threshold": "2.500000000"}
    mine = user.client.get("/user/audit-logs").json()["data"]
    assert {"user.rate_limits.set", "credits.threshold.set"} <= {r["action"] for r in mine}  # done to them, and by them
