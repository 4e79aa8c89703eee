"""Micro-benchmark behind the upstream client choices: aiohttp vs httpx, orjson vs stdlib json.

Run from the repo root: ``.venv/bin/python bench/upstream_clients.py [--requests 5000] [--rounds 3]``.
Starts the fake upstream on a free 127.0.0.1 port, then, in this one process on uvloop:
- sends ``--requests`` chat-completion POSTs with ``--concurrency`` in flight, through an
  ``aiohttp.ClientSession`` configured as the gateway's (src/gatewayz/providers/upstream.py) and
  through an ``httpx.AsyncClient`` with an equal pool, alternating rounds; and ``--sequential``
  requests one at a time;
- times ``orjson`` and ``json`` dumps/loads of a typical chat request and response body.
Reports requests/s, client CPU µs per request (this process only) and µs per JSON op, with ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson

import benchlib as bl

REPO = Path(__file__).resolve().parent.parent
REQUEST_BODY: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant. Answer briefly and cite sources."},
        {"role": "user", "content": "What is the capital of France? " * 4},
        {"role": "assistant", "content": "The capital of France is Paris. " * 3},
        {"role": "user", "content": "And its population, roughly, with the year of the figure?"},
    ],
    "temperature": 0.2,
    "max_tokens": 256,
    "user": "bench",
}
HEADERS = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
Send = Callable[[], Awaitable[bytes]]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=5000, help="requests per client per round (default 5000)")
    p.add_argument("--concurrency", type=int, default=64, help="requests in flight (default 64)")
    p.add_argument("--sequential", type=int, default=1000, help="one-at-a-time requests per client (default 1000)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    p.add_argument("--json-ops", type=int, default=20000, help="dumps/loads calls per JSON timing (default 20000)")
    p.add_argument("--json", type=Path, default=None, help="results file (default bench/results/<utc>-clients.json)")
    return p.parse_args()


async def drive(send: Send, total: int, concurrency: int, errors: Counter[str]) -> tuple[float, float]:
    """``total`` sends with ``concurrency`` workers; returns (requests/s, client CPU µs/request).

    Failures are counted in ``errors`` by exception type.
    """
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:  # bounded: each pass takes one of ``total``
            remaining -= 1
            try:
                async with asyncio.timeout(bl.REQUEST_TIMEOUT_S):
                    await send()
            except (TimeoutError, OSError, aiohttp.ClientError, httpx.HTTPError) as exc:
                errors[type(exc).__name__] += 1

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return total / elapsed, cpu / total * 1e6


async def http_suite(port: int, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    url = f"http://{bl.HOST}:{port}/v1/chat/completions"
    body = orjson.dumps(REQUEST_BODY)
    limit = max(args.concurrency, 1)
    # aiohttp exactly as the gateway configures it (per-request ClientTimeout included).
    connector = aiohttp.TCPConnector(limit=1000, ttl_dns_cache=300, keepalive_timeout=60, enable_cleanup_closed=True)
    session = aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",))
    timeout = aiohttp.ClientTimeout(total=600, sock_connect=10, sock_read=60)
    limits = httpx.Limits(max_connections=limit, max_keepalive_connections=limit, keepalive_expiry=60)
    client = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(600, connect=10, read=60))

    async def via_aiohttp() -> bytes:
        async with session.post(url, data=body, headers=HEADERS, timeout=timeout) as r:
            data = await r.read()
            if r.status != 200:
                raise aiohttp.ClientError(f"HTTP {r.status}")
            return data

    async def via_httpx() -> bytes:
        r = await client.post(url, content=body, headers=HEADERS)
        if r.status_code != 200:
            raise httpx.HTTPError(f"HTTP {r.status_code}")
        return r.content

    clients: dict[str, Send] = {"aiohttp": via_aiohttp, "httpx": via_httpx}
    samples: dict[str, dict[str, list[float]]] = {n: {"rps": [], "cpu": [], "seq": []} for n in clients}
    errors: dict[str, Counter[str]] = {n: Counter() for n in clients}
    try:
        for send in clients.values():  # warm-up: open the pools
            await drive(send, max(limit * 4, 200), args.concurrency, Counter())
        for r in range(args.rounds):
            order = list(clients.items()) if r % 2 == 0 else list(clients.items())[::-1]
            for name, send in order:
                rps, cpu = await drive(send, args.requests, args.concurrency, errors[name])
                seq_rps, _seq_cpu = await drive(send, args.sequential, 1, errors[name])
                s = samples[name]
                s["rps"].append(rps)
                s["cpu"].append(cpu)
                s["seq"].append(1e6 / seq_rps)
                line = f"{rps:8.0f} req/s  {cpu:6.0f} µs CPU/req  c=1 {1e6 / seq_rps:6.0f} µs/req"
                print(f"  round {r + 1} {name:<8} {line}", flush=True)
    finally:
        await session.close()
        await client.aclose()
    return {
        n: {
            "rps": statistics.median(s["rps"]),
            "cpu_us_per_req": statistics.median(s["cpu"]),
            "c1_us_per_req": statistics.median(s["seq"]),
            "errors": dict(errors[n]),
            "rps_rounds": s["rps"],
        }
        for n, s in samples.items()
    }


def time_op(fn: Callable[[], object], ops: int, rounds: int) -> float:
    """Best of ``rounds`` timings of ``ops`` calls, in µs per call."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(ops):
            fn()
        best = min(best, (time.perf_counter() - t0) / ops * 1e6)
    return best


def json_suite(response_body: bytes, ops: int, rounds: int) -> dict[str, dict[str, float]]:
    response = orjson.loads(response_body)
    request_bytes = orjson.dumps(REQUEST_BODY)
    cases: dict[str, dict[str, Callable[[], object]]] = {
        "dumps request": {
            "orjson": lambda: orjson.dumps(REQUEST_BODY),
            "json": lambda: json.dumps(REQUEST_BODY).encode(),
        },
        "loads request": {"orjson": lambda: orjson.loads(request_bytes), "json": lambda: json.loads(request_bytes)},
        "loads response": {"orjson": lambda: orjson.loads(response_body), "json": lambda: json.loads(response_body)},
        "dumps response": {"orjson": lambda: orjson.dumps(response), "json": lambda: json.dumps(response).encode()},
    }
    return {case: {lib: time_op(fn, ops, rounds) for lib, fn in fns.items()} for case, fns in cases.items()}


async def fetch_once(port: int) -> bytes:
    async with aiohttp.ClientSession() as s:
        url = f"http://{bl.HOST}:{port}/v1/chat/completions"
        async with s.post(url, data=orjson.dumps(REQUEST_BODY), headers=HEADERS) as r:
            return await r.read()


def main() -> int:
    args = parse_args()
    bl.exit_cleanly_on_sigterm()
    try:
        import uvloop

        run: Callable[[Any], Any] = uvloop.run
    except ImportError:
        run = asyncio.run
    with tempfile.TemporaryDirectory(prefix="gatewayz-clients-") as tmp:
        argv = [sys.executable, "-m", "tests.fakeprovider", "--host", bl.HOST, "--port", "0", "--no-record"]
        upstream = bl.spawn("fakeprovider", argv, Path(tmp) / "upstream.log", REPO)
        try:
            port = int(bl.wait_for_line(upstream, r"listening on http://[\d.]+:(\d+)", 30).group(1))
            response_body = run(fetch_once(port))
            print(f"HTTP clients: {args.requests} POSTs x {args.rounds} rounds, concurrency {args.concurrency}")
            http = run(http_suite(port, args))
        finally:
            upstream.stop()
    print(f"JSON: {len(orjson.dumps(REQUEST_BODY))} B request, {len(response_body)} B response, best of 3")
    js = json_suite(response_body, args.json_ops, 3)

    a, h = http["aiohttp"], http["httpx"]
    print(f"\n{'HTTP client':<28}{'aiohttp':>10}{'httpx':>10}   aiohttp/httpx")
    print(
        f"{'req/s (c=' + str(args.concurrency) + ', median)':<28}{a['rps']:>10.0f}{h['rps']:>10.0f}   "
        f"x{a['rps'] / h['rps']:.2f}"
    )
    print(
        f"{'client CPU µs/req':<28}{a['cpu_us_per_req']:>10.0f}{h['cpu_us_per_req']:>10.0f}   "
        f"x{a['cpu_us_per_req'] / h['cpu_us_per_req']:.2f} (lower is better)"
    )
    print(
        f"{'c=1 µs/req (round trip)':<28}{a['c1_us_per_req']:>10.0f}{h['c1_us_per_req']:>10.0f}   "
        f"x{a['c1_us_per_req'] / h['c1_us_per_req']:.2f} (lower is better)"
    )
    print(f"\n{'JSON µs/op':<28}{'orjson':>10}{'json':>10}   json/orjson")
    for case, t in js.items():
        print(f"{case:<28}{t['orjson']:>10.2f}{t['json']:>10.2f}   x{t['json'] / t['orjson']:.1f}")
    for name, result in http.items():
        if result["errors"]:
            print(f"WARNING: {name} failures by type: {result['errors']}")
    stamp = datetime.now(UTC)
    out = args.json or REPO / "bench" / "results" / f"{stamp:%Y%m%dT%H%M%SZ}-clients.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    params = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    record = {"finished_utc": stamp.isoformat(timespec="seconds"), "params": params, "http": http, "json_us": js}
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as exc:  # servers were already stopped by the finally blocks
        print(f"interrupted ({exc or 'SIGINT'}); no results written", file=sys.stderr)
        sys.exit(130)
