"""Micro-benchmark of the rate-limit stage: what admit + finish cost per request.

    .venv/bin/python bench/limits.py [--ops N] [--redis redis://127.0.0.1:6379/0]

Runs the real `RateLimitStage` (planner, limiter, headers) on one event loop, with no HTTP around
it, for: a no-op stage (the floor), no limits configured (the default), a request limit only (one
Redis round trip), and a typical set (user + key requests/minute, key tokens/minute, in-flight:
two round trips, admit and finish) — in process and through Redis. Sequential latency is the cost
one request pays; the concurrent figure (64 requests at a time) is what one process can push
through Redis, where round trips overlap (and are pipelined). A bare redis-py PING is printed as
the reference for "one round trip". Quote ratios: absolute times depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from gatewayz.accounts.principal import Principal
from gatewayz.inference.pipeline import InferenceCall
from gatewayz.limits.config import parse_limits
from gatewayz.limits.limiter import Limiter
from gatewayz.limits.sources import LimitPlanner, default_sources
from gatewayz.limits.stage import RateLimitStage

BIG = 10**12  # limits that are never reached: we measure the bookkeeping, not refusals
USAGE = {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42}
BODY = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there, how are you?"}],
        "max_tokens": 64}  # fmt: skip


class NoopStage:
    async def admit(self, call: InferenceCall) -> None:
        return None

    async def finish(self, call: InferenceCall) -> None:
        return None


def _principal(key_limits: dict[str, Any] | None) -> Principal:
    return Principal(
        key_id=7, user_id=3, role="user", environment="live", scopes=frozenset({"inference"}), prefix="gw_live_x",
        key_hash="h", ip_networks=None, referer_patterns=None, allowed_models=None, expires_at=None,
        max_requests=None, revoked=False, active=True, key_rate_limits=parse_limits(key_limits),
    )  # fmt: skip


def _stage(redis: Redis | None, prefix: str, user: dict[str, Any] | None, key: dict[str, Any] | None,
           ) -> RateLimitStage:  # fmt: skip
    planner = LimitPlanner(default_sources(None, parse_limits(user), None), prefix, 600_000)
    return RateLimitStage(planner, Limiter(redis), completion_cap=1024)


async def _one(stage: Any, principal: Principal) -> None:
    call = InferenceCall("bench", principal, "chat", BODY["model"], BODY, stream=False)
    await stage.admit(call)
    call.status, call.usage = 200, USAGE
    await stage.finish(call)


async def _sequential(run: Callable[[], Awaitable[Any]], ops: int) -> float:
    """Median of 5 rounds, in µs per request."""
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(ops):
            await run()
        rounds.append((time.perf_counter() - started) / ops * 1e6)
    return statistics.median(rounds)


async def _concurrent(run: Callable[[], Awaitable[Any]], ops: int, width: int = 64) -> float:
    """Requests per second with `width` in flight at once."""

    async def worker(count: int) -> None:
        for _ in range(count):
            await run()

    started = time.perf_counter()
    await asyncio.gather(*(worker(ops // width) for _ in range(width)))
    return (ops // width * width) / (time.perf_counter() - started)


async def main(ops: int, redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    prefix = f"gwbench-{secrets.token_hex(4)}:rl"
    typical_user = {"requests_per_minute": BIG}
    typical_key = {"requests_per_minute": BIG, "tokens_per_minute": BIG, "concurrent_requests": BIG}
    cases: list[tuple[str, Any, Principal]] = [
        ("no-op stage (floor)", NoopStage(), _principal(None)),
        ("no limits configured", _stage(None, prefix, None, None), _principal(None)),
        ("local: 1 request window", _stage(None, prefix, None, None), _principal({"requests_per_minute": BIG})),
        ("local: typical (4 windows)", _stage(None, prefix, typical_user, None), _principal(typical_key)),
        ("redis: 1 request window", _stage(redis, prefix, None, None), _principal({"requests_per_minute": BIG})),
        ("redis: typical (4 windows)", _stage(redis, prefix, typical_user, None), _principal(typical_key)),
    ]
    try:
        await redis.ping()
        for _, stage, principal in cases:  # warm up: scripts loaded, caches filled
            for _ in range(200):
                await _one(stage, principal)
        rows = []
        for name, stage, principal in cases:
            seq = await _sequential(lambda s=stage, p=principal: _one(s, p), ops)
            conc = await _concurrent(lambda s=stage, p=principal: _one(s, p), ops)
            backend = getattr(getattr(stage, "limiter", None), "backend", "-")
            rows.append((name, seq, conc, backend))
        ping = (await _sequential(redis.ping, ops), await _concurrent(redis.ping, ops))
        rows.append(("reference: one redis-py PING", *ping, "redis"))
        floor = rows[0][1]
        print(f"{'case':32} {'µs/request':>11} {'x no-op':>8} {'x PING':>7} {'req/s (64 at once)':>19}  backend")
        for name, seq, conc, backend in rows:
            print(f"{name:32} {seq:11.1f} {seq / floor:8.1f} {seq / ping[0]:7.2f} {conc:19,.0f}  {backend}")
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=5000, help="requests per round (5 rounds, median)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    try:
        import uvloop  # what `gatewayz serve` runs on
    except ImportError:
        asyncio.run(main(args.ops, args.redis))
    else:
        uvloop.run(main(args.ops, args.redis))
