"""Where the gateway's CPU goes per request: py-spy on ``gatewayz serve`` under a steady chat load.

Run from the repo root: ``.venv/bin/python bench/stages.py [--gateway sqlite] [--duration 10]``.
It starts the fake upstream (``--upstream canned``: nginx replaying it) and one gateway
(``--gateway DB[+redis][+limit]``, as ``run.py --gateways``), checks that it answers, loads it
with ``--connections`` keep-alive connections sending the chat request (wrk when installed) for
``--warmup`` seconds unsampled, then attaches ``py-spy record --pid`` (raw format, per thread,
``--rate`` Hz, idle threads excluded) for the measured ``--duration`` seconds of the same load.

It prints each stage's share of the gateway's CPU: every sample is charged to a stage
(``stage_buckets.py`` says how) and weighs what its thread's measured CPU over the stretch
(/proc schedstat) divided by that thread's samples says, since py-spy counts threads blocked on a
queue as busy. The µs per request are those shares of the gateway's CPU over the measured load
divided by the requests completed. Then the leaf functions where the most CPU went. Raw stacks
and a JSON summary go to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import benchlib as bl
import loadgen
from backends import DEFAULT_RATE_LIMIT, PG_ADMIN_URL, REDIS_URL, GatewayConfig, provisioned
from canned import start_canned_upstream
from checks import sanity
from servers import start_gateway, start_upstream
from stage_buckets import Profile, read_raw
from targets import BIN, MODEL, REPO, ROUTE, UPSTREAM_KEY, Target, arun, git


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gateway", default="sqlite", help="DB[+redis][+limit], e.g. pg+redis+limit (default sqlite)")
    p.add_argument("--connections", type=int, default=64, help="keep-alive connections of the load (default 64)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of load before sampling (default 3)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds sampled under load (default 10)")
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second (default 250)")
    p.add_argument("--nonblocking", action="store_true", help="py-spy does not pause the gateway to sample")
    p.add_argument("--top", type=int, default=15, help="functions to list where most samples ended (default 15)")
    p.add_argument("--workers", type=int, default=1, help="gateway worker processes (all are sampled)")
    p.add_argument("--upstream", choices=("fake", "canned"), default="fake", help="as run.py (canned: nginx)")
    p.add_argument("--pricing", choices=("paid", "free"), default="paid", help="as run.py (default paid)")
    p.add_argument("--rate-limit", default=DEFAULT_RATE_LIMIT, help="the +limit rate limit")
    p.add_argument("--pg-url", default=PG_ADMIN_URL)
    p.add_argument("--redis-url", default=REDIS_URL)
    p.add_argument("--log-level", default="warning", help="the gateway's GATEWAYZ_LOG_LEVEL (info: access log on)")
    p.add_argument("--gateway-src", type=Path, default=None, help="import gatewayz from this src/ dir")
    p.add_argument("--no-wrk", action="store_true", help="use the Python load generator even if wrk exists")
    p.add_argument("--wrk-threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None, help="summary file (default bench/results/profile-<utc>.json)")
    args = p.parse_args()
    args.config = GatewayConfig.parse(args.gateway)
    return args


def py_spy() -> str:
    found = BIN / "py-spy"
    path = str(found) if found.is_file() else shutil.which("py-spy")
    if path is None:
        raise SystemExit("py-spy not found: .venv/bin/pip install py-spy")
    return path


def load_with(args: argparse.Namespace, gateway: Target, tmp: Path) -> Any:
    """A function running the chat load for some seconds: returns (requests completed, errors)."""
    wrk = None if args.no_wrk else loadgen.wrk_path()
    script = tmp / "chat.lua"
    script.write_text(loadgen.wrk_lua(gateway.body(), gateway.token))
    url = f"http://{bl.HOST}:{gateway.port}{gateway.path}"

    def load(seconds: float) -> tuple[float, float]:
        if wrk:
            res = loadgen.wrk_load(wrk, script, url, args.connections, seconds, args.wrk_threads)
            return res["requests"], res["errors"]
        ok, err, _elapsed = arun(loadgen.python_load(gateway.port, gateway.raw(), args.connections, seconds))
        return float(ok), float(err)

    return load


def sample(args: argparse.Namespace, gateway: Target, tmp: Path, raw: Path) -> tuple[dict[str, float], dict[int, int]]:
    """Warm up, then sample ``args.duration`` seconds of load. Returns the load's figures (with the
    gateway's CPU per request over the measured stretch) and each thread's CPU ns while py-spy ran."""
    load = load_with(args, gateway, tmp)
    load(args.warmup)
    argv = [py_spy(), "record", "--pid", str(gateway.child.proc.pid), "--subprocesses", "--threads"]
    argv += ["--full-filenames", "-f", "raw", "--nolineno", "-r", str(args.rate), "-d", str(int(args.duration + 2))]
    argv += ["-o", str(raw), *(["--nonblocking"] if args.nonblocking else [])]
    threads0 = gateway.child.thread_cpu_ns()
    spy = bl.spawn("py-spy", argv, tmp / "py-spy.log", REPO)
    try:
        time.sleep(1.0)  # attached and sampling before the measured load starts
        if spy.proc.poll() is not None:
            raise RuntimeError(f"py-spy exited: {spy.log_tail()}")
        cpu0 = gateway.child.cpu_ns()
        requests, errors = load(args.duration)
        cpu_ns = gateway.child.cpu_ns() - cpu0
        spy.proc.wait(timeout=args.duration + 60)  # it stops itself 1 s after the load
        threads = {tid: ns - threads0.get(tid, 0) for tid, ns in gateway.child.thread_cpu_ns().items()}
    finally:
        spy.stop()
    if not raw.is_file():
        raise RuntimeError(f"py-spy wrote no samples: {spy.log_tail()}")
    figures = {
        "requests": requests,
        "errors": errors,
        "rps": requests / args.duration,
        "cpu_us_per_req": cpu_ns / max(requests, 1.0) / 1e3,
        "cpu_cores": cpu_ns / 1e9 / args.duration,
    }
    return figures, threads


def report(profile: Profile, load: dict[str, float], threads: dict[int, int], top: int) -> dict[str, dict[str, float]]:
    """Each stage's share of the gateway's CPU (samples weighted by their thread's CPU) and µs/request."""
    weights = profile.weights(threads)
    cpu = profile.buckets(weights)
    total = sum(cpu.values()) or 1.0
    samples: Counter[str] = Counter()
    for (_tid, bucket), n in profile.samples.items():
        samples[bucket] += n
    per_req = load["cpu_us_per_req"]
    print(f"\n{'stage':<46}{'samples':>9}{'% CPU':>8}{'µs/req':>9}")
    rows: dict[str, dict[str, float]] = {}
    for bucket, ns in cpu.most_common():
        share = ns / total
        rows[bucket] = {"samples": float(samples[bucket]), "share": share, "us_per_req": share * per_req}
        print(f"{bucket:<46}{samples[bucket]:>9}{share * 100:>7.1f}%{share * per_req:>9.0f}")
    print(f"{'total':<46}{profile.total:>9}{100.0:>7.1f}%{per_req:>9.0f}")
    print(
        f"load: {load['rps']:.0f} req/s, {load['errors']:.0f} errors; gateway CPU {load['cpu_cores']:.2f} cores, "
        f"{per_req:.0f} µs per request (schedstat over the sampled stretch)"
    )
    per_thread = profile.thread_samples()
    print("threads (samples → measured CPU while sampled):", end="")
    for tid, n in per_thread.most_common(6):
        print(f"  {tid}: {n} → {threads.get(tid, 0) / 1e9:.2f} s", end="")
    print(f"  ({len(per_thread)} threads)")
    if top > 0:
        print(f"\n{'where the most CPU ended (leaf frame)':<90}{'% CPU':>8}  stage")
        for (bucket, leaf), ns in profile.top_leaves(weights, top):
            print(f"{leaf[:89]:<90}{ns / total * 100:>7.1f}%  {bucket}")
    return rows


def main() -> int:
    args = parse_args()
    bl.exit_cleanly_on_sigterm()
    started = dt.datetime.now(dt.UTC)
    stamp = f"profile-{started:%Y%m%dT%H%M%SZ}"
    out_path: Path = args.json or REPO / "bench" / "results" / f"{stamp}.json"
    raw_path = out_path.with_suffix(".raw.txt")
    raw_path.parent.mkdir(parents=True, exist_ok=True)
    children: list[bl.Child] = []
    with tempfile.TemporaryDirectory(prefix="gatewayz-profile-") as tmpname, ExitStack() as stack:
        tmp = Path(tmpname)
        try:
            upstream, up_port = start_upstream(tmp, children)
            if args.upstream == "canned":
                upstream, up_port = start_canned_upstream(tmp, up_port, children)
            storage = stack.enter_context(provisioned(args.config, args.rate_limit, args.pg_url, args.redis_url))
            admin_key = "gw_live_" + secrets.token_urlsafe(32)
            gw, port, ready_s, billing = start_gateway(tmp, up_port, args, admin_key, children, storage)
            print(f"gateway ({args.config.label}) ready after {ready_s:.1f}s; {storage.database}; {billing}")
            direct = Target("direct", upstream, up_port, MODEL, UPSTREAM_KEY, kind="direct")
            gateway = Target("gateway", gw, port, ROUTE, admin_key)
            arun(sanity(direct, [gateway]))
            print(
                f"load: {args.connections} connections, {args.warmup:g}s warm-up, then {args.duration:g}s "
                f"sampled by py-spy at {args.rate} Hz ...",
                flush=True,
            )
            load, threads = sample(args, gateway, tmp, raw_path)
        finally:
            for child in reversed(children):
                child.stop()
    profile = read_raw(raw_path)
    rows = report(profile, load, threads, args.top)
    version = subprocess.run([py_spy(), "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    summary = {
        "started_utc": started.isoformat(timespec="seconds"),
        "repo_head": git("rev-parse", "--short", "HEAD"),
        "src_modified_files": len(git("status", "--porcelain", "src").splitlines()),
        "params": {k: str(v) if isinstance(v, Path | GatewayConfig) else v for k, v in vars(args).items()},
        "py_spy": version,
        "gateway": f"{args.config.label}; {billing}",
        "load": load,
        "samples": profile.total,
        "stages": rows,
        "raw": str(raw_path),
    }
    bl.write_results(out_path, summary, extra=f" (raw stacks: {raw_path})")
    return 0


if __name__ == "__main__":
    bl.script_main(main)
