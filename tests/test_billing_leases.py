"""Credit leases and the group commit (billing/leases.py, billing/batch.py), from outside.

Concurrent requests of one user are admitted from a lease and settled in shared transactions;
the money must come out exactly as with one hold per request: every answered request charged
once, nothing overspent at the end of a balance (in one process or two), the ledger chained, and
what a killed process leased given back by the next one.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakeprovider import FakeProvider
from tests.support.databases import run_sql
from tests.support.identity import ADMIN_KEY, UPSTREAM_KEY_B
from tests.support.money import assert_ledgers_balance, funded_user, nanos, priced_config
from tests.support.servers import GatewayProcess, gateway_processes

BODY = {"model": "fakepriced/priced-model", "messages": [{"role": "user", "content": "go"}], "max_tokens": 10}
COST = 10_000_000  # $0.01: the fake answers max_tokens words, so each request costs exactly its hold
CONCURRENCY = 64


def _config(tmp_root: Path, upstream: FakeProvider) -> Path:
    return priced_config(tmp_root / "leases.toml", upstream.openai_base_url, UPSTREAM_KEY_B)


def _env(base_env: dict[str, str], config: Path, **extra: str) -> dict[str, str]:
    return {
        **base_env,
        "GATEWAYZ_CONFIG": str(config),
        "GATEWAYZ_BILLING_JOB_INTERVAL_SECONDS": "0.3",
        "GATEWAYZ_CREDIT_LEASE_IDLE_SECONDS": "0.3",
        **extra,
    }


@pytest.fixture
def processes(base_env: dict[str, str], upstream_b: FakeProvider, tmp_root: Path, fake_b: FakeProvider,
              request: pytest.FixtureRequest) -> Iterator[list[GatewayProcess]]:
    fake_b.set(reply=" ".join(["word"] * 50))
    env = _env(base_env, _config(tmp_root, upstream_b))
    with gateway_processes(env, getattr(request, "param", 1), log_dir=tmp_root) as started:
        yield started


def _funded_user(url: str, requests_worth: int) -> tuple[int, str]:
    return funded_user(url, str(requests_worth * COST / 1e9))


async def _fire(urls: list[str], key: str, total: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(index: int) -> httpx.Response:
            async with gate:
                return await client.post(f"{urls[index % len(urls)]}/v1/chat/completions", json=BODY,
                                         headers={"Authorization": f"Bearer {key}"})

        return list(await asyncio.gather(*(one(i) for i in range(total))))


def _account(url: str, key: str) -> tuple[int, int]:
    state = httpx.get(f"{url}/user/balance", headers={"Authorization": f"Bearer {key}"}).json()
    return nanos(state["balance"]), nanos(state["held"])


def _settled(url: str, key: str, timeout: float = 10.0) -> tuple[int, int]:
    """(balance, held) once every lease went back (held 0)."""
    deadline = time.monotonic() + timeout
    while True:
        balance, held = _account(url, key)
        if held == 0 or time.monotonic() > deadline:
            return balance, held
        time.sleep(0.1)


def _leases(database_url: str, user_id: int) -> int:
    rows = run_sql(database_url, f"SELECT COUNT(*) FROM credit_holds WHERE user_id = {int(user_id)} "
                                 "AND request_id LIKE 'lease:%'")
    return int(rows[0][0])


def _held(database_url: str, user_id: int) -> int:
    return int(run_sql(database_url, f"SELECT held FROM credit_accounts WHERE user_id = {int(user_id)}")[0][0])


def _assert_chained(database_url: str, user_id: int) -> None:
    """Each ledger row starts where the one before it ended (charges written in shared transactions)."""
    rows = run_sql(database_url, "SELECT balance_before, balance_after FROM credit_transactions "
                                 f"WHERE user_id = {int(user_id)} ORDER BY id")
    for previous, row in itertools.pairwise(rows):
        assert int(row[0]) == int(previous[1]), (previous, row)


def _usage(database_url: str, user_id: int) -> dict[str, int]:
    rows = run_sql(database_url, f"SELECT request_id, cost FROM usage_records WHERE user_id = {int(user_id)}")
    return {str(r[0]): int(r[1]) for r in rows}


def test_concurrent_requests_on_a_lease_are_each_charged_exactly_once(
    processes: list[GatewayProcess], database_url: str
) -> None:
    url = processes[0].url
    user_id, key = _funded_user(url, 1000)
    responses = asyncio.run(_fire([url], key, 300))
    assert Counter(r.status_code for r in responses) == {200: 300}
    assert all(r.headers["x-gatewayz-cost"] == "0.010000000" for r in responses)
    assert _leases(database_url, user_id) >= 1  # the concurrent requests were admitted from a lease
    billing = httpx.get(f"{url}/health/ready", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json()
    billing = billing["checks"]["billing"]
    # settled by the group commit, some commits carrying several (the exact count depends on timing;
    # tests/test_settlement_batch.py shows forty requests ready together written in one commit)
    assert 0 < billing["group_commits"] < billing["grouped_settlements"] <= 300
    assert _settled(url, key) == (700 * COST, 0)  # and the lease went back once idle
    usage = _usage(database_url, user_id)
    assert sorted(usage) == sorted(r.headers["x-request-id"] for r in responses)
    assert set(usage.values()) == {COST}
    charges = run_sql(database_url, "SELECT COUNT(*), SUM(amount) FROM credit_transactions "
                                    f"WHERE user_id = {int(user_id)} AND type = 'usage'")
    assert (int(charges[0][0]), int(charges[0][1])) == (300, -300 * COST)
    _assert_chained(database_url, user_id)
    assert_ledgers_balance(database_url)


def test_requests_in_sequence_lease_after_the_first_and_are_charged_exactly(
    processes: list[GatewayProcess], database_url: str
) -> None:
    url = processes[0].url
    user_id, key = _funded_user(url, 1000)
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        ids = []
        for _ in range(20):  # one at a time, as a script looping over prompts sends them
            response = client.post(f"{url}/v1/chat/completions", json=BODY)
            assert response.status_code == 200, response.text
            ids.append(response.headers["x-request-id"])
    exact = run_sql(database_url, f"SELECT request_id FROM credit_holds WHERE user_id = {int(user_id)} "
                                  "AND request_id NOT LIKE 'lease:%'")
    assert [r[0] for r in exact] == ids[:1]  # only the first held on its own; the rest came from a lease
    assert _leases(database_url, user_id) >= 1
    assert _settled(url, key) == (980 * COST, 0)  # charged exactly, and the idle lease went back
    assert set(_usage(database_url, user_id).values()) == {COST}
    _assert_chained(database_url, user_id)
    assert_ledgers_balance(database_url)


def test_the_end_of_a_balance_is_never_overspent_from_a_lease(
    processes: list[GatewayProcess], database_url: str
) -> None:
    url = processes[0].url
    user_id, key = _funded_user(url, 100)  # leases while 64+ requests' worth is left, exact holds after
    outcome = Counter(r.status_code for r in asyncio.run(_fire([url], key, 300)))
    assert outcome == {200: 100, 402: 200}, outcome
    assert _leases(database_url, user_id) >= 1
    assert _settled(url, key) == (0, 0)
    _assert_chained(database_url, user_id)
    assert_ledgers_balance(database_url)


@pytest.mark.parametrize("processes", [2], indirect=True)
def test_two_processes_with_leases_never_overspend_and_lose_nothing(
    processes: list[GatewayProcess], database_url: str
) -> None:
    urls = [p.url for p in processes]
    user_id, key = _funded_user(urls[0], 100)
    outcome = Counter(r.status_code for r in asyncio.run(_fire(urls, key, 300)))
    assert set(outcome) <= {200, 402} and outcome[200] <= 100, outcome
    balance, held = _settled(urls[0], key)
    assert (balance, held) == ((100 - outcome[200]) * COST, 0)
    # Near the end of the balance one process may refuse while the other's lease still had money:
    # once the leases are back, what is left serves exactly the requests it pays for.
    served = outcome[200]
    while True:
        response = httpx.post(f"{urls[served % 2]}/v1/chat/completions", json=BODY,
                              headers={"Authorization": f"Bearer {key}"}, timeout=30)
        if response.status_code == 402:
            break
        assert response.status_code == 200
        served += 1
    assert served == 100
    assert _account(urls[0], key) == (0, 0)
    _assert_chained(database_url, user_id)
    assert_ledgers_balance(database_url)


def test_a_process_killed_mid_batch_loses_no_answered_charge_and_its_lease_comes_back(
    base_env: dict[str, str], upstream_b: FakeProvider, fake_b: FakeProvider, tmp_root: Path, database_url: str
) -> None:
    fake_b.set(reply=" ".join(["word"] * 50), latency_ms=20)
    env = _env(base_env, _config(tmp_root, upstream_b), GATEWAYZ_CREDIT_LEASE_TTL_SECONDS="5")
    victim = GatewayProcess(env, log_dir=tmp_root).start()
    user_id, key = _funded_user(victim.url, 10_000)
    answered: list[str] = []

    async def load() -> None:
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:

            async def worker() -> None:
                while True:
                    try:
                        response = await client.post(f"{victim.url}/v1/chat/completions", json=BODY,
                                                     headers={"Authorization": f"Bearer {key}"})
                    except httpx.HTTPError:
                        return  # the process is gone
                    assert response.status_code == 200, response.text
                    answered.append(response.headers["x-request-id"])

            workers = [asyncio.create_task(worker()) for _ in range(CONCURRENCY)]
            deadline = time.monotonic() + 20  # a steady load on a lease, however slow the machine
            while time.monotonic() < deadline:
                if len(answered) > CONCURRENCY and await asyncio.to_thread(_held, database_url, user_id):
                    break
                await asyncio.sleep(0.05)
            assert victim.process is not None
            os.kill(victim.process.pid, signal.SIGKILL)  # in the middle of requests and commits
            await asyncio.wait_for(asyncio.gather(*workers), 15)

    asyncio.run(load())
    victim.process.wait()  # type: ignore[union-attr]
    assert len(answered) > CONCURRENCY  # the kill came in the middle of a steady load
    held_before = run_sql(database_url, f"SELECT held FROM credit_accounts WHERE user_id = {int(user_id)}")
    assert int(held_before[0][0]) > 0  # the dead process still held its lease (and its running requests)
    heir = GatewayProcess(env, log_dir=tmp_root).start()  # its billing job releases what the dead one held
    try:
        balance, held = _settled(heir.url, key, timeout=15)
        assert held == 0
        usage = _usage(database_url, user_id)
        assert set(answered) <= set(usage)  # every answered request was charged...
        assert set(usage.values()) == {COST}  # ...exactly its cost (committed but unanswered ones too)
        assert balance == 10_000 * COST - len(usage) * COST  # and the balance says exactly that
        _assert_chained(database_url, user_id)
        assert_ledgers_balance(database_url)
    finally:
        heir.stop()
