"""Money is never wrong when the caller, the provider or the database misbehave.

Regression tests of the security review: a reused x-request-id, a settlement that cannot be
written, negative or garbage published prices, usage that is not numbers, images, credit that
expires while it is held, long requests outliving the hold TTL, sandbox/live idempotency.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.conftest import providers_config, settings_from_env
from tests.fakeprovider import FakeProvider
from tests.support.clients import openai_client
from tests.support.databases import backend, run_sql
from tests.support.identity import UPSTREAM_KEY_B, GwUser
from tests.support.money import balance, grant, nanos
from tests.support.servers import ThreadedGateway

HELLO = [{"role": "user", "content": "hello there"}]
PRICED = {"model": "fakepriced/priced-model", "messages": HELLO, "max_tokens": 10}  # $0.001 per completion token
# the same request, answered after 3 s, and holding $0.50 meanwhile
SLOW = {**PRICED, "max_tokens": 500,
        "messages": [{"role": "user", "content": '[[fake:{"latency_ms": 3000}]] hello there'}]}




def _usage(database_url: str, request_id: str) -> list[tuple[Any, ...]]:
    return run_sql(
        database_url,
        "SELECT client_request_id, prompt_tokens, completion_tokens, cost, estimated, status "
        "FROM usage_records WHERE request_id = :p0",
        request_id,
    )


def _wait(predicate: Any, timeout: float = 8.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


# -- 1. the request id is the gateway's own ------------------------------------------------------


def test_a_reused_x_request_id_never_makes_a_request_free(
    gateway: Any, funded: GwUser, make_user: Any, admin: httpx.Client, database_url: str
) -> None:
    victim: GwUser = make_user()
    grant(admin, victim.id, "1")
    charged = []
    for person in (funded, funded, victim):  # the attacker pre-uses the victim's id, then the victim sends it
        with openai_client(gateway.url, person.key) as sdk:
            raw = sdk.chat.completions.with_raw_response.create(**PRICED, extra_headers={"x-request-id": "shared-1"})
        request_id = raw.headers["x-request-id"]
        assert request_id != "shared-1" and raw.headers["x-client-request-id"] == "shared-1"
        rows = _usage(database_url, request_id)
        assert len(rows) == 1 and rows[0][0] == "shared-1" and rows[0][3] > 0
        charged.append(request_id)
    assert len(set(charged)) == 3
    for person in (funded, victim):  # no hold lingers (what is held is at most a credit lease, given back when idle)
        leased = run_sql(database_url, "SELECT COALESCE(SUM(amount), 0) FROM credit_holds WHERE user_id = :p0 "
                                       "AND status = 'held' AND request_id LIKE 'lease:%'", person.id)
        assert nanos(balance(person.client)["held"]) == int(leased[0][0])
    assert nanos(balance(victim.client)["balance"]) == 1_000_000_000 - 3_000_000  # billed normally


# -- 1. a settlement that cannot be written is kept and completed later ---------------------------

_TRIGGERS = {
    "sqlite": (
        "CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN NEW.{column} = '{value}' "
        "BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
        "DROP TRIGGER IF EXISTS {name}",
    ),
    "postgres": (
        "CREATE OR REPLACE FUNCTION {name}_fn() RETURNS trigger AS $$ BEGIN "
        "IF NEW.{column} = '{value}' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ "
        "LANGUAGE plpgsql; CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {name}_fn()",
        "DROP TRIGGER IF EXISTS {name} ON {table}; DROP FUNCTION IF EXISTS {name}_fn()",
    ),
}


def _break_inserts(database_url: str, name: str, table: str, column: str, value: str) -> Any:
    """A real database failure for one request: a trigger refuses its row (no mocking)."""
    create, drop = _TRIGGERS[backend()]
    params = {"name": name, "table": table, "column": column, "value": value}
    for statement in create.format(**params).split("; CREATE"):
        run_sql(database_url, statement if statement.startswith("CREATE") else "CREATE" + statement)

    def repair() -> None:
        for statement in drop.format(**params).split("; "):
            run_sql(database_url, statement)

    return repair


@pytest.mark.parametrize("also_outbox", [False, True], ids=["kept-in-database", "kept-in-spool-file"])
def test_a_failed_settlement_is_kept_and_completed_never_free(
    gateway: Any, funded: GwUser, database_url: str, also_outbox: bool
) -> None:
    marker = f"settle-fails-{also_outbox}-{time.monotonic_ns()}"
    repairs = [_break_inserts(database_url, f"gwt_usage_{int(also_outbox)}", "usage_records",
                              "client_request_id", marker)]
    if also_outbox:  # the database cannot even keep it: the spool file in the data directory does
        repairs.append(_break_inserts(database_url, "gwt_pending", "pending_settlements", "user_id", str(funded.id)))
    try:
        with openai_client(gateway.url, funded.key) as sdk:
            raw = sdk.chat.completions.with_raw_response.create(**PRICED, extra_headers={"x-request-id": marker})
        assert raw.status_code == 200  # the answer went out
        request_id = raw.headers["x-request-id"]
        time.sleep(0.8)  # a few billing job runs: still failing, still kept
        assert _usage(database_url, request_id) == []
        if not also_outbox:
            kept = run_sql(database_url, "SELECT request_id FROM pending_settlements WHERE request_id = :p0",
                           request_id)
            assert kept == [(request_id,)]
    finally:
        for repair in repairs:
            repair()
    rows = _wait(lambda: _usage(database_url, request_id))
    assert rows and rows[0][3] == 3_000_000  # "Echo: hello there": 3 completion tokens at $0.001
    assert nanos(balance(funded.client)["balance"]) == 10_000_000_000 - 3_000_000
    assert _wait(lambda: not run_sql(database_url, "SELECT id FROM pending_settlements WHERE request_id = :p0",
                                     request_id))
    assert balance(funded.client)["held"] == "0.000000000"


# -- 2. published prices are input like any other ----------------------------------------------------


@pytest.fixture
def router_gateway(base_env: dict[str, str], upstream_a: FakeProvider, upstream_b: FakeProvider,
                   fake_b: FakeProvider) -> Iterator[ThreadedGateway]:
    """A gateway whose `fakerouter` provider publishes OpenRouter-style prices, read at its start."""
    fake_b.set(models=["auto", "nan-model", "dear-model", "fair-model"], pricing={
        "auto": {"prompt": "-1", "completion": "-1"},
        "nan-model": {"prompt": "NaN", "completion": "abc"},
        "dear-model": {"prompt": "5", "completion": "5"},  # $5M per 1M tokens: not believable
        "fair-model": {"prompt": "0.000001", "completion": "0.000002"},
    })
    providers = {**providers_config(upstream_a, upstream_b), "fakerouter": {
        "protocol": "openai", "base_url": upstream_b.openai_base_url, "api_key": UPSTREAM_KEY_B,
        "models_path": "/models"}}
    server = ThreadedGateway(settings_from_env(base_env, providers=providers)).start()
    yield server
    server.stop()


def test_negative_or_garbage_published_prices_mean_unpriced_never_free(
    router_gateway: ThreadedGateway, funded: GwUser, fake_b: FakeProvider
) -> None:
    with openai_client(router_gateway.url, funded.key) as sdk:
        for model in ("auto", "nan-model", "dear-model"):
            with pytest.raises(openai.BadRequestError) as refused:
                sdk.chat.completions.create(model=f"fakerouter/{model}", messages=HELLO)
            assert refused.value.code == "model_not_priced"
        fair = sdk.chat.completions.with_raw_response.create(model="fakerouter/fair-model", messages=HELLO)
    assert fair.headers["x-gatewayz-cost"] == "0.000008000"  # 2 prompt x $1e-6 + 3 completion x $2e-6
    assert [r.body["model"] for r in fake_b.requests if r.path.endswith("/chat/completions")] == ["fair-model"]


# -- 3. provider usage that is not numbers ----------------------------------------------------------


@pytest.mark.parametrize("usage", [
    {"prompt_tokens": "abc"},
    {"completion_tokens": -5},
    {"completion_tokens": 2**62},
    {"prompt_tokens": 1.5},
    {"prompt_tokens_details": {"cached_tokens": "x"}},
], ids=["string", "negative", "absurd", "fractional", "bad-details"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_garbage_usage_is_billed_from_the_estimate(
    gateway: Any, funded: GwUser, fake_b: FakeProvider, database_url: str, usage: dict[str, Any], stream: bool
) -> None:
    fake_b.set(usage_override=usage)
    response = httpx.post(f"{gateway.url}/v1/chat/completions", headers={"Authorization": f"Bearer {funded.key}"},
                          json={**PRICED, "stream": stream, "stream_options": {"include_usage": True}} if stream
                          else PRICED, timeout=10)
    assert response.status_code == 200
    if stream:
        assert response.text.rstrip().endswith("data: [DONE]")
    _, prompt, completion, cost, estimated, status = _usage(database_url, response.headers["x-request-id"])[0]
    assert (estimated, status) == (True, 200)
    assert completion >= 3 and cost == completion * 1_000_000  # "Echo: hello there", estimated from the text
    if stream:
        shown = [orjson.loads(line[6:]) for line in response.text.splitlines()
                 if line.startswith("data: {") and '"usage":{' in line.replace(" ", "")][-1]["usage"]
    else:
        shown = response.json()["usage"]
    # the client is shown what was billed, not the provider's garbage
    assert (shown["prompt_tokens"], shown["completion_tokens"], shown["total_tokens"]) == (
        prompt, completion, prompt + completion)
    assert balance(funded.client)["held"] == "0.000000000"


# -- 7. images: held as providers bill them, and per-image prices charged ---------------------------


def _vision(images: int) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": "what is this"}]
    parts += [{"type": "image_url", "image_url": {"url": f"https://example.com/{i}.png"}} for i in range(images)]
    return {"model": "fakevision/vision-model", "messages": [{"role": "user", "content": parts}], "max_tokens": 10}


def test_image_inputs_are_held_as_billed_and_priced_per_image(
    gateway: Any, make_user: Any, admin: httpx.Client, funded: GwUser, fake_b: FakeProvider, database_url: str
) -> None:
    small: GwUser = make_user()
    grant(admin, small.id, "0.50")
    with openai_client(gateway.url, small.key) as sdk, pytest.raises(openai.APIStatusError) as refused:
        sdk.chat.completions.create(**_vision(1))  # 3,000 tokens x $0.0001 + $0.25: more than $0.50
    assert refused.value.status_code == 402
    assert fake_b.requests == []
    with openai_client(gateway.url, funded.key) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(**_vision(2))
    _, prompt, completion, cost, _, _ = _usage(database_url, raw.headers["x-request-id"])[0]
    assert cost == (prompt + completion) * 100_000 + 2 * 250_000_000


# -- 8. credit that expires while held ----------------------------------------------------------------


def test_credit_held_when_its_grant_expires_still_expires(
    gateway: Any, user: GwUser, admin: httpx.Client, fake_b: FakeProvider
) -> None:
    expires = datetime.now(UTC) + timedelta(seconds=1.5)
    grant(admin, user.id, "0.60", expires_at=expires.isoformat())

    def request() -> None:
        with openai_client(gateway.url, user.key, timeout=20) as sdk:
            sdk.chat.completions.create(**SLOW)

    worker = threading.Thread(target=request)
    worker.start()
    assert _wait(lambda: balance(user.client)["held"] == "0.500000000", 3)
    # the grant expires and the job runs while the request is in flight: what it held is not spendable
    assert _wait(lambda: user.client.get("/user/credit-transactions", params={"type": "expiry"}).json()["data"], 2)
    assert balance(user.client)["available"] == "0.000000000"
    worker.join()
    # the request settled ($0.003); everything else of the expired grant must go, nothing spendable stays
    after = _wait(lambda: (b := balance(user.client))["balance"] == "0.000000000" and b, 5)
    assert after and after["available"] == "0.000000000"
    expiries = user.client.get("/user/credit-transactions", params={"type": "expiry"}).json()["data"]
    assert sum(nanos(e["amount"]) for e in expiries) == -(600_000_000 - 3_000_000)
    with openai_client(gateway.url, user.key) as sdk, pytest.raises(openai.APIStatusError) as refused:
        sdk.chat.completions.create(**PRICED)
    assert refused.value.status_code == 402


# -- the sweeper never releases the hold of a request that is still running ------------------------


def test_a_long_request_keeps_its_hold_past_the_ttl(
    base_env: dict[str, str], upstream_a: FakeProvider, upstream_b: FakeProvider, fake_b: FakeProvider,
    user: GwUser, admin: httpx.Client, database_url: str,
) -> None:
    settings = settings_from_env(base_env, providers=providers_config(upstream_a, upstream_b),
                                 credit_hold_ttl_seconds=1.0, billing_job_interval_seconds=0.2)
    server = ThreadedGateway(settings).start()
    try:
        grant(admin, user.id, "0.60")
        done: list[Any] = []

        def request() -> None:
            with openai_client(server.url, user.key, timeout=20) as sdk:
                done.append(sdk.chat.completions.with_raw_response.create(**SLOW))

        worker = threading.Thread(target=request)
        worker.start()
        time.sleep(2.2)  # twice the TTL: the sweeper ran many times meanwhile
        assert balance(user.client)["held"] == "0.500000000"
        worker.join()
        request_id = done[0].headers["x-request-id"]
        assert run_sql(database_url, "SELECT status FROM credit_holds WHERE request_id = :p0", request_id) == [
            ("settled",)]
    finally:
        server.stop()


# -- 15. sandbox and live answers never cross ---------------------------------------------------------


def test_idempotency_is_kept_apart_per_key_environment(gateway: Any, funded: GwUser, fake_a: FakeProvider) -> None:
    test_key = funded.client.post("/user/api-keys", json={"name": "sandbox", "environment": "test"}).json()["key"]
    body = {"model": "fakeopenai/gpt-4o-mini", "messages": HELLO}
    headers = {"Idempotency-Key": "shared-idem-key"}
    live = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=10,
                      headers={**headers, "Authorization": f"Bearer {funded.key}"})
    assert live.status_code == 200
    sandbox = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=10,
                         headers={**headers, "Authorization": f"Bearer {test_key}"})
    assert sandbox.headers.get("idempotent-replayed") != "true"
    assert sandbox.headers.get("x-gatewayz-provider") != "fakeopenai"
    again = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=10,
                       headers={**headers, "Authorization": f"Bearer {funded.key}"})
    assert again.headers["idempotent-replayed"] == "true" and again.json() == live.json()


def test_an_answer_without_usage_shows_what_was_billed(
    gateway: Any, funded: GwUser, fake_a: FakeProvider, database_url: str
) -> None:
    fake_a.set(omit_usage=True)
    response = funded.client.post("/v1/embeddings", json={"model": "fakeopenai/text-embedding-3-small",
                                                         "input": "x" * 300})
    assert response.status_code == 200, response.text
    _, prompt, _, cost, estimated, _ = _usage(database_url, response.headers["x-request-id"])[0]
    assert estimated and prompt == 100 and cost > 0  # 300 characters at ~3 a token
    assert response.json()["usage"]["prompt_tokens"] == prompt == response.json()["usage"]["total_tokens"]
