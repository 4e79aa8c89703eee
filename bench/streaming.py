"""Streaming cost of the gateway: added time to first byte, and server CPU per relayed chunk.

Run from the repo root: ``.venv/bin/python bench/streaming.py [--gateways sqlite,pg+redis+limit]``.
It starts the fake upstream, nginx as a reverse proxy (when installed), the bare Python proxy and
the gateway(s) as ``run.py`` does (the same pieces), then in one run:

1. **ttfb**: ``--ttfb-requests`` sequential ``stream: true`` chat requests per target at c=1, the
   targets taking turns (``measure.latency``), with the fake's default answer (a few chunks):
   added ttfb p50 = target - direct.
2. **CPU per chunk**: the fake is told (``POST /_fake/scenario``, its ``reply`` knob) to answer
   every request with a ``--chunks``-word reply (one content chunk per word, ``words_per_chunk``
   1) or a one-word reply; each target relays ``--chunk-streams`` streams of each length in
   alternating stretches while its server's CPU time (``/proc/<pid>/task/*/schedstat``, the
   process tree, nanoseconds) is read before and after each stretch. µs per chunk = (CPU per long
   stream - CPU per short stream) / (upstream events per long stream - per short stream); the
   request is the same byte for byte, so the difference is the relaying of the extra chunks.

``--chunk-delay-ms`` spaces the fake's chunks (its ``chunk_delay_ms`` knob): with 0 the fake writes
them back to back and several may arrive in one read; with 1 each comes alone, as from a model.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import benchlib as bl
from backends import DEFAULT_RATE_LIMIT, PG_ADMIN_URL, REDIS_URL, GatewayConfig
from checks import call, sanity
from measure import latency
from run import start_targets
from targets import MAX_RUN_S, REPO, Target, arun, provenance, ratio

TTFB_BOUND_MS = 0.8  # issue 13: added stream ttfb p50
CHUNK_BOUND_US = 10.0  # issue 13: gateway CPU per relayed chunk
SHORT_REPLY = "ok"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ttfb-requests", type=int, default=2000, help="sequential streams per target for ttfb (0: skip)")
    p.add_argument("--rounds", type=int, default=100, help="turns the targets take in the ttfb run (default 100)")
    p.add_argument("--chunks", type=int, default=1000, help="content chunks of a long stream (default 1000)")
    p.add_argument("--chunk-streams", type=int, default=200, help="long (and short) streams per target (0: skip)")
    p.add_argument("--cpu-rounds", type=int, default=10, help="alternating stretches of each length per target")
    p.add_argument("--chunk-delay-ms", type=float, default=0.0, help="the fake's delay between chunks (default 0)")
    p.add_argument("--idle-seconds", type=float, default=3.0, help="idle CPU reading before the chunk stretches")
    p.add_argument("--workers", type=int, default=1, help="worker processes of each gateway and proxy (default 1)")
    p.add_argument("--gateways", default="sqlite", help="gateway configurations as in run.py (default sqlite)")
    p.add_argument("--pricing", choices=("paid", "free"), default="paid", help="as in run.py (default paid)")
    p.add_argument("--rate-limit", default=DEFAULT_RATE_LIMIT, help="the +limit rate limit")
    p.add_argument("--pg-url", default=PG_ADMIN_URL, help="PostgreSQL to create throwaway databases in (+pg)")
    p.add_argument("--redis-url", default=REDIS_URL, help="Redis for +redis")
    p.add_argument("--log-level", default="warning", help="the gateways' GATEWAYZ_LOG_LEVEL (info: access log on)")
    p.add_argument("--gateway-src", type=Path, default=None, help="import gatewayz from this src/ dir (A/B runs)")
    p.add_argument("--no-bare", action="store_true", help="leave out the bare Python proxy")
    p.add_argument("--bare-app", choices=("asgi", "fastapi"), default="asgi", help="the bare proxy's app (asgi)")
    p.add_argument("--no-nginx", action="store_true", help="leave out nginx (also left out when not installed)")
    p.add_argument("--json", type=Path, default=None, help="results file (default bench/results/streaming-<utc>.json)")
    args = p.parse_args()
    args.upstream = "fake"  # the chunk count is a knob of the fake; the canned nginx upstream has none
    args.gateway_configs = [GatewayConfig.parse(s) for s in args.gateways.split(",") if s.strip()]
    if not args.gateway_configs:
        p.error("--gateways: at least one configuration")
    if args.chunks < 2:
        p.error("--chunks: at least 2")
    return args


def set_scenario(fake_port: int, fields: dict[str, Any]) -> None:
    """Change the fake upstream's scenario for every following request (its control API)."""
    base = f"http://{bl.HOST}:{fake_port}/_fake"
    status, _ = bl.http_json(f"{base}/reset", "unused", {})
    if status != 200:
        raise RuntimeError(f"POST /_fake/reset answered {status}")
    if fields:
        status, _ = bl.http_json(f"{base}/scenario", "unused", fields)
        if status != 200:
            raise RuntimeError(f"POST /_fake/scenario answered {status}")


def count_events(body: bytes) -> int:
    return sum(1 for line in body.splitlines() if line.startswith(b"data:"))


async def shapes(targets: list[Target]) -> dict[str, dict[str, int]]:
    """One stream per target under the current scenario: SSE events and HTTP chunks the client got."""
    out = {}
    for t in targets:
        reply = await call(t, t.raw(stream=True))
        if reply.status != 200 or b"[DONE]" not in reply.body[-200:]:
            raise RuntimeError(f"{t.name}: HTTP {reply.status}, stream tail {reply.body[-300:]!r}")
        out[t.name] = {"events": count_events(reply.body), "http_chunks": reply.chunks}
    return out


async def stream_cpu(
    targets: list[Target], fake_port: int, lengths: dict[str, dict[str, Any]], count: int, rounds: int
) -> dict[str, dict[str, dict[str, float]]]:
    """Server CPU ns and wall time of ``count`` streams of each length per target, in alternating
    stretches (the length order and the target order rotated from round to round)."""
    acc = {t.name: {k: {"cpu_ns": 0, "streams": 0, "errors": 0, "total_ms": []} for k in lengths} for t in targets}
    for r in range(rounds):
        names = list(lengths)
        for length in names[r % 2 :] + names[: r % 2]:
            set_scenario(fake_port, lengths[length])
            share = count * (r + 1) // rounds - count * r // rounds
            shift = r % len(targets)
            for t in [*targets[shift:], *targets[:shift]]:
                before = t.child.cpu_ns()
                leg = bl.Leg(t.name, t.port, t.raw(stream=True), share)
                run = (await bl.interleaved([leg], 1, 0, MAX_RUN_S))[t.name]
                cell = acc[t.name][length]
                cell["cpu_ns"] += t.child.cpu_ns() - before
                cell["streams"] += len(run.total_ms)
                cell["errors"] += run.errors
                cell["total_ms"] += run.total_ms
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, cells in acc.items():
        out[name] = {}
        for length, cell in cells.items():
            done = max(cell["streams"] + cell["errors"], 1)
            out[name][length] = {
                "streams": float(cell["streams"]),
                "errors": float(cell["errors"]),
                "cpu_us_per_stream": cell["cpu_ns"] / done / 1e3,
                "total_p50_ms": bl.percentile(cell["total_ms"], 50),
            }
    return out


def idle_cpu(targets: list[Target], seconds: float) -> dict[str, float]:
    """CPU µs per second of each target's server tree while nothing is sent (timers, polls)."""
    before = {t.name: t.child.cpu_ns() for t in targets}
    t0 = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    return {t.name: (t.child.cpu_ns() - before[t.name]) / 1e3 / elapsed for t in targets}


def summarize(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per target: added ttfb p50 over direct, µs per chunk, and each over the bare proxy's."""
    ttfb, cpu, idle = results.get("ttfb", {}), results.get("chunk_cpu", {}), results.get("idle_cpu_us_per_s", {})
    extra = results.get("extra_upstream_events", 0)
    out: dict[str, dict[str, float]] = {}
    for name in results["kinds"]:
        row: dict[str, float] = {}
        if name in ttfb:
            row["ttfb_p50_ms"] = ttfb[name]["ttfb_p50_ms"]
            row["ttfb_p99_ms"] = ttfb[name]["ttfb_p99_ms"]
            row["added_ttfb_p50_ms"] = ttfb[name]["ttfb_p50_ms"] - ttfb["direct"]["ttfb_p50_ms"]
        if name in cpu and extra > 0:
            long, short = cpu[name]["long"], cpu[name]["short"]
            extra_cpu = long["cpu_us_per_stream"] - short["cpu_us_per_stream"]
            row["cpu_us_per_chunk_raw"] = extra_cpu / extra
            # what the server burns anyway while the longer stream lasts (timers, polls) is not relaying
            idle_us = idle.get(name, 0.0) * (long["total_p50_ms"] - short["total_p50_ms"]) / 1e3
            row["cpu_us_per_chunk"] = (extra_cpu - idle_us) / extra
            row["idle_cpu_us_per_s"] = idle.get(name, float("nan"))
            row["cpu_us_per_short_stream"] = short["cpu_us_per_stream"]
            row["long_total_p50_ms"] = long["total_p50_ms"]
        out[name] = row
    bare = out.get("bare proxy", {})
    for row in out.values():
        if "added_ttfb_p50_ms" in bare:
            row["x_bare_added_ttfb"] = ratio(row.get("added_ttfb_p50_ms", float("nan")), bare["added_ttfb_p50_ms"])
        if "cpu_us_per_chunk" in bare:
            row["x_bare_cpu_per_chunk"] = ratio(row.get("cpu_us_per_chunk", float("nan")), bare["cpu_us_per_chunk"])
    return out


def report(results: dict[str, Any]) -> None:
    summary, kinds = results["summary"], results["kinds"]
    chunks = results.get("extra_upstream_events", 0)
    print(
        f"\nstreaming (c=1): ttfb over {results['params']['ttfb_requests']} streams per target; CPU per chunk "
        f"from {results['params']['chunk_streams']} streams of {chunks} extra upstream events each vs. one-word"
    )
    head = f"{'target':28} {'ttfb p50':>9} {'p99':>8} {'added p50':>10} {'x bare':>7}"
    print(head + f" {'µs/chunk':>9} {'x bare':>7} {'µs/short stream':>16} {'long p50 ms':>12}  client events/chunks")
    for name, row in summary.items():
        shape = results.get("shapes", {}).get("long", {}).get(name, {})
        bound = ""
        if kinds[name] == "gateway" and "added_ttfb_p50_ms" in row and "cpu_us_per_chunk" in row:
            ok_ttfb = row.get("added_ttfb_p50_ms", 0) <= TTFB_BOUND_MS
            ok_cpu = row.get("cpu_us_per_chunk", 0) <= CHUNK_BOUND_US
            bound = f"  ttfb {'ok' if ok_ttfb else 'OVER'}, chunk {'ok' if ok_cpu else 'OVER'}"
        print(
            f"{name:28} {row.get('ttfb_p50_ms', float('nan')):9.3f} {row.get('ttfb_p99_ms', float('nan')):8.3f} "
            f"{row.get('added_ttfb_p50_ms', float('nan')):+10.3f} {row.get('x_bare_added_ttfb', float('nan')):7.2f} "
            f"{row.get('cpu_us_per_chunk', float('nan')):9.2f} {row.get('x_bare_cpu_per_chunk', float('nan')):7.2f} "
            f"{row.get('cpu_us_per_short_stream', float('nan')):16.0f} "
            f"{row.get('long_total_p50_ms', float('nan')):12.1f}"
            f"  {shape.get('events', '-')}/{shape.get('http_chunks', '-')}{bound}"
        )
    print(f"bounds (issue 13): added ttfb p50 <= {TTFB_BOUND_MS} ms, <= {CHUNK_BOUND_US:g} µs of gateway CPU per chunk")
    idle_text = ", ".join(f"{k} {v:.0f}" for k, v in results.get("idle_cpu_us_per_s", {}).items())
    print("direct: the upstream's own CPU per generated chunk (not a proxy's). µs/chunk: idle CPU over the longer")
    print(f"stream's wall time taken out (idle µs/s: {idle_text}); raw in the JSON")


def measure(args: argparse.Namespace, targets: list[Target], results: dict[str, Any]) -> None:
    fake_port = targets[0].port
    delay = {"chunk_delay_ms": args.chunk_delay_ms} if args.chunk_delay_ms else {}
    if args.ttfb_requests > 0:
        set_scenario(fake_port, {})
        print(f"ttfb: {args.ttfb_requests} sequential streams per target, {args.rounds} rounds ...", flush=True)
        results["ttfb"] = arun(latency([(t, args.ttfb_requests) for t in targets], True, args.rounds))
    if args.chunk_streams > 0:
        long_reply = " ".join(["tok"] * args.chunks)
        lengths = {"long": {"reply": long_reply, **delay}, "short": {"reply": SHORT_REPLY, **delay}}
        results["shapes"] = {}
        for length, fields in lengths.items():
            set_scenario(fake_port, fields)
            results["shapes"][length] = arun(shapes(targets))
        results["extra_upstream_events"] = (
            results["shapes"]["long"]["direct"]["events"] - results["shapes"]["short"]["direct"]["events"]
        )
        if args.idle_seconds > 0:
            print(f"idle CPU: {args.idle_seconds:g}s with nothing sent ...", flush=True)
            results["idle_cpu_us_per_s"] = idle_cpu(targets, args.idle_seconds)
        print(
            f"CPU per chunk: {args.chunk_streams} streams of {args.chunks} and of 1 content chunk per target "
            f"(chunk delay {args.chunk_delay_ms:g} ms), {args.cpu_rounds} stretches ...",
            flush=True,
        )
        results["chunk_cpu"] = arun(stream_cpu(targets, fake_port, lengths, args.chunk_streams, args.cpu_rounds))
    set_scenario(fake_port, {})


def main() -> int:
    args = parse_args()
    bl.exit_cleanly_on_sigterm()
    started = dt.datetime.now(dt.UTC)
    out_path: Path = args.json or REPO / "bench" / "results" / f"streaming-{started:%Y%m%dT%H%M%SZ}.json"
    params = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "gateway_configs"}
    results: dict[str, Any] = {
        **provenance(started),
        "load_average_before": os.getloadavg(),
        "params": params,
    }
    children: list[bl.Child] = []
    with tempfile.TemporaryDirectory(prefix="gatewayz-bench-") as tmpname, ExitStack() as stack:
        tmp = Path(tmpname)
        try:
            _, targets, _ = start_targets(tmp, args, children, stack, results)
            arun(sanity(targets[0], targets[1:], stream=True))
            t0 = time.monotonic()
            measure(args, targets, results)
            results["elapsed_s"] = round(time.monotonic() - t0, 1)
        finally:
            for child in reversed(children):
                child.stop()
    results["load_average_after"] = os.getloadavg()
    results["kinds"] = {t.name: t.kind for t in targets}
    results["summary"] = summarize(results)
    report(results)
    cells = [*results.get("ttfb", {}).values()]
    cells += [c for per in results.get("chunk_cpu", {}).values() for c in per.values()]
    bl.write_results(out_path, results, errors=sum(c.get("errors", 0) for c in cells))
    return 0


if __name__ == "__main__":
    bl.script_main(main)
