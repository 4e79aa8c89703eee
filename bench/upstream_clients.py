"""Micro-benchmark behind the upstream client choice: aiohttp (as the gateway uses it, and tuned)
vs httpx, aiosonic, pyreqwest and rnet; orjson vs stdlib json.

Run from the repo root: ``.venv/bin/python bench/upstream_clients.py [--rounds 2] [--kinds a,b]``.
Starts a canned keep-alive upstream (bench/upstream_canned.py; ``--upstream fake`` for the fake
provider) on a free 127.0.0.1 port, then, in this one process on uvloop, for every client kind of
bench/upstream_kinds.py, rounds in rotating order:
- ``--requests`` chat-completion POSTs (~300 B body, ~500 B answer) with ``--concurrency`` in flight,
  and ``--sequential`` one at a time;
- ``--streams`` streamed answers (``--chunks`` SSE events each, paced) with ``--stream-concurrency``
  in flight.
Reports medians of requests/s, CPU µs per request and per streamed chunk — of the whole process
(Rust clients work on their own threads) and of the event-loop thread alone — with ratios to
``aiohttp-gateway`` (the gateway's usage today); then µs per JSON op for orjson and json.
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

import orjson

import benchlib as bl
from upstream_kinds import Kind, available

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
METRICS = ("rps", "cpu", "loop_cpu", "c1_us", "c1_cpu", "chunk_cpu", "chunk_loop_cpu", "reads")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=3000, help="POSTs per kind per round (default 3000)")
    p.add_argument("--concurrency", type=int, default=64, help="requests in flight (default 64)")
    p.add_argument("--sequential", type=int, default=1000, help="one-at-a-time POSTs per kind per round")
    p.add_argument("--streams", type=int, default=64, help="streamed answers per kind per round (default 64)")
    p.add_argument("--stream-concurrency", type=int, default=16, help="streams in flight (default 16)")
    p.add_argument("--chunks", type=int, default=100, help="SSE events per stream (default 100)")
    p.add_argument("--gap-us", type=float, default=1000.0, help="µs between streamed events (default 1000)")
    p.add_argument("--rounds", type=int, default=2, help="rotating rounds; the median is reported")
    p.add_argument("--kinds", default="", help="comma-separated kinds (default: all installed)")
    p.add_argument("--upstream", choices=("canned", "fake"), default="canned")
    p.add_argument("--json-ops", type=int, default=20000, help="dumps/loads calls per JSON timing (default 20000)")
    p.add_argument("--json", type=Path, default=None, help="results file (default bench/results/<utc>-clients.json)")
    return p.parse_args()


async def drive(
    send: Callable[[], Awaitable[object]], total: int, concurrency: int, errors: Counter[str]
) -> tuple[float, float, float, list[object]]:
    """``total`` sends with ``concurrency`` workers: (per second, process CPU µs, loop-thread CPU µs,
    results) per send. Failures are counted in ``errors`` by exception type."""
    remaining = total
    results: list[object] = []

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:  # bounded: each pass takes one of ``total``
            remaining -= 1
            try:
                async with asyncio.timeout(bl.REQUEST_TIMEOUT_S):
                    results.append(await send())
            except Exception as exc:  # every client raises its own types; all count as failures
                errors[type(exc).__name__] += 1

    cpu0, loop0, t0 = time.process_time(), time.thread_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    cpu, loop_cpu = time.process_time() - cpu0, time.thread_time() - loop0
    return total / elapsed, cpu / total * 1e6, loop_cpu / total * 1e6, results


async def measure(kind: Kind, args: argparse.Namespace, errors: Counter[str]) -> dict[str, float]:
    rps, cpu, loop_cpu, _ = await drive(kind.whole, args.requests, args.concurrency, errors)
    c1_rps, c1_cpu, _, _ = await drive(kind.whole, args.sequential, 1, errors)
    _, s_cpu, s_loop, reads = await drive(kind.stream, args.streams, args.stream_concurrency, errors)
    per_stream = statistics.mean(r for r in reads if isinstance(r, int)) if reads else float("nan")
    return {
        "rps": rps,
        "cpu": cpu,
        "loop_cpu": loop_cpu,
        "c1_us": 1e6 / c1_rps,
        "c1_cpu": c1_cpu,
        "chunk_cpu": s_cpu / args.chunks,
        "chunk_loop_cpu": s_loop / args.chunks,
        "reads": per_stream,
    }


async def http_suite(port: int, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    url = f"http://{bl.HOST}:{port}/v1/chat/completions"
    body = orjson.dumps(REQUEST_BODY)
    stream_body = orjson.dumps({**REQUEST_BODY, "stream": True})
    limit = max(args.concurrency, args.stream_concurrency, 1)
    kinds = [
        make(url, body, stream_body, HEADERS, limit)
        for make in available(args.kinds.split(",") if args.kinds else None)
    ]
    samples: dict[str, dict[str, list[float]]] = {k.name: {m: [] for m in METRICS} for k in kinds}
    errors: dict[str, Counter[str]] = {k.name: Counter() for k in kinds}
    try:
        for kind in kinds:  # warm-up: open the pools, check the answers
            answer = await kind.whole()
            if orjson.loads(answer).get("object") != "chat.completion":
                raise SystemExit(f"{kind.name}: unexpected answer {answer[:80]!r}")
            await drive(kind.whole, max(limit * 4, 200), args.concurrency, Counter())
            await drive(kind.stream, args.stream_concurrency, args.stream_concurrency, Counter())
        for r in range(args.rounds):
            order = kinds[r % len(kinds) :] + kinds[: r % len(kinds)]
            for kind in order:
                result = await measure(kind, args, errors[kind.name])
                for metric, value in result.items():
                    samples[kind.name][metric].append(value)
                print(
                    f"  round {r + 1} {kind.name:<24}{result['rps']:7.0f} req/s {result['cpu']:5.0f} µs CPU/req "
                    f"(loop {result['loop_cpu']:4.0f})  c=1 {result['c1_us']:4.0f} µs  "
                    f"stream {result['chunk_cpu']:5.1f} µs CPU/chunk ({result['reads']:.0f} reads)",
                    flush=True,
                )
    finally:
        for kind in kinds:
            await kind.close()
    return {
        name: {**{m: statistics.median(v) for m, v in s.items()}, "errors": dict(errors[name]), "rounds": s}
        for name, s in samples.items()
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


ROWS = (
    ("req/s c={c}", "rps", "{:.0f}", True),
    ("CPU µs/req c={c}", "cpu", "{:.0f}", False),
    ("loop CPU µs/req c={c}", "loop_cpu", "{:.0f}", False),
    ("wall µs/req c=1", "c1_us", "{:.0f}", False),
    ("CPU µs/req c=1", "c1_cpu", "{:.0f}", False),
    ("CPU µs/chunk (stream)", "chunk_cpu", "{:.1f}", False),
    ("loop CPU µs/chunk", "chunk_loop_cpu", "{:.1f}", False),
)
BASE = "aiohttp-gateway"


def gain(metric: str, value: float, base: float) -> float:
    """How much better ``value`` is than ``base`` (>1 is better: more req/s, less CPU or time)."""
    higher = next(h for _, m, _, h in ROWS if m == metric)
    return value / base if higher else base / value


def print_table(http: dict[str, dict[str, Any]], concurrency: int) -> None:
    """Per metric, one line per kind: median and best round, and the median over rounds of the
    gain vs aiohttp-gateway in that same round (the machine's load drifts between rounds)."""
    base = http.get(BASE)
    print(f"\ngain = median over rounds of (this kind vs {BASE}, same round); >1 is better")
    for label, metric, fmt, higher in ROWS:
        print(f"\n{label.format(c=concurrency):<28}{'median':>9}{'best':>9}   gain")
        for name, result in http.items():
            rounds = result["rounds"][metric]
            best = max(rounds) if higher else min(rounds)
            ratio = ""
            if base is not None and all(rounds):
                pairs = zip(rounds, base["rounds"][metric], strict=True)
                ratio = f"x{statistics.median(gain(metric, v, b) for v, b in pairs):.2f}"
            print(f"  {name:<26}{fmt.format(result[metric]):>9}{fmt.format(best):>9}   {ratio}")


def start_upstream(args: argparse.Namespace, tmp: Path) -> tuple[bl.Child, int]:
    if args.upstream == "fake":
        argv = [sys.executable, "-m", "tests.fakeprovider", "--host", bl.HOST, "--port", "0", "--no-record"]
    else:
        script = str(REPO / "bench" / "upstream_canned.py")
        argv = [sys.executable, script, "--port", "0", "--chunks", str(args.chunks), "--gap-us", str(args.gap_us)]
    upstream = bl.spawn(args.upstream, argv, tmp / "upstream.log", REPO)
    return upstream, int(bl.wait_for_line(upstream, r"listening on http://[\d.]+:(\d+)", 30).group(1))


async def fetch_once(port: int) -> bytes:
    reader, writer = await asyncio.open_connection(bl.HOST, port)
    body = orjson.dumps(REQUEST_BODY)
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: {bl.HOST}\r\nAuthorization: {HEADERS['Authorization']}\r\n"
    writer.write(head.encode() + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    head_bytes = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head_bytes.lower().split(b"\r\n") if line.startswith(b"content-length")
    )
    answer = await reader.readexactly(length)
    writer.close()
    return answer


def main() -> int:
    args = parse_args()
    bl.exit_cleanly_on_sigterm()
    try:
        import uvloop

        run: Callable[[Any], Any] = uvloop.run
    except ImportError:
        run = asyncio.run
    with tempfile.TemporaryDirectory(prefix="gatewayz-clients-") as tmp:
        upstream, port = start_upstream(args, Path(tmp))
        try:
            response_body = run(fetch_once(port))
            print(
                f"HTTP clients ({args.upstream} upstream): {args.requests} POSTs at c={args.concurrency}, "
                f"{args.sequential} at c=1, {args.streams} streams of {args.chunks} chunks at "
                f"c={args.stream_concurrency}, x {args.rounds} rounds"
            )
            http = run(http_suite(port, args))
        finally:
            upstream.stop()
    print(f"JSON: {len(orjson.dumps(REQUEST_BODY))} B request, {len(response_body)} B response, best of 3")
    js = json_suite(response_body, args.json_ops, 3)

    print_table(http, args.concurrency)
    print(f"\n{'JSON µs/op':<28}{'orjson':>10}{'json':>10}   json/orjson")
    for case, t in js.items():
        print(f"{case:<28}{t['orjson']:>10.2f}{t['json']:>10.2f}   x{t['json'] / t['orjson']:.1f}")
    for name, result in http.items():
        if result["errors"]:
            print(f"WARNING: {name} failures by type: {result['errors']}")
    stamp = datetime.now(UTC)
    out = args.json or REPO / "bench" / "results" / f"{stamp:%Y%m%dT%H%M%SZ}-clients.json"
    params = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    record = {"finished_utc": stamp.isoformat(timespec="seconds"), "params": params, "http": http, "json_us": js}
    bl.write_results(out, record)
    return 0


if __name__ == "__main__":
    bl.script_main(main)
