"""Billing a request: hold, settle at the actual cost, 402, failures, failover, streams, sandbox."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest

from tests.fakeprovider import FakeProvider
from tests.support.clients import openai_client
from tests.support.databases import run_sql
from tests.support.identity import GwUser
from tests.support.money import balance, nanos

HELLO = [{"role": "user", "content": "hello there"}]




def _sdk(gateway: Any, person: GwUser) -> openai.OpenAI:
    return openai_client(gateway.url, person.key)


def _usage_rows(database_url: str, request_id: str) -> list[tuple[Any, ...]]:
    return run_sql(
        database_url,
        "SELECT provider, prompt_tokens, completion_tokens, cost, estimated, status "
        "FROM usage_records WHERE request_id = :p0",
        request_id,
    )


def _ledger_rows(database_url: str, request_id: str) -> list[tuple[Any, ...]]:
    return run_sql(database_url, "SELECT type, amount FROM credit_transactions WHERE reference = :p0", request_id)


def test_a_request_is_charged_exactly_its_cost(gateway: Any, funded: GwUser, database_url: str) -> None:
    with _sdk(gateway, funded) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(model="fakeopenai/gpt-4o-mini", messages=HELLO)
    completion = raw.parse()
    # default price of gpt-4o-mini: $0.15 / $0.60 per 1M tokens; the fake counts 2 prompt, 3 completion tokens
    expected = 2 * 150 + 3 * 600
    assert raw.headers["x-gatewayz-cost"] == "0.000002100"
    assert completion.usage is not None and completion.usage.model_extra["cost"] == pytest.approx(expected / 1e9)
    request_id = raw.headers["x-request-id"]
    assert _usage_rows(database_url, request_id) == [("fakeopenai", 2, 3, expected, False, 200)]
    assert _ledger_rows(database_url, request_id) == [("usage", -expected)]
    now = balance(funded.client)
    assert nanos(now["balance"]) == 10_000_000_000 - expected
    assert now["held"] == "0.000000000"


def test_not_enough_credits_is_402_insufficient_quota(gateway: Any, make_user: Any, fake_a: FakeProvider) -> None:
    broke: GwUser = make_user()
    with _sdk(gateway, broke) as sdk, pytest.raises(openai.APIStatusError) as raised:
        sdk.chat.completions.create(model="fakeopenai/gpt-4o-mini", messages=HELLO)
    assert raised.value.status_code == 402
    assert raised.value.response.json()["error"]["type"] == "insufficient_quota"
    assert fake_a.requests == []  # refused before any provider was called


def test_upstream_failure_costs_nothing(gateway: Any, funded: GwUser, fake_a: FakeProvider, database_url: str) -> None:
    fake_a.set(status=500)
    with _sdk(gateway, funded) as sdk, pytest.raises(openai.InternalServerError) as raised:
        sdk.chat.completions.create(
            model="fakeopenai/gpt-4o-mini", messages=HELLO, extra_body={"provider": "fakeopenai"}
        )
    request_id = raised.value.response.headers["x-request-id"]
    assert _ledger_rows(database_url, request_id) == []
    rows = _usage_rows(database_url, request_id)
    assert rows and rows[0][3] == 0 and rows[0][5] == 502
    now = balance(funded.client)
    assert now["balance"] == "10.000000000" and now["held"] == "0.000000000"


def test_failover_is_billed_once_at_the_provider_that_answered(
    gateway: Any, funded: GwUser, fake_a: FakeProvider, database_url: str
) -> None:
    fake_a.set(status=503)
    with _sdk(gateway, funded) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=HELLO, extra_body={"provider": {"order": ["fakeopenai", "fakebackup"]}}
        )
    assert raw.headers["x-gatewayz-provider"] == "fakebackup"
    expected = 2 * 1000 + 3 * 2000  # fakebackup's configured price: $1 / $2 per 1M tokens
    request_id = raw.headers["x-request-id"]
    assert _ledger_rows(database_url, request_id) == [("usage", -expected)]
    assert _usage_rows(database_url, request_id)[0][0] == "fakebackup"


def test_streaming_is_billed_from_the_final_usage(gateway: Any, funded: GwUser, database_url: str) -> None:
    with _sdk(gateway, funded) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(
            model="fakeanthropic/claude-haiku-4-5",
            messages=HELLO,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(raw.parse())
    usage = chunks[-1].usage
    assert usage is not None
    expected = usage.prompt_tokens * 1000 + usage.completion_tokens * 5000  # claude-haiku-4-5 default price
    assert usage.model_extra["cost"] == pytest.approx(expected / 1e9)
    assert _ledger_rows(database_url, raw.headers["x-request-id"]) == [("usage", -expected)]


def test_stream_cut_by_the_client_is_billed_for_what_was_generated_once(
    gateway: Any, funded: GwUser, fake_a: FakeProvider, database_url: str
) -> None:
    fake_a.set(chunk_delay_ms=150, reply=" ".join(f"word{i}" for i in range(60)))
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {funded.key}"},
        json={"model": "fakeopenai/gpt-4o-mini", "messages": HELLO, "stream": True},
    ) as response:
        request_id = response.headers["x-request-id"]
        seen = 0
        for line in response.iter_lines():
            if line.startswith("data:"):
                seen += 1
            if seen == 6:
                break
    fake_a.wait_for_disconnect()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not _usage_rows(database_url, request_id):
        time.sleep(0.05)
    provider, prompt, completion, cost, estimated, status = _usage_rows(database_url, request_id)[0]
    assert (provider, estimated, status) == ("fakeopenai", True, 499)
    assert 1 <= completion < 60  # what was relayed, not the whole answer
    assert cost == prompt * 150 + completion * 600
    assert _ledger_rows(database_url, request_id) == [("usage", -cost)]
    assert balance(funded.client)["held"] == "0.000000000"


def test_sandbox_requests_are_recorded_at_zero_cost(gateway: Any, funded: GwUser, database_url: str) -> None:
    test_key = funded.client.post("/user/api-keys", json={"name": "sandbox", "environment": "test"}).json()["key"]
    with openai_client(gateway.url, test_key) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(model="sandbox/chat", messages=HELLO)
    rows = _usage_rows(database_url, raw.headers["x-request-id"])
    assert rows and rows[0][0] == "sandbox" and rows[0][3] == 0 and rows[0][1] > 0
    assert _ledger_rows(database_url, raw.headers["x-request-id"]) == []


def test_unpriced_models_are_refused(gateway: Any, funded: GwUser, fake_a: FakeProvider) -> None:
    with _sdk(gateway, funded) as sdk, pytest.raises(openai.BadRequestError) as raised:
        sdk.chat.completions.create(model="fakeopenai/some-unpriced-model", messages=HELLO)
    assert raised.value.response.json()["error"]["code"] == "model_not_priced"
    assert fake_a.requests == []


def test_key_spend_cap(gateway: Any, funded: GwUser) -> None:
    capped = funded.client.post(
        "/user/api-keys", json={"name": "capped", "max_budget": "0.025", "budget_period": "daily"}
    ).json()
    assert capped["max_budget"] == "0.025000000" and capped["budget_period"] == "daily"
    body = {"model": "fakepriced/priced-model", "messages": HELLO, "max_tokens": 10}  # holds $0.01 each
    with openai_client(gateway.url, capped["key"]) as sdk:
        statuses = []
        for _ in range(8):
            try:
                sdk.chat.completions.create(**body)
                statuses.append(200)
            except openai.APIStatusError as exc:
                statuses.append(exc.status_code)
                assert exc.response.json()["error"]["code"] == "key_budget_exceeded"
    # each request really costs $0.003 (3 tokens) and holds $0.01: admitted while spent + $0.01 <= $0.025
    assert statuses == [200] * 6 + [402] * 2
