"""The gateway keeps the contract of its own /openapi.json (schemathesis, over real HTTP).

Every operation of the document is called with generated requests, as the bootstrap admin (so the
admin routes are exercised), and each answer must be:
- never a 5xx (`not_a_server_error`);
- a status the document lists for that operation (`status_code_conformance`);
- a body that matches the documented schema of that status (`response_schema_conformance`);
- for requests that break the document (negative mode), a 4xx (`negative_data_rejection`).

The inference operations are called with `model` forced to a fake-provider model and `stream` off,
in positive mode only: their schemas are documentation (the hot path forwards what it does not
itself need to the provider, unvalidated), so a request the schema forbids is not necessarily one
the gateway refuses. Destructive calls that would wreck the shared session are steered to a
dedicated user: key management (`/user/api-keys*`) authenticates as that user and never touches its
own key, and any admin operation naming the admin user (by path or `user_id`) names that user instead.

Bounded for CI: a fixed seed and GATEWAYZ_CONTRACT_EXAMPLES examples per operation and mode
(default 25). Locally, e.g. `GATEWAYZ_CONTRACT_EXAMPLES=500 pytest tests/contract/test_own_openapi.py`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.identity import ADMIN_KEY

EXAMPLES = int(os.environ.get("GATEWAYZ_CONTRACT_EXAMPLES", "25"))
SEED = int(os.environ.get("GATEWAYZ_CONTRACT_SEED", "20261202"))
MODEL = "fakeopenai/gpt-4o-mini"
INFERENCE = ("/v1/chat/completions", "/v1/embeddings")
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
    database=None,
    suppress_health_check=list(HealthCheck),
)


class Accounts:
    """The admin (who calls) and the dedicated user that destructive calls are steered to."""

    def __init__(self, gateway: Any) -> None:
        with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
            self.admin_id = admin.get("/admin/users", params={"email": "admin@example.com"}).json()["data"][0]["id"]
            created = admin.post("/admin/users", json={"email": "contract-victim@example.com"})
            if created.status_code == 409:  # a second run against the same database
                victim = admin.get("/admin/users", params={"email": "contract-victim@example.com"}).json()["data"][0]
                raise RuntimeError(f"contract user {victim['id']} exists already; use a fresh database")
            assert created.status_code == 201, created.text
            body = created.json()
        self.victim_id: int = body["user"]["id"]
        self.victim_key: str = body["api_key"]["key"]
        self.victim_key_id: int = body["api_key"]["id"]
        with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {self.victim_key}"}) as client:
            spare = client.post("/user/api-keys", json={"name": "contract spare"})
            assert spare.status_code == 201, spare.text
        self.spare_key_id: int = spare.json()["id"]


# A whole-document run takes a minute or two on a busy 2-core machine (every operation, 25 examples
# each): more than the suite's per-test timeout, which is meant for single requests.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def accounts(gateway: Any) -> Accounts:
    return Accounts(gateway)


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _operations(gateway: Any) -> list[Any]:
    loaded = schemathesis.openapi.from_url(gateway.url + "/openapi.json")
    return [result.ok() for result in loaded.get_all_operations()]


def _steer(case: Any, accounts: Accounts) -> dict[str, str]:
    """Keep the shared session usable; return the Authorization header to call with."""
    path: str = case.path
    params = case.path_parameters or {}
    if params.get("user_id") == accounts.admin_id:
        params["user_id"] = accounts.victim_id
    if isinstance(case.body, dict) and case.body.get("user_id") == accounts.admin_id:
        case.body["user_id"] = accounts.victim_id
    if path in INFERENCE and isinstance(case.body, dict):
        case.body["model"] = MODEL
        case.body["stream"] = False
        case.body.pop("stream_options", None)
        case.body.pop("provider", None)
        case.body.pop("models", None)
    if path.startswith("/user/api-keys"):
        if params.get("key_id") == accounts.victim_key_id:
            params["key_id"] = accounts.spare_key_id
        return {"Authorization": f"Bearer {accounts.victim_key}"}
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


def assert_contract_kept(gateway: Any, accounts: Accounts, http: requests.Session, mode: GenerationMode) -> None:
    """Every operation, EXAMPLES cases each; all the operations' failures are reported together."""
    checks = [*CHECKS, negative_data_rejection] if mode is GenerationMode.NEGATIVE else CHECKS
    failures: list[str] = []
    calls: dict[str, int] = {}
    for operation in _operations(gateway):
        if mode is GenerationMode.NEGATIVE and operation.path in INFERENCE:
            continue

        @BOUNDED
        @seed(SEED)
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            headers = _steer(case, accounts)
            calls[case.operation.label] = calls.get(case.operation.label, 0) + 1
            try:
                case.call_and_validate(session=http, headers=headers, checks=checks, timeout=30)
            except requests.Timeout as exc:
                raise AssertionError(f"no answer within 30 s to: {case.as_curl_command(headers)}") from exc

        try:
            run()
        except Unsatisfiable:  # negative mode, and nothing of this operation can be invalid (no parameters)
            continue
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis' failure text holds the curl to reproduce
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    print(f"{mode}: {sum(calls.values())} requests", calls)
    if mode is GenerationMode.POSITIVE:  # every operation was really exercised
        assert len(calls) == len(_operations(gateway)) and min(calls.values()) >= 1, calls


def test_positive_requests_keep_the_contract(gateway: Any, accounts: Accounts, http: requests.Session) -> None:
    assert_contract_kept(gateway, accounts, http, GenerationMode.POSITIVE)


def test_invalid_requests_are_refused_by_the_contract(
    gateway: Any, accounts: Accounts, http: requests.Session
) -> None:
    assert_contract_kept(gateway, accounts, http, GenerationMode.NEGATIVE)
