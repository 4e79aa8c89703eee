"""Load generators for throughput runs: wrk (preferred) and a weaker asyncio fallback.

Not a package: scripts in this folder import it as ``loadgen`` (their own folder is on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from pathlib import Path

from benchlib import REQUEST_TIMEOUT_S, Conn


def wrk_path() -> str | None:
    return shutil.which("wrk")


async def python_load(port: int, raw: bytes, connections: int, seconds: float) -> tuple[int, int, float]:
    """Fallback load generator: ``connections`` coroutines looping until the deadline.

    Returns (ok responses, errors, elapsed seconds). Much weaker than wrk: on a small machine it
    can be the bottleneck, so results from it are labelled as such.
    """
    ok = err = 0
    start = time.perf_counter()
    deadline = start + seconds

    async def worker() -> None:
        nonlocal ok, err
        conn = Conn(port)
        try:
            for _ in range(10_000_000):
                if time.perf_counter() >= deadline:
                    break
                try:
                    reply = await conn.send(raw)
                except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                    err += 1
                    await conn.close()
                    continue
                if reply.status == 200:
                    ok += 1
                else:
                    err += 1
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return ok, err, time.perf_counter() - start


def wrk_lua(body: bytes, token: str | None) -> str:
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = [==[{body.decode()}]==]",
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    if token:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
    return "\n".join(lines) + "\n"


def wrk_load(wrk: str, script: Path, url: str, connections: int, seconds: float, threads: int) -> dict[str, float]:
    """Run wrk once; returns rps, requests, errors (non-2xx + socket errors) and latency percentiles."""
    duration = f"-d{max(1, round(seconds))}s"
    timeout = f"--timeout={int(REQUEST_TIMEOUT_S)}s"
    argv = [wrk, f"-t{threads}", f"-c{connections}", duration, timeout, "--latency", "-s", str(script), url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    res: dict[str, float] = {"rps": float(m.group(1))}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    res["requests"] = float(m.group(1)) if m else 0.0
    res["socket_errors"] = float(sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non_2xx"] = float(m.group(1)) if m else 0.0
    res["errors"] = res["socket_errors"] + res["non_2xx"]
    for pct, value, unit in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        res[f"p{pct}_ms"] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return res
