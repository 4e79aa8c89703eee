"""Gateway memory over requests: the resident set (RSS) of each gateway worker after 10k … 100k requests.

Run from the repo root: ``.venv/bin/python bench/memory.py [--gateway sqlite] [--upstream canned]``.
It starts the upstream and one gateway as ``run.py`` does (the same pieces; SQLite by default),
checks that it answers, then loads it with ``--connections`` keep-alive connections sending the
benchmark's chat request (wrk when on PATH, else the asyncio generator of ``loadgen.py``) in
segments sized to stop near each of ``--checkpoints``; at each checkpoint, a second after the load
stopped, it reads ``VmRSS`` and ``VmHWM`` of every process of the gateway's tree from
``/proc/<pid>/status``. Issue 13's bounds: RSS flat (±10%) from the first checkpoint to the last,
and at most 150 MB per worker. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import secrets
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import benchlib as bl
import loadgen
from backends import DEFAULT_RATE_LIMIT, PG_ADMIN_URL, REDIS_URL, GatewayConfig, provisioned
from canned import start_canned_upstream
from checks import sanity
from measure import load_runner
from servers import slug, start_gateway, start_upstream
from targets import MODEL, REPO, ROUTE, UPSTREAM_KEY, Target, arun, provenance, ratio

GROWTH_BOUND = 0.10  # issue 13: RSS flat within ±10% from 10k to 100k requests
WORKER_BOUND_MB = 150.0  # issue 13: per worker
SETTLE_S = 1.0  # between the end of a load segment and the reading
MAX_SEGMENT_S = 30.0
STATUS_KEYS = {"VmRSS": "rss_mb", "VmHWM": "hwm_mb", "RssAnon": "anon_mb", "RssFile": "file_mb", "RssShmem": "shmem_mb"}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--checkpoints",
        default="1000,10000,25000,50000,100000",
        help="request counts after which RSS is read (default 1000,10000,25000,50000,100000)",
    )
    p.add_argument("--connections", type=int, default=64, help="concurrent connections (default 64)")
    p.add_argument("--max-seconds", type=float, default=600.0, help="bound of the whole load (default 600)")
    p.add_argument("--idle-after", type=float, default=10.0, help="one more reading after this idle time (0: none)")
    p.add_argument("--gateway", default="sqlite", help="the gateway configuration as in run.py (default sqlite)")
    p.add_argument("--workers", type=int, default=1, help="gateway worker processes (default 1)")
    p.add_argument("--pricing", choices=("paid", "free"), default="paid", help="as in run.py (default paid)")
    p.add_argument("--rate-limit", default=DEFAULT_RATE_LIMIT, help="the +limit rate limit")
    p.add_argument("--pg-url", default=PG_ADMIN_URL, help="PostgreSQL to create a throwaway database in (pg)")
    p.add_argument("--redis-url", default=REDIS_URL, help="Redis for +redis")
    p.add_argument("--log-level", default="warning", help="the gateway's GATEWAYZ_LOG_LEVEL (info: access log on)")
    p.add_argument("--gateway-src", type=Path, default=None, help="import gatewayz from this src/ dir (A/B runs)")
    p.add_argument(
        "--upstream",
        choices=("fake", "canned"),
        default="fake",
        help="fake: the Python fake provider (default); canned: nginx replaying its answers (needs nginx)",
    )
    p.add_argument("--no-wrk", action="store_true", help="use the Python load generator even if wrk exists")
    p.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    p.add_argument("--json", type=Path, default=None, help="results file (default bench/results/memory-<utc>.json)")
    args = p.parse_args()
    args.config = GatewayConfig.parse(args.gateway)
    try:
        args.checkpoint_list = sorted({int(c) for c in args.checkpoints.split(",") if c.strip()})
    except ValueError:
        p.error("--checkpoints: comma-separated request counts")
    if not args.checkpoint_list or args.checkpoint_list[0] <= 0:
        p.error("--checkpoints: positive request counts")
    return args


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS) and the RSS split (anonymous: the heap; file: mapped files such as
    SQLite's ``-shm`` WAL index and the shared libraries; shmem) of one process, in kB."""
    out = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in STATUS_KEYS:
                out[name] = int(value.split()[0])
    return out


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    return ""


def rss_sample(child: bl.Child, requests: float, elapsed_s: float, data_dir: Path | None) -> dict[str, Any]:
    """Every process of the gateway's tree. With one worker uvicorn serves in the ``gatewayz serve``
    process itself; with more, that process supervises and the workers are its children (Python's
    multiprocessing resource tracker, if any, is not a worker)."""
    root, tree = child.proc.pid, child.tree()
    procs = []
    for pid in sorted(tree):
        role = "tracker" if "resource_tracker" in cmdline(pid) else "worker"
        if pid == root and len(tree) > 1:
            role = "supervisor"
        procs.append({"pid": pid, "role": role, **{STATUS_KEYS[k]: v / 1024 for k, v in status_kb(pid).items()}})
    workers = [p for p in procs if p["role"] == "worker"]
    sample: dict[str, Any] = {
        "requests": requests,
        "elapsed_s": round(elapsed_s, 1),
        "processes": procs,
        "worker_rss_mb_max": max((p.get("rss_mb", 0.0) for p in workers), default=float("nan")),
        "worker_anon_mb_max": max((p.get("anon_mb", 0.0) for p in workers), default=float("nan")),
        "worker_rss_mb_sum": sum(p.get("rss_mb", 0.0) for p in workers),
    }
    if data_dir is not None and data_dir.is_dir():
        sizes = {str(f.relative_to(data_dir)): f.stat().st_size / 2**20 for f in data_dir.rglob("*") if f.is_file()}
        sample["data_dir_mb"] = sum(sizes.values())
        sample["data_files_mb"] = {name: round(mb, 2) for name, mb in sorted(sizes.items()) if mb >= 0.1}
    return sample


def show(label: str, sample: dict[str, Any]) -> None:
    text = f"{label}: worker RSS {sample['worker_rss_mb_max']:.1f} MB (anonymous {sample['worker_anon_mb_max']:.1f})"
    if "data_files_mb" in sample:
        text += ", data dir " + ", ".join(f"{name} {mb:.1f}" for name, mb in sample["data_files_mb"].items()) + " MB"
    print(text, flush=True)


def run_load(args: argparse.Namespace, gateway: Target, tmp: Path, data_dir: Path | None) -> dict[str, Any]:
    """Load in segments, each sized from the last segment's rate to end just short of the next
    checkpoint and then topped up by short ones; then, with ``--idle-after``, one reading after idling."""
    load = load_runner(gateway, args, tmp)
    samples = [rss_sample(gateway.child, 0, 0.0, data_dir)]
    show("        0 requests", samples[0])
    segments: list[dict[str, float]] = []
    total = errors = 0.0
    rate: float | None = None
    start = time.monotonic()
    deadline = start + args.max_seconds
    for checkpoint in args.checkpoint_list:
        while total < checkpoint and time.monotonic() < deadline:
            left = checkpoint - total
            seconds = 2.0 if rate is None else min(max(0.9 * left / rate, 1.0), MAX_SEGMENT_S)
            seconds = min(seconds, max(deadline - time.monotonic(), 1.0))
            res = load(seconds)
            total += res["requests"]
            errors += res.get("errors", 0.0)
            rate = max(rate or 0.0, res["rps"]) or None  # the best rate so far: segments fall short, not over
            segments.append({"seconds": seconds, "requests": res["requests"], "rps": res["rps"]})
        if total < checkpoint:
            print(f"--max-seconds reached at {total:.0f} requests, before {checkpoint}", flush=True)
            break
        if samples[-1]["requests"] == total:  # the last segment passed this checkpoint too
            continue
        time.sleep(SETTLE_S)
        samples.append(rss_sample(gateway.child, total, time.monotonic() - start, data_dir))
        show(f"{total:>9.0f} requests, {samples[-1]['elapsed_s']:6.1f}s", samples[-1])
    idle = None
    if args.idle_after > 0:
        time.sleep(args.idle_after)
        idle = rss_sample(gateway.child, total, time.monotonic() - start, data_dir)
        show(f"after {args.idle_after:g}s idle", idle)
    return {"samples": samples, "idle_sample": idle, "segments": segments, "requests": total, "errors": errors}


def summarize(samples: list[dict[str, Any]], checkpoints: list[int]) -> dict[str, Any]:
    """The bounds are judged from the first sample at or past 10k requests (or the first checkpoint)
    to the first at or past 100k (or the last); ``growth_by_checkpoint`` has every checkpoint."""
    loaded = [s for s in samples if s["requests"] > 0]
    if len(loaded) < 2:
        return {"note": "fewer than two checkpoints reached"}
    base = next((s for s in loaded if s["requests"] >= 10_000), loaded[0])
    last = next((s for s in loaded if s["requests"] >= 100_000), loaded[-1])
    growth = ratio(last["worker_rss_mb_max"], base["worker_rss_mb_max"]) - 1
    peak = max(p.get("hwm_mb", 0.0) for s in loaded for p in s["processes"] if p["role"] == "worker")
    return {
        "from_requests": base["requests"],
        "to_requests": last["requests"],
        "worker_rss_mb_from": base["worker_rss_mb_max"],
        "worker_rss_mb_to": last["worker_rss_mb_max"],
        "growth": growth,
        "worker_anon_mb_from": base["worker_anon_mb_max"],
        "worker_anon_mb_to": last["worker_anon_mb_max"],
        "anon_growth": ratio(last["worker_anon_mb_max"], base["worker_anon_mb_max"]) - 1,
        "growth_by_checkpoint": [
            {
                "requests": s["requests"],
                "rss": ratio(s["worker_rss_mb_max"], base["worker_rss_mb_max"]) - 1,
                "anon": ratio(s["worker_anon_mb_max"], base["worker_anon_mb_max"]) - 1,
            }
            for s in loaded
        ],
        "worker_peak_rss_mb": peak,
        "flat_ok": abs(growth) <= GROWTH_BOUND,
        "per_worker_ok": peak <= WORKER_BOUND_MB,
        "all_checkpoints_reached": loaded[-1]["requests"] >= checkpoints[-1],
    }


def main() -> int:
    args = parse_args()
    bl.exit_cleanly_on_sigterm()
    started = dt.datetime.now(dt.UTC)
    out_path: Path = args.json or REPO / "bench" / "results" / f"memory-{started:%Y%m%dT%H%M%SZ}.json"
    wrk = None if args.no_wrk else loadgen.wrk_path()
    generator = f"wrk ({args.wrk_threads} thread(s))" if wrk else "python (asyncio, fallback)"
    params = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "config"}
    results: dict[str, Any] = {
        **provenance(started),
        "load_average_before": os.getloadavg(),
        "params": {**params, "config": args.config.spec, "load_generator": generator},
    }
    print(f"load generator: {generator}", flush=True)
    children: list[bl.Child] = []
    with tempfile.TemporaryDirectory(prefix="gatewayz-bench-") as tmpname, ExitStack() as stack:
        tmp = Path(tmpname)
        try:
            upstream, up_port = start_upstream(tmp, children)
            if args.upstream == "canned":
                upstream, up_port = start_canned_upstream(tmp, up_port, children)
            direct = Target("direct", upstream, up_port, MODEL, UPSTREAM_KEY, kind="direct")
            storage = stack.enter_context(provisioned(args.config, args.rate_limit, args.pg_url, args.redis_url))
            admin_key = "gw_live_" + secrets.token_urlsafe(32)
            child, port, ready_s, billing = start_gateway(tmp, up_port, args, admin_key, children, storage)
            print(f"gateway ({args.config.label}) ready after {ready_s:.1f}s; {billing}", flush=True)
            results["billing"] = f"{args.config.label}; {storage.database}; {billing}"
            gateway = Target("gateway", child, port, ROUTE, admin_key)
            arun(sanity(direct, [gateway]))
            data_dir = tmp / slug("gateway") / "data" if args.config.database == "sqlite" else None
            results["load"] = run_load(args, gateway, tmp, data_dir)
        finally:
            for child_ in reversed(children):
                child_.stop()
    results["load_average_after"] = os.getloadavg()
    summary = results["summary"] = summarize(results["load"]["samples"], args.checkpoint_list)
    if "growth" in summary:
        print(
            f"\nworker RSS {summary['worker_rss_mb_from']:.1f} MB at {summary['from_requests']:.0f} requests -> "
            f"{summary['worker_rss_mb_to']:.1f} MB at {summary['to_requests']:.0f} ({summary['growth']:+.1%}; "
            f"bound ±{GROWTH_BOUND:.0%}: {'ok' if summary['flat_ok'] else 'OVER'}); "
            f"peak {summary['worker_peak_rss_mb']:.1f} MB "
            f"(bound {WORKER_BOUND_MB:.0f} MB per worker: {'ok' if summary['per_worker_ok'] else 'OVER'})"
        )
    if "anon_growth" in summary:
        steps = ", ".join(f"{g['requests'] / 1000:.0f}k {g['rss']:+.1%}" for g in summary["growth_by_checkpoint"])
        print(f"RSS against {summary['from_requests'] / 1000:.0f}k requests: {steps}")
        print(
            f"anonymous (heap) part: {summary['worker_anon_mb_from']:.1f} -> {summary['worker_anon_mb_to']:.1f} MB "
            f"({summary['anon_growth']:+.1%}); the rest is mapped files (SQLite's -shm grows with its WAL)"
        )
    bl.write_results(out_path, results, errors=results["load"]["errors"])
    return 0


if __name__ == "__main__":
    bl.script_main(main)
