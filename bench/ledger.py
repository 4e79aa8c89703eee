"""Micro-benchmark: the credit ledger's cost per request (one hold + one settle), on SQLite and
PostgreSQL, sequential and with concurrent requests for the same user.

    .venv/bin/python bench/ledger.py [--requests 2000] [--pg postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg

from gatewayz.billing import ledger
from gatewayz.billing.holds import HoldLedger
from gatewayz.settings import Settings
from gatewayz.storage.db import Database
from gatewayz.storage.fastsql import FastSQL
from gatewayz.storage.migrate import migrate

USAGE = {"key_id": 1, "endpoint": "chat", "model": "m", "status": 200}


async def cycle(holds: HoldLedger, user_id: int, n: int) -> None:
    hold = await holds.place(request_id=f"h{n}-{secrets.token_hex(4)}", user_id=user_id, key_id=None, amount=1000,
                             budget=None, ttl=60)
    await holds.settle(hold=hold, user_id=user_id, cost=700, request_id=f"s{n}-{secrets.token_hex(4)}", usage=USAGE)


async def measure(url: str, requests: int, concurrency: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=url, data_dir=Path(tmp), environment="dev")
        db = Database(settings)
        await migrate(db.engine, settings)
        fast = FastSQL(settings)
        await fast.open()
        holds = HoldLedger(fast)
        async with db.transaction() as session:
            await ledger.adjust(session, user_id=1, amount=10**15, type_="admin_grant", reason="bench", actor="b")
        for n in range(50):  # warm-up
            await cycle(holds, 1, n)
        samples: list[float] = []
        started = time.perf_counter()

        async def worker(offset: int) -> None:
            for n in range(offset, requests, concurrency):
                t = time.perf_counter()
                await cycle(holds, 1, n)
                samples.append(time.perf_counter() - t)

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
        await fast.close()
        await db.close()
    return statistics.median(samples) * 1000, requests / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("sqlite", f"sqlite:///{tmp}/bench.db")]
        name = f"gwbench_{secrets.token_hex(4)}"
        admin = await asyncpg.connect(args.pg)
        await admin.execute(f'CREATE DATABASE "{name}"')
        targets.append(("postgresql", args.pg.rsplit("/", 1)[0] + f"/{name}"))
        try:
            print(f"{'database':<12}{'concurrency':>12}{'p50 ms/request':>16}{'requests/s':>12}")
            for label, url in targets:
                for concurrency in (1, 16):
                    p50, rate = await measure(url, args.requests, concurrency)
                    print(f"{label:<12}{concurrency:>12}{p50:>16.3f}{rate:>12.0f}")
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
