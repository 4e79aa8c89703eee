"""Shared pieces of the benchmarks: child processes, a lean HTTP/1.1 client, load generators.

Not a package: scripts in this folder import it as ``benchlib`` (their own folder is on ``sys.path``).
Every loop here is bounded by a count and a deadline; every address is 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
REQUEST_TIMEOUT_S = 10.0


def exit_cleanly_on_sigterm() -> None:
    """Make SIGTERM (``timeout``, ``kill``) raise KeyboardInterrupt, so ``finally`` stops the servers."""

    def _raise(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _raise)


def script_main(main: Callable[[], int]) -> None:
    """A script's `__main__`: its exit status; Ctrl-C or SIGTERM exits 130 without results (the
    servers were already stopped by the script's finally blocks)."""
    try:
        sys.exit(main())
    except KeyboardInterrupt as exc:
        print(f"interrupted ({exc or 'SIGINT'}); no results written", file=sys.stderr)
        sys.exit(130)


def write_results(path: Path, results: Any, *, extra: str = "", errors: float = 0) -> None:
    """The run's JSON (under bench/results/, git-ignored), and where it went; a warning first when
    some requests failed."""
    if errors:
        print(f"WARNING: {errors:.0f} failed requests (see JSON)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"results: {path}{extra}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Child:
    """A process we started in its own session, so its worker processes stop with it."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def tree(self) -> set[int]:
        """This process and its descendants (Linux /proc; a bounded walk)."""
        tree = {self.proc.pid}
        for _ in range(16):
            more = set()
            for pid in tree:
                with contextlib.suppress(OSError, ValueError):
                    more |= {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
            if more <= tree:
                break
            tree |= more
        return tree

    def cpu_seconds(self) -> float:
        """User+system CPU seconds of the tree, exited threads included (/proc/<pid>/stat, 10 ms ticks)."""
        ticks = 0
        for pid in self.tree():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def thread_cpu_ns(self) -> dict[int, int]:
        """CPU nanoseconds of each live thread of the tree, by thread id (``/proc/.../schedstat``)."""
        out: dict[int, int] = {}
        for pid in self.tree():
            for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
                with contextlib.suppress(OSError, IndexError, ValueError):
                    out[int(stat.parent.name)] = int(stat.read_text().split()[0])
        return out

    def cpu_ns(self) -> int:
        """CPU nanoseconds of the tree's threads: nanosecond resolution, where ``cpu_seconds`` counts
        10 ms ticks, so a few hundred requests are enough to compare their CPU. Threads that already
        exited are not counted."""
        return sum(self.thread_cpu_ns().values())

    def stop(self) -> None:
        """SIGTERM the child's process group (its workers too), then SIGKILL whatever is left of it."""
        for sig, grace_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)  # the group we created with start_new_session
            except ProcessLookupError:
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace_s)
        self.proc.poll()


def spawn(name: str, argv: Sequence[str], log: Path, cwd: Path, env: dict[str, str] | None = None) -> Child:
    out = log.open("wb")
    try:
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        out.close()
    return Child(name, proc, log)


def wait_for_line(child: Child, pattern: str, timeout_s: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        m = re.search(pattern, child.log.read_text(errors="replace"))
        if m:
            return m
        if child.proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"{child.name} did not print {pattern!r} within {timeout_s}s:\n{child.log_tail()}")


def wait_http_ok(child: Child, url: str, timeout_s: float) -> float:
    """Poll ``url`` until it answers 200; returns seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if child.proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{child.name} not ready at {url} within {timeout_s}s:\n{child.log_tail()}")


def http_json(url: str, token: str, payload: Any = None) -> tuple[int, Any]:
    """A small GET (or POST of ``payload``) with a bearer token; returns (status, decoded JSON or None)."""
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers={"Authorization": f"Bearer {token}"})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT_S) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


# ---------------------------------------------------------------- lean HTTP/1.1 client


def build_request(
    port: int, path: str, body: bytes | None, token: str | None, headers: dict[str, str] | None = None
) -> bytes:
    """A raw HTTP/1.1 request: a JSON POST, or a GET when ``body`` is None.

    ``headers`` may carry the key itself (``x-api-key``, the Anthropic SDK's way): then pass
    ``token=None`` so no ``Authorization`` header is added.
    """
    method = "GET" if body is None else "POST"
    head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    if body is not None:
        head.append("Content-Type: application/json")
    if token:
        head.append(f"Authorization: Bearer {token}")
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body is not None:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")


@dataclass
class Reply:
    status: int
    ttfb: float  # seconds from send to the first body byte
    total: float  # seconds from send to the last body byte
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    chunks: int = 0  # HTTP chunks of a chunked body (the terminator not counted)


class Conn:
    """One keep-alive connection speaking just enough HTTP/1.1 (Content-Length or chunked)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    async def send(self, raw: bytes, keep_body: bool = False) -> Reply:
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
                self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            assert self.reader is not None
            t0 = time.perf_counter()
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
            parts: list[bytes] = []
            ttfb = 0.0
            chunks = 0
            if "content-length" in headers:
                data = await self.reader.readexactly(int(headers["content-length"]))
                ttfb = time.perf_counter() - t0
                parts.append(data)
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                for _ in range(1_000_000):
                    size = int((await self.reader.readline()).split(b";")[0], 16)
                    chunk = await self.reader.readexactly(size + 2)
                    if not ttfb:
                        ttfb = time.perf_counter() - t0
                    if size == 0:
                        break
                    chunks += 1
                    if keep_body:
                        parts.append(chunk[:-2])
            else:  # read-to-close body
                parts.append(await self.reader.read())
                ttfb = time.perf_counter() - t0
                headers["connection"] = "close"
            total = time.perf_counter() - t0
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Reply(status, ttfb, total, b"".join(parts), headers, chunks)


@dataclass
class LatencyRun:
    ttfb_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    errors: int = 0
    failures: list[str] = field(default_factory=list)  # what the first few errors were

    def failed(self, what: str) -> None:
        self.errors += 1
        if len(self.failures) < 5:
            self.failures.append(what)


@dataclass
class Leg:
    """One target of an interleaved latency run: where to send what, how many times. ``raw`` is one
    request sent every time, or a sequence of requests sent in turn (cycled)."""

    name: str
    port: int
    raw: bytes | Sequence[bytes]
    count: int
    sent: int = 0

    def next_raw(self) -> bytes:
        if isinstance(self.raw, bytes):
            return self.raw
        raw = self.raw[self.sent % len(self.raw)]
        self.sent += 1
        return raw


async def interleaved(legs: Sequence[Leg], rounds: int, warmup: int, max_seconds: float) -> dict[str, LatencyRun]:
    """Sequential requests (concurrency 1) to several targets, taking turns in ``rounds`` rounds.

    Each target keeps one keep-alive connection for the whole run and gets ``warmup`` requests
    first; then every round sends each target its share of ``count`` (spread evenly, the order
    rotated from round to round), so drift in the machine's load within the run, and whatever a
    target leaves behind for the next (a write, a checkpoint), hit every target alike. Many short rounds compare targets
    whose difference is a fraction of a millisecond on a machine shared with other work.
    """
    conns = {leg.name: Conn(leg.port) for leg in legs}
    runs = {leg.name: LatencyRun() for leg in legs}
    deadline = time.monotonic() + max_seconds

    async def one(leg: Leg, keep: bool) -> None:
        conn, run = conns[leg.name], runs[leg.name]
        try:
            reply = await conn.send(leg.next_raw(), keep_body=True)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            run.failed(repr(exc))
            await conn.close()
            return
        if reply.status != 200:
            run.failed(f"HTTP {reply.status}: {reply.body[:200]!r}")
        elif keep:
            run.ttfb_ms.append(reply.ttfb * 1000)
            run.total_ms.append(reply.total * 1000)

    try:
        for _ in range(warmup):  # taking turns too: no connection idles into the server's keep-alive timeout
            for leg in legs:
                await one(leg, False)
        for r in range(rounds):
            if time.monotonic() > deadline:
                break
            shift = r % len(legs)  # rotated, so no target always follows the same one
            for leg in [*legs[shift:], *legs[:shift]]:
                for _ in range(leg.count * (r + 1) // rounds - leg.count * r // rounds):
                    await one(leg, True)
    finally:
        for conn in conns.values():
            await conn.close()
    return runs


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for an empty list."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]
