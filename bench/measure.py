"""The measurements: latency at concurrency 1 in interleaved rounds, throughput under load, CPU per request.

Each takes targets (``targets.Target``) and returns plain dicts of figures (see bench/README.md).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchlib as bl
import loadgen
from targets import MAX_RUN_S, WARMUP, Target, arun


def summarize(run: bl.LatencyRun, stream: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"n": float(len(run.total_ms)), "errors": float(run.errors)}
    if run.failures:
        out["failures"] = run.failures
    for p in (50, 90, 99):
        out[f"p{p}_ms"] = bl.percentile(run.total_ms, p)
        if stream:
            out[f"ttfb_p{p}_ms"] = bl.percentile(run.ttfb_ms, p)
    out["mean_ms"] = sum(run.total_ms) / len(run.total_ms) if run.total_ms else float("nan")
    return out


async def latency(plan: list[tuple[Target, int]], stream: bool, rounds: int) -> dict[str, dict[str, Any]]:
    """Concurrency 1, the same client for each target, taking turns in ``rounds`` rounds so that drift
    hits all alike; ``plan`` is (target, requests) pairs."""
    legs = [bl.Leg(t.name, t.port, t.raw(stream), count) for t, count in plan]
    runs = await bl.interleaved(legs, max(1, rounds), WARMUP, MAX_RUN_S)
    return {name: summarize(run, stream) for name, run in runs.items()}


def load_runner(t: Target, args: argparse.Namespace, tmp: Path) -> Callable[[float], dict[str, float]]:
    """A function loading ``t`` with ``args.connections`` keep-alive connections for the seconds it is
    given: wrk (``args.wrk_threads``) unless ``args.no_wrk``, then the Python generator. It returns
    rps, requests and errors (and wrk's latency percentiles)."""
    url = f"http://{bl.HOST}:{t.port}/v1/chat/completions"
    wrk = None if args.no_wrk else loadgen.wrk_path()
    script = tmp / f"{re.sub(r'[^A-Za-z0-9]+', '-', t.name)}.lua"
    script.write_text(loadgen.wrk_lua(t.body(), t.token))

    def load(seconds: float) -> dict[str, float]:
        if wrk:
            return loadgen.wrk_load(wrk, script, url, args.connections, seconds, args.wrk_threads)
        ok, err, elapsed = arun(loadgen.python_load(t.port, t.raw(), args.connections, seconds))
        return {"rps": ok / elapsed, "requests": float(ok), "errors": float(err)}

    return load


def throughput(t: Target, args: argparse.Namespace, tmp: Path, upstream: bl.Child) -> dict[str, float]:
    """``args.connections`` keep-alive connections for ``args.duration`` s (after ``args.warmup`` s),
    with wrk unless ``args.no_wrk`` (then the Python generator); the target's and the upstream's CPU
    per completed request from /proc."""
    load = load_runner(t, args, tmp)
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


async def cpu_per_request(plan: list[tuple[Target, int]], rounds: int = 20) -> dict[str, float]:
    """Server CPU µs per request of each target, sequential: the steadiest figure on a shared machine.

    Each target runs alone for a stretch (count / rounds requests) between two readings of its
    server's CPU time (nanoseconds, /proc schedstat); the stretches alternate over ``rounds`` so
    that drift in the machine's load hits every target alike."""
    cpu = {t.name: 0 for t, _ in plan}
    done = {t.name: 0 for t, _ in plan}
    for _ in range(rounds):
        for t, count in plan:
            before = t.child.cpu_ns()
            runs = await bl.interleaved([bl.Leg(t.name, t.port, t.raw(), max(1, count // rounds))], 1, 0, MAX_RUN_S)
            cpu[t.name] += t.child.cpu_ns() - before
            done[t.name] += len(runs[t.name].total_ms) + runs[t.name].errors
    return {name: cpu[name] / max(done[name], 1) / 1e3 for name in cpu}
