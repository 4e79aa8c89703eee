"""Gateway overhead benchmark: the fake upstream called directly, through baseline proxies, and
through the gateway (one or more storage configurations), all in the same run.

Run from the repo root: ``.venv/bin/python bench/run.py [--duration 10] [--gateways sqlite,pg+redis+limit]``.
It starts the fake upstream (``python -m tests.fakeprovider``), the bare Python proxy
(``bench/bare_proxy.py``), nginx as a reverse proxy (when installed) and ``gatewayz serve`` on free
127.0.0.1 ports, measures every target against the same upstream, prints tables and writes JSON.
See bench/README.md for what each number means.

The pieces live in ``targets`` (requests, targets), ``backends`` (SQLite / PostgreSQL / Redis),
``servers`` (the processes), ``checks`` (sanity), ``measure`` and ``report``; the names other
scripts use are importable from here as well.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import subprocess
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import benchlib as bl
import loadgen
from backends import DEFAULT_RATE_LIMIT, PG_ADMIN_URL, REDIS_URL, GatewayConfig, Provisioned, provisioned
from canned import start_canned_upstream
from checks import call, face_text, rate_limit_headers, sanity, sanity_face
from measure import cpu_per_request, latency, summarize, throughput
from report import face_summary, report, report_faces, report_vs_bare, target_summary
from servers import grant_credits, start_bare_proxy, start_gateway, start_nginx_proxy, start_upstream
from targets import (
    FACES,
    MAX_RUN_S,
    MESSAGES,
    MODEL,
    REPO,
    ROUTE,
    UPSTREAM_KEY,
    WARMUP,
    Target,
    arun,
    git,
    provenance,
    ratio,
)

__all__ = [  # what other scripts (history.py, stages.py) import from here
    "FACES",
    "MAX_RUN_S",
    "MESSAGES",
    "MODEL",
    "REPO",
    "WARMUP",
    "Target",
    "arun",
    "call",
    "cpu_per_request",
    "face_text",
    "git",
    "grant_credits",
    "latency",
    "ratio",
    "sanity",
    "sanity_face",
    "start_gateway",
    "start_upstream",
    "summarize",
    "throughput",
]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=10.0, help="seconds of each throughput run (default 10)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of load before each throughput run")
    p.add_argument("--connections", type=int, default=64, help="concurrent connections for throughput")
    p.add_argument("--requests", type=int, default=2000, help="sequential requests for latency (default 2000)")
    p.add_argument("--stream-requests", type=int, default=500, help="sequential streaming requests (0: skip)")
    p.add_argument(
        "--face-requests",
        type=int,
        default=1000,
        help="sequential requests per face target (/v1/responses twice, /v1/messages; 0: skip the faces)",
    )
    p.add_argument("--cpu-requests", type=int, default=1000, help="requests per target for server CPU per request")
    p.add_argument("--face-stream-requests", type=int, default=250, help="sequential streams per face target")
    p.add_argument("--rounds", type=int, default=100, help="turns the targets take in a latency run (default 100)")
    p.add_argument("--face-budget-ms", type=float, default=0.2, help="allowed face p50 over gateway chat")
    p.add_argument("--workers", type=int, default=1, help="worker processes of each gateway and proxy (default 1)")
    p.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1: leave cores to servers)")
    p.add_argument("--no-wrk", action="store_true", help="use the Python load generator even if wrk exists")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--gateway-src", type=Path, default=None, help="import gatewayz from this src/ dir (A/B runs)")
    p.add_argument(
        "--pricing",
        choices=("paid", "free"),
        default="paid",
        help="paid: grant the admin credits so each request holds and settles (default); free: price the model at 0",
    )
    p.add_argument(
        "--gateways",
        default="sqlite",
        help="comma-separated gateway configurations, each DB[+redis][+limit] with DB sqlite or pg "
        "(default sqlite; e.g. sqlite,pg+redis+limit); the faces run on the first",
    )
    p.add_argument(
        "--rate-limit", default=DEFAULT_RATE_LIMIT, help=f"the +limit rate limit (default {DEFAULT_RATE_LIMIT})"
    )
    p.add_argument("--pg-url", default=PG_ADMIN_URL, help="PostgreSQL to create throwaway databases in (+pg)")
    p.add_argument("--redis-url", default=REDIS_URL, help="Redis for +redis (keys under a prefix of the run's own)")
    p.add_argument("--log-level", default="warning", help="the gateways' GATEWAYZ_LOG_LEVEL (info: access log on)")
    p.add_argument(
        "--upstream",
        choices=("fake", "canned"),
        default="fake",
        help="fake: the Python fake provider (default); canned: nginx replaying its answers (needs nginx)",
    )
    p.add_argument("--no-bare", action="store_true", help="leave out the bare Python proxy")
    p.add_argument("--bare-app", choices=("asgi", "fastapi"), default="asgi", help="the bare proxy's app (asgi)")
    p.add_argument("--no-nginx", action="store_true", help="leave out nginx (also left out when not installed)")
    p.add_argument("--json", type=Path, default=None, help="results file (default bench/results/<utc>.json)")
    args = p.parse_args()
    args.gateway_configs = [GatewayConfig.parse(s) for s in args.gateways.split(",") if s.strip()]
    if not args.gateway_configs:
        p.error("--gateways: at least one configuration")
    return args


def start_targets(
    tmp: Path, args: argparse.Namespace, children: list[bl.Child], stack: ExitStack, results: dict[str, Any]
) -> tuple[bl.Child, list[Target], dict[str, Provisioned]]:
    """The upstream, then every target on it: direct first, the baselines, the gateways."""
    upstream, up_port = start_upstream(tmp, children)
    if args.upstream == "canned":
        upstream, up_port = start_canned_upstream(tmp, up_port, children)
    targets = [Target("direct", upstream, up_port, MODEL, UPSTREAM_KEY, kind="direct")]
    labels = {"direct": f"upstream ({args.upstream}), called directly"}
    if not args.no_nginx:
        nginx = start_nginx_proxy(tmp, up_port, children, args.workers)
        if nginx is None:
            print("nginx: not on PATH, left out (apt-get install -y nginx)", flush=True)
        else:
            targets.append(Target("nginx proxy", nginx[0], nginx[1], MODEL, UPSTREAM_KEY, kind="baseline"))
            labels["nginx proxy"] = "nginx reverse proxy (keep-alive)"
    if not args.no_bare:
        bare, port = start_bare_proxy(tmp, up_port, children, args.bare_app, args.workers)
        targets.append(Target("bare proxy", bare, port, ROUTE, "unused", kind="baseline"))
        labels["bare proxy"] = f"bare Python proxy ({args.bare_app} + aiohttp)"
    storages: dict[str, Provisioned] = {}
    results["billing"] = {}
    for n, config in enumerate(args.gateway_configs):
        name = "gateway" if n == 0 else f"gateway {config.spec}"
        storage = stack.enter_context(provisioned(config, args.rate_limit, args.pg_url, args.redis_url))
        admin_key = "gw_live_" + secrets.token_urlsafe(32)
        gw, port, ready_s, billing = start_gateway(tmp, up_port, args, admin_key, children, storage, name)
        print(f"{name} ({config.label}) ready after {ready_s:.1f}s; {storage.database}; billing: {billing}", flush=True)
        targets.append(Target(name, gw, port, ROUTE, admin_key))
        labels[name] = f"Gatewayz, {config.label}"
        storages[name] = storage
        results["billing"][name] = f"{config.label}; {storage.database}; {billing}; ready after {ready_s:.1f}s"
    results["labels"] = labels
    return upstream, targets, storages


def measure_all(
    args: argparse.Namespace, tmp: Path, upstream: bl.Child, targets: list[Target], faces: list[Target]
) -> dict[str, dict[str, Any]]:
    where: dict[str, dict[str, Any]] = {t.name: {} for t in (*targets, *faces)}
    plan = [(t, args.requests) for t in targets] + [(f, args.face_requests) for f in faces]
    print(
        f"latency: {args.requests} sequential requests per target ({', '.join(t.name for t in targets)}), "
        f"{args.face_requests} per face ({', '.join(f.name for f in faces) or 'none'}), {args.rounds} rounds ...",
        flush=True,
    )
    for name, stats in arun(latency(plan, False, args.rounds)).items():
        where[name]["latency"] = stats
    if args.stream_requests > 0:
        plan = [(t, args.stream_requests) for t in targets]
        if args.face_stream_requests > 0:
            plan += [(f, args.face_stream_requests) for f in faces]
        per_face = f", {args.face_stream_requests} per face" if faces else ""
        print(f"streaming: {args.stream_requests} sequential requests per target{per_face} ...", flush=True)
        for name, stats in arun(latency(plan, True, args.rounds)).items():
            where[name]["stream"] = stats
    if args.cpu_requests > 0:
        print(f"server CPU: {args.cpu_requests} sequential requests per target ...", flush=True)
        for name, us in arun(cpu_per_request([(t, args.cpu_requests) for t in (*targets, *faces)])).items():
            where[name]["cpu_us_per_req"] = us
    if not args.skip_throughput:
        for t in targets:
            print(f"throughput: {t.name}, {args.connections} connections, {args.duration:g}s ...", flush=True)
            where[t.name]["throughput"] = throughput(t, args, tmp, upstream)
    return where


def money_path(target: Target) -> dict[str, Any]:
    """The gateway's own account of its money path (/health/ready as admin): group commits, leases."""
    request = urllib.request.Request(f"http://127.0.0.1:{target.port}/health/ready",
                                     headers={"Authorization": f"Bearer {target.token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return dict(json.loads(response.read())["checks"].get("billing", {}))
    except (OSError, ValueError, KeyError) as exc:
        return {"error": str(exc)}


def main() -> int:
    args = parse_args()
    bl.exit_cleanly_on_sigterm()
    started = dt.datetime.now(dt.UTC)
    out_path: Path = args.json or REPO / "bench" / "results" / f"{started:%Y%m%dT%H%M%SZ}.json"
    wrk = None if args.no_wrk else loadgen.wrk_path()
    generator = "python (asyncio, fallback; may be the bottleneck)"
    if wrk:
        version = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10).stdout.split("\n")[0]
        generator = f"wrk ({version.split(' Copyright')[0].strip()}, {args.wrk_threads} thread(s))"
    params = {k: v for k, v in vars(args).items() if k != "gateway_configs"}
    results: dict[str, Any] = {
        **provenance(started),
        "params": {
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in params.items()},
            "load_generator": generator,
        },
    }
    print(f"load generator: {generator}", flush=True)
    children: list[bl.Child] = []
    with tempfile.TemporaryDirectory(prefix="gatewayz-bench-") as tmpname, ExitStack() as stack:
        tmp = Path(tmpname)
        try:
            upstream, targets, storages = start_targets(tmp, args, children, stack, results)
            expected = arun(sanity(targets[0], targets[1:], stream=args.stream_requests > 0))
            for t in targets:
                config = storages[t.name].config if t.name in storages else None
                if config is not None and config.limit:
                    results.setdefault("rate_limit_headers", {})[t.name] = arun(rate_limit_headers(t))
            gateway = next(t for t in targets if t.name == "gateway")
            faces = [
                Target(f, gateway.child, gateway.port, gateway.model, gateway.token, f, kind="face")
                for f in FACES
                if f != "chat" and args.face_requests > 0
            ]
            for face in faces:
                arun(sanity_face(face, expected, args.stream_requests > 0 and args.face_stream_requests > 0))
            t0 = time.monotonic()
            where = measure_all(args, tmp, upstream, targets, faces)
            results["elapsed_s"] = round(time.monotonic() - t0, 1)
            results["redis_keys"] = {n: s.redis_key_count() for n, s in storages.items() if s.redis_prefix}
            results["money_path"] = {t.name: money_path(t) for t in targets if t.kind == "gateway"}
        finally:
            for child in reversed(children):
                child.stop()
    results["kinds"] = {t.name: t.kind for t in targets}
    results["targets"] = {t.name: where[t.name] for t in targets}
    results["direct"], results["gateway"] = where["direct"], where["gateway"]
    results["faces"] = {f.name: where[f.name] for f in faces}
    d, g = results["direct"], results["gateway"]
    results["summary"] = {
        "added_p50_ms": g["latency"]["p50_ms"] - d["latency"]["p50_ms"],
        "added_p99_ms": g["latency"]["p99_ms"] - d["latency"]["p99_ms"],
        "targets": target_summary(results),
    }
    if "throughput" in d:
        results["summary"]["rps_ratio"] = ratio(g["throughput"]["rps"], d["throughput"]["rps"])
    if "stream" in d:
        results["summary"]["added_stream_ttfb_p50_ms"] = g["stream"]["ttfb_p50_ms"] - d["stream"]["ttfb_p50_ms"]
    results["summary"]["faces"] = face_summary(results, args.face_budget_ms)
    report(results)
    report_vs_bare(results)
    report_faces(results, args.face_budget_ms)
    for name, money in results.get("money_path", {}).items():
        if money.get("group_commits"):
            print(f"{name}: {money['grouped_settlements']} settlements in {money['group_commits']} group commits "
                  f"({money['grouped_settlements'] / money['group_commits']:.1f} per commit); {money}")
    if results.get("redis_keys"):
        print(f"Redis keys written under each gateway's prefix (removed after the run): {results['redis_keys']}")
    every = (*results["targets"].values(), *results["faces"].values())
    errors = sum(v.get("errors", 0) for r in every for v in r.values() if isinstance(v, dict))
    bl.write_results(out_path, results, errors=errors)
    return 0


if __name__ == "__main__":
    bl.script_main(main)
