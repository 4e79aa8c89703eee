"""Property-based tests (hypothesis) of the money arithmetic and of hold/settle sequences."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from gatewayz.billing import ledger
from gatewayz.billing.holds import Hold, HoldLedger, InsufficientCredits
from gatewayz.billing.money import to_nanos, usd
from gatewayz.billing.pricing import Price
from gatewayz.billing.tables import CreditAccount, CreditHold, CreditTransaction
from gatewayz.errors import InvalidRequest
from gatewayz.settings import Settings
from gatewayz.storage.db import Database
from gatewayz.storage.fastsql import FastSQL
from gatewayz.storage.migrate import migrate
from gatewayz.storage.types import utcnow

nanos = st.integers(min_value=-(10**15), max_value=10**15)
prices = st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False, allow_infinity=False)
tokens = st.integers(min_value=0, max_value=2_000_000)


@given(nanos)
def test_usd_strings_round_trip_exactly(value: int) -> None:
    assert to_nanos(usd(value)) == value


@given(st.decimals(min_value=-(10**6), max_value=10**6, places=9, allow_nan=False, allow_infinity=False))
def test_nine_decimal_places_are_exact(amount: Decimal) -> None:
    assert Decimal(usd(to_nanos(amount))) == amount


@given(prices, prices, tokens, tokens, tokens)
def test_costs_are_non_negative_monotonic_and_additive(
    prompt: Decimal, completion: Decimal, p: int, c: int, extra: int
) -> None:
    price = Price.per_million(prompt, completion, source="test")
    cost = price.cost(p, c)
    assert cost >= 0
    assert price.cost(p + extra, c) >= cost and price.cost(p, c + extra) >= cost
    assert abs(price.cost(p + extra, c) - (cost + price.cost(extra, 0))) <= 1  # rounding only at the nano
    exact = (prompt * p + completion * c) * 1000  # nanos, unrounded
    assert abs(Decimal(cost) - exact) <= Decimal("0.5")


@given(st.integers(min_value=1, max_value=10_000))
def test_a_sub_cent_charge_is_never_rounded_away(token_count: int) -> None:
    cheapest = Price.per_million("0.01", "0.01", source="test")  # $0.01 per million tokens
    assert cheapest.cost(token_count, 0) == token_count * 10


# -- hold / settle sequences against a real (SQLite) database ------------------------------------

operation = st.one_of(
    st.tuples(st.just("grant"), st.integers(1, 5_000)),
    st.tuples(st.just("deduct"), st.integers(1, 5_000)),
    st.tuples(st.just("hold"), st.integers(1, 3_000)),
    st.tuples(st.just("settle"), st.integers(0, 6_000)),  # may exceed its hold
    st.tuples(st.just("release"), st.just(0)),
    st.tuples(st.just("sweep"), st.just(0)),
)


@pytest.fixture(scope="module")
def database(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Database, HoldLedger, asyncio.AbstractEventLoop]]:
    path: Path = tmp_path_factory.mktemp("ledger") / "ledger.db"
    db_settings = Settings(database_url=f"sqlite:///{path}", data_dir=path.parent, environment="dev")
    loop = asyncio.new_event_loop()
    db = Database(db_settings)
    fast = FastSQL(db_settings)
    loop.run_until_complete(migrate(db.engine, db_settings))
    loop.run_until_complete(fast.open())
    yield db, HoldLedger(fast), loop
    loop.run_until_complete(fast.close())
    loop.run_until_complete(db.close())
    loop.close()


user_ids = itertools.count(1_000_000)
USAGE = {"key_id": 0, "endpoint": "chat", "model": "m", "status": 200}


async def _apply(
    db: Database, holds_ledger: HoldLedger, user_id: int, index: int, kind: str, amount: int, holds: list[Hold]
) -> int:
    """Run one operation; returns its effect on the expected balance."""
    if kind in ("grant", "deduct"):
        signed = amount if kind == "grant" else -amount
        async with db.transaction() as session:
            await ledger.adjust(
                session, user_id=user_id, amount=signed, type_=f"admin_{kind}", reason="p", actor="test"
            )
        return signed
    if kind == "hold":
        holds.append(
            await holds_ledger.place(
                request_id=f"r{index}", user_id=user_id, key_id=None, amount=amount, budget=None, ttl=60
            )
        )
    elif kind == "settle" and holds:
        result = await holds_ledger.settle(
            hold=holds.pop(0), user_id=user_id, cost=amount, request_id=f"{user_id}-{index}", usage=USAGE
        )
        assert result.charged + result.uncollected == amount
        return -result.charged
    elif kind == "release" and holds:
        assert await holds_ledger.release(holds.pop(0))
    elif kind == "sweep":
        async with db.session() as session:
            stale = await ledger.expired_holds(session, utcnow() + timedelta(minutes=5))
        for hold in stale:
            await holds_ledger.release(hold, "expired")
        holds[:] = [h for h in holds if h.user_id != user_id]
    return 0


async def _run(db: Database, holds_ledger: HoldLedger, user_id: int, operations: list[tuple[str, int]]) -> int:
    """Apply the operations, checking every invariant after each; returns how many were checked."""
    holds: list[Hold] = []
    expected_balance = 0
    for index, (kind, amount) in enumerate(operations):
        try:
            expected_balance += await _apply(db, holds_ledger, user_id, index, kind, amount, holds)
        except (InsufficientCredits, InvalidRequest):
            pass  # refused: nothing may have changed (the transaction rolled back)
        async with db.session() as session:
            account = await session.get(CreditAccount, user_id)
            balance, held = (account.balance, account.held) if account else (0, 0)
            ledger_sum = (
                await session.execute(
                    select(func.coalesce(func.sum(CreditTransaction.amount), 0)).where(
                        CreditTransaction.user_id == user_id
                    )
                )
            ).scalar_one()
            open_holds = (
                await session.execute(
                    select(func.coalesce(func.sum(CreditHold.amount), 0)).where(
                        CreditHold.user_id == user_id, CreditHold.status == "held"
                    )
                )
            ).scalar_one()
        assert balance == ledger_sum == expected_balance
        assert 0 <= held <= balance
        assert held == open_holds == sum(h.amount for h in holds)
    return len(operations)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, min_size=1, max_size=25))
def test_hold_settle_sequences_keep_every_invariant(
    database: tuple[Database, HoldLedger, asyncio.AbstractEventLoop], operations: list[tuple[str, int]]
) -> None:
    db, holds_ledger, loop = database
    assert loop.run_until_complete(_run(db, holds_ledger, next(user_ids), operations)) == len(operations)
