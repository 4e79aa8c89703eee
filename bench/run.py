"""Gateway overhead benchmark: the fake upstream called directly vs. through the gateway.

Run from the repo root: ``.venv/bin/python bench/run.py [--duration 10] [--workers 1]``.
It starts the fake upstream (``python -m tests.fakeprovider``) and ``gatewayz serve`` in temp dirs on
free 127.0.0.1 ports, measures both targets against the same upstream, prints a table and writes JSON.
See bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

import benchlib as bl

try:
    from uvloop import run as arun  # the same lean loop for both targets
except ImportError:
    from asyncio import run as arun

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "hello"}]


@dataclass
class Target:
    name: str
    child: bl.Child
    port: int
    model: str
    token: str

    def body(self, stream: bool = False) -> bytes:
        payload: dict[str, Any] = {"model": self.model, "messages": MESSAGES}
        if stream:
            payload["stream"] = True
        return orjson.dumps(payload)

    def raw(self, stream: bool = False) -> bytes:
        return bl.build_request(self.port, "/v1/chat/completions", self.body(stream), self.token)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=10.0, help="seconds of each throughput run (default 10)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of load before each throughput run")
    p.add_argument("--connections", type=int, default=64, help="concurrent connections for throughput")
    p.add_argument("--requests", type=int, default=2000, help="sequential requests for latency (default 2000)")
    p.add_argument("--stream-requests", type=int, default=500, help="sequential streaming requests (0: skip)")
    p.add_argument("--workers", type=int, default=1, help="gateway worker processes (default 1)")
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
    p.add_argument("--json", type=Path, default=None, help="results file (default bench/results/<utc>.json)")
    return p.parse_args()


def start_upstream(tmp: Path, children: list[bl.Child]) -> tuple[bl.Child, int]:
    argv = [sys.executable, "-m", "tests.fakeprovider", "--host", bl.HOST, "--port", "0", "--no-record"]
    child = bl.spawn("fakeprovider", argv, tmp / "upstream.log", REPO)
    children.append(child)  # stopped in main's finally even if it never gets ready
    port = int(bl.wait_for_line(child, r"listening on http://[\d.]+:(\d+)", 30).group(1))
    return child, port


def start_gateway(
    tmp: Path, upstream_port: int, args: argparse.Namespace, admin_key: str, children: list[bl.Child]
) -> tuple[bl.Child, int, float, str]:
    config = tmp / "gatewayz.toml"
    text = (
        f'[providers.bench]\nprotocol = "openai"\nbase_url = "http://{bl.HOST}:{upstream_port}/v1"\n'
        f'api_key = "sk-bench"\nmodels = ["{MODEL}"]\n'
    )
    if args.pricing == "free":
        text += f'\n[providers.bench.pricing."{MODEL}"]\nprompt = 0.0\ncompletion = 0.0\n'
    config.write_text(text)
    (tmp / "data").mkdir()
    env = {
        **os.environ,
        "GATEWAYZ_DATA_DIR": str(tmp / "data"),
        "GATEWAYZ_ADMIN_KEY": admin_key,
        "GATEWAYZ_CONFIG": str(config),
        "GATEWAYZ_LOG_LEVEL": "warning",
    }
    if args.gateway_src:
        env["PYTHONPATH"] = str(args.gateway_src.resolve())
    port = bl.free_port()
    argv = [str(BIN / "gatewayz"), "serve", "--host", bl.HOST, "--port", str(port), "--workers", str(args.workers)]
    child = bl.spawn("gateway", argv, tmp / "gateway.log", REPO, env)
    children.append(child)
    ready_s = bl.wait_http_ok(child, f"http://{bl.HOST}:{port}/health", 90)
    where = [sys.executable, "-c", "import gatewayz; print(gatewayz.__file__)"]
    module = subprocess.run(where, cwd=REPO, env=env, capture_output=True, text=True, timeout=60).stdout.strip()
    billing = "model priced at 0"
    if args.pricing == "paid":
        billing = grant_credits(f"http://{bl.HOST}:{port}", admin_key)
    return child, port, ready_s, f"{billing}; gatewayz from {module}"


def grant_credits(base: str, admin_key: str) -> str:
    """Give the admin (the only user) credits through the admin API, so requests hold and settle."""
    status, users = bl.http_json(f"{base}/admin/users", admin_key)
    if status != 200 or not users or not users.get("data"):
        raise RuntimeError(f"GET /admin/users answered {status}")
    uid = users["data"][0]["id"]
    payload = {"user_id": uid, "amount": "1000000", "reason": "benchmark"}
    status, body = bl.http_json(f"{base}/admin/credits", admin_key, payload)
    if status == 404:
        return "no /admin/credits in this tree (no billing?)"
    if status != 201:
        raise RuntimeError(f"POST /admin/credits answered {status} (try --pricing free)")
    return f"granted ${body['amount']} to user {uid}"


async def sanity(direct: Target, gateway: Target) -> None:
    """Both targets answer 200 with the same completion, and the gateway refuses a missing key."""
    bodies = []
    for t in (direct, gateway):
        conn = bl.Conn(t.port)
        try:
            reply = await conn.send(t.raw(), keep_body=True)
        finally:
            await conn.close()
        if reply.status != 200 or b'"choices"' not in reply.body:
            raise RuntimeError(f"{t.name}: HTTP {reply.status}: {reply.body[:300]!r}\n{t.child.log_tail()}")
        bodies.append(orjson.loads(reply.body)["choices"][0]["message"]["content"])
    if bodies[0] != bodies[1]:
        raise RuntimeError(f"gateway answered {bodies[1]!r}, upstream {bodies[0]!r}")
    conn = bl.Conn(gateway.port)
    try:
        anon = await conn.send(bl.build_request(gateway.port, "/v1/chat/completions", gateway.body(), None))
    finally:
        await conn.close()
    if anon.status != 401:
        raise RuntimeError(f"gateway answered {anon.status} to a request without a key (expected 401)")


def summarize(run: bl.LatencyRun, stream: bool) -> dict[str, float]:
    out = {"n": float(len(run.total_ms)), "errors": float(run.errors)}
    for p in (50, 90, 99):
        out[f"p{p}_ms"] = bl.percentile(run.total_ms, p)
        if stream:
            out[f"ttfb_p{p}_ms"] = bl.percentile(run.ttfb_ms, p)
    out["mean_ms"] = sum(run.total_ms) / len(run.total_ms) if run.total_ms else float("nan")
    return out


async def latency(targets: list[Target], count: int, stream: bool, blocks: int = 4) -> dict[str, dict[str, float]]:
    """Concurrency 1, the same client for each target, alternating blocks so drift hits both alike."""
    runs = {t.name: bl.LatencyRun() for t in targets}
    per_block = max(1, count // blocks)
    for b in range(blocks):
        for t in targets:
            part = await bl.sequential(t.port, t.raw(stream), per_block, 200 if b == 0 else 20, 120)
            runs[t.name].ttfb_ms += part.ttfb_ms
            runs[t.name].total_ms += part.total_ms
            runs[t.name].errors += part.errors
    return {name: summarize(run, stream) for name, run in runs.items()}


def throughput(t: Target, args: argparse.Namespace, tmp: Path, upstream: bl.Child) -> dict[str, float]:
    url = f"http://{bl.HOST}:{t.port}/v1/chat/completions"
    wrk = None if args.no_wrk else bl.wrk_path()
    script = tmp / f"{t.name}.lua"
    script.write_text(bl.wrk_lua(t.body(), t.token))

    def load(seconds: float) -> dict[str, float]:
        if wrk:
            return bl.wrk_load(wrk, script, url, args.connections, seconds, args.wrk_threads)
        ok, err, elapsed = arun(bl.python_load(t.port, t.raw(), args.connections, seconds))
        return {"rps": ok / elapsed, "requests": float(ok), "errors": float(err)}

    if args.warmup > 0:
        load(args.warmup)
    cpu0 = (t.child.cpu_seconds(), upstream.cpu_seconds())
    res = load(args.duration)
    cpu1 = (t.child.cpu_seconds(), upstream.cpu_seconds())
    n = max(res["requests"], 1.0)
    res["target_cpu_us_per_req"] = (cpu1[0] - cpu0[0]) / n * 1e6
    if t.child is not upstream:
        res["upstream_cpu_us_per_req"] = (cpu1[1] - cpu0[1]) / n * 1e6
    return res


def git(*argv: str) -> str:
    """Read-only git query for provenance ('' when git is unavailable)."""
    try:
        return subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def report(results: dict[str, Any]) -> None:
    d, g = results["direct"], results["gateway"]
    rows: list[tuple[str, float, float, str]] = []
    if "throughput" in d:
        dt_, gt = d["throughput"], g["throughput"]
        rows.append(
            (
                f"throughput rps (c={results['params']['connections']})",
                dt_["rps"],
                gt["rps"],
                f"x{ratio(gt['rps'], dt_['rps']):.3f}",
            )
        )
        for k in ("p50_ms", "p99_ms"):
            label = f"  c={results['params']['connections']} {k[:3]} ms"
            if k in dt_ and k in gt:
                rows.append((label, dt_[k], gt[k], f"+{gt[k] - dt_[k]:.2f} ms"))
        cpu = (dt_["target_cpu_us_per_req"], gt["target_cpu_us_per_req"])
        rows.append(("  server CPU µs/req", *cpu, "direct: upstream; gateway: gateway processes only"))
    for key, title in (("latency", "c=1"), ("stream", "c=1 stream")):
        if key not in d:
            continue
        for k in (["ttfb_p50_ms", "ttfb_p99_ms"] if key == "stream" else []) + ["p50_ms", "p99_ms"]:
            added = f"+{g[key][k] - d[key][k]:.3f} ms"
            rows.append((f"{title} {k.replace('_ms', '')} ms", d[key][k], g[key][k], added))
    print(f"\n{'metric':<26}{'direct':>12}{'gateway':>12}   gateway vs direct")
    for label, a, b, extra in rows:
        print(f"{label:<26}{a:>12.3f}{b:>12.3f}   {extra}")
    print(
        f"load generator: {results['params']['load_generator']}; gateway workers: {results['params']['workers']}; "
        f"billing: {results['billing']}"
    )


def main() -> int:
    args = parse_args()
    bl.exit_cleanly_on_sigterm()
    started = dt.datetime.now(dt.UTC)
    out_path: Path = args.json or REPO / "bench" / "results" / f"{started:%Y%m%dT%H%M%SZ}.json"
    wrk = None if args.no_wrk else bl.wrk_path()
    generator = "python (asyncio, fallback; may be the bottleneck)"
    if wrk:
        version = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10).stdout.split("\n")[0]
        generator = f"wrk ({version.split(' Copyright')[0].strip()}, {args.wrk_threads} thread(s))"
    results: dict[str, Any] = {
        "started_utc": started.isoformat(timespec="seconds"),
        "repo_head": git("rev-parse", "--short", "HEAD"),
        "src_modified_files": len(git("status", "--porcelain", "src").splitlines()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "params": {
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "load_generator": generator,
        },
    }
    print(f"load generator: {generator}", flush=True)
    children: list[bl.Child] = []
    with tempfile.TemporaryDirectory(prefix="gatewayz-bench-") as tmpname:
        tmp = Path(tmpname)
        try:
            upstream, up_port = start_upstream(tmp, children)
            admin_key = "gw_live_" + secrets.token_urlsafe(32)
            gw, gw_port, ready_s, billing = start_gateway(tmp, up_port, args, admin_key, children)
            results["gateway_ready_s"], results["billing"] = ready_s, billing
            print(f"gateway ready after {ready_s:.1f}s; billing: {billing}", flush=True)
            direct = Target("direct", upstream, up_port, MODEL, "sk-bench")
            gateway = Target("gateway", gw, gw_port, f"bench/{MODEL}", admin_key)
            arun(sanity(direct, gateway))
            results["direct"], results["gateway"] = {}, {}
            t0 = time.monotonic()
            print(f"latency: {args.requests} sequential requests per target ...", flush=True)
            for name, stats in arun(latency([direct, gateway], args.requests, False)).items():
                results[name]["latency"] = stats
            if args.stream_requests > 0:
                print(f"streaming: {args.stream_requests} sequential requests per target ...", flush=True)
                for name, stats in arun(latency([direct, gateway], args.stream_requests, True)).items():
                    results[name]["stream"] = stats
            if not args.skip_throughput:
                for t in (direct, gateway):
                    print(f"throughput: {t.name}, {args.connections} connections, {args.duration:g}s ...", flush=True)
                    results[t.name]["throughput"] = throughput(t, args, tmp, upstream)
            results["elapsed_s"] = round(time.monotonic() - t0, 1)
        finally:
            for child in reversed(children):
                child.stop()
    d, g = results["direct"], results["gateway"]
    results["summary"] = {
        "added_p50_ms": g["latency"]["p50_ms"] - d["latency"]["p50_ms"],
        "added_p99_ms": g["latency"]["p99_ms"] - d["latency"]["p99_ms"],
    }
    if "throughput" in d:
        results["summary"]["rps_ratio"] = ratio(g["throughput"]["rps"], d["throughput"]["rps"])
    if "stream" in d:
        results["summary"]["added_stream_ttfb_p50_ms"] = g["stream"]["ttfb_p50_ms"] - d["stream"]["ttfb_p50_ms"]
    report(results)
    errors = sum(v.get("errors", 0) for r in (d, g) for v in r.values() if isinstance(v, dict))
    if errors:
        print(f"WARNING: {errors:.0f} failed requests (see JSON)")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"results: {out_path}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as exc:  # servers were already stopped by the finally blocks
        print(f"interrupted ({exc or 'SIGINT'}); no results written", file=sys.stderr)
        sys.exit(130)
