"""The group commit and the lease book on the real database (SQLite or PostgreSQL): exactly once,
one transaction for many requests, and a lease released under its requests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from gatewayz.billing.batch import LeaseCharge
from gatewayz.billing.holds import AlreadySettled, Hold, HoldLedger
from gatewayz.billing.leases import LeaseBook
from gatewayz.billing.settlement import Settler
from gatewayz.storage.fastsql import FastSQL
from tests.conftest import settings_from_env
from tests.support.databases import run_sql
from tests.support.identity import GwUser
from tests.support.money import assert_ledgers_balance, balance, grant, nanos

NEED = 10_000_000  # $0.01


def _usage(user: GwUser) -> dict[str, Any]:
    return {"key_id": user.key_id, "endpoint": "chat", "model": "m", "status": 200}


async def _with_book(base_env: dict[str, str], work: Any) -> Any:
    fast = FastSQL(settings_from_env(base_env))
    await fast.open()
    try:
        holds = HoldLedger(fast)
        return await work(holds, LeaseBook(holds, ttl=60), Settler(holds, settings_from_env(base_env).data_dir))
    finally:
        await fast.close()


def test_a_settlement_written_twice_is_charged_once(admin: httpx.Client, user: GwUser, base_env: dict[str, str],
                                                    database_url: str) -> None:
    grant(admin, user.id, "10")

    async def work(holds: HoldLedger, book: LeaseBook, settler: Settler) -> None:
        ticket = await book.take(user.id, NEED)
        assert ticket is not None and ticket.lease.amount == 16 * NEED
        charge = LeaseCharge(ticket.lease.hold_id, user.id, *book.charge(ticket, NEED), "req_twice", _usage(user))
        first = await settler.batcher.settle(charge)
        assert (first.charged, first.balance) == (NEED, 10_000_000_000 - NEED)
        with pytest.raises(AlreadySettled):
            await settler.batcher.settle(charge)  # a retry after a commit that was not seen
        assert await settler.settle_lease(charge) is None  # the settler treats it as done
        book.release(ticket)
        assert nanos(balance(user.client)["held"]) == 15 * NEED  # what is left of the lease
        await book.return_all()

    asyncio.run(_with_book(base_env, work))
    assert (nanos(balance(user.client)["balance"]), nanos(balance(user.client)["held"])) == (10_000_000_000 - NEED, 0)
    rows = run_sql(database_url, "SELECT COUNT(*) FROM credit_transactions WHERE reference = 'req_twice'")
    assert rows[0][0] == 1
    assert_ledgers_balance(database_url)


def test_one_commit_carries_the_settlements_that_are_ready_together(
    admin: httpx.Client, user: GwUser, base_env: dict[str, str], database_url: str
) -> None:
    grant(admin, user.id, "10")

    async def work(holds: HoldLedger, book: LeaseBook, settler: Settler) -> int:
        tickets = []
        for _ in range(40):
            ticket = book.reserve(user.id, NEED) or await book.take(user.id, NEED)
            assert ticket is not None
            tickets.append(ticket)
        charges = [LeaseCharge(t.lease.hold_id, user.id, *book.charge(t, NEED // 2), f"req_group_{i}", _usage(user))
                   for i, t in enumerate(tickets)]
        results = await asyncio.gather(*(settler.batcher.settle(c) for c in charges))
        assert sorted(r.balance for r in results) == [10_000_000_000 - (i + 1) * NEED // 2 for i in range(40)][::-1]
        for ticket in tickets:
            book.release(ticket)
        await book.return_all()
        return settler.batcher.commits

    commits = asyncio.run(_with_book(base_env, work))
    assert commits == 1  # forty requests that finished together: one transaction
    assert (nanos(balance(user.client)["balance"]), nanos(balance(user.client)["held"])) == (
        10_000_000_000 - 20 * NEED, 0)
    assert_ledgers_balance(database_url)


def test_a_lease_released_under_its_request_is_settled_from_what_is_available(
    admin: httpx.Client, user: GwUser, base_env: dict[str, str], database_url: str
) -> None:
    grant(admin, user.id, "10")

    async def work(holds: HoldLedger, book: LeaseBook, settler: Settler) -> None:
        ticket = await book.take(user.id, NEED)
        assert ticket is not None
        # the process was presumed dead: another process's billing job released the lease
        assert await holds.release(Hold(ticket.lease.hold_id, 0, user.id, None, None), "expired")
        charge = LeaseCharge(ticket.lease.hold_id, user.id, *book.charge(ticket, NEED), "req_orphan", _usage(user))
        settled = await settler.settle_lease(charge)
        assert settled is not None and settled.charged == NEED  # charged once, on the general path

    asyncio.run(_with_book(base_env, work))
    assert (nanos(balance(user.client)["balance"]), nanos(balance(user.client)["held"])) == (
        10_000_000_000 - NEED, 0)
    assert_ledgers_balance(database_url)


def test_no_lease_when_the_balance_is_within_64_requests(admin: httpx.Client, user: GwUser,
                                                         base_env: dict[str, str]) -> None:
    grant(admin, user.id, "0.63")

    async def work(holds: HoldLedger, book: LeaseBook, settler: Settler) -> None:
        assert await book.take(user.id, NEED) is None  # the caller holds exactly instead

    asyncio.run(_with_book(base_env, work))
    assert nanos(balance(user.client)["held"]) == 0
