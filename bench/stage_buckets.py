"""Charge py-spy samples of the gateway to the stages of the request path.

py-spy's raw output (``-f raw``) is one line per distinct stack: frames from the root to the leaf,
``function (file)`` each, separated by ``;``, then the number of samples. A sample is charged to
the first frame, walking from the leaf towards the root, that a rule classifies:

- a gateway module names its stage (``gatewayz/limits/`` → rate limits; in ``gatewayz/billing/``
  the function says hold or settlement);
- a library that *is* a stage's work names it (aiohttp → upstream client, starlette/fastapi →
  routing + middleware, uvicorn's protocols and httptools → server, asyncio's tasks, waits and
  callbacks → asyncio);
- a library that works *for* whoever calls it is transparent (database drivers, SQLAlchemy,
  Redis, pydantic, structlog and logging, asyncio's locks and events, the stdlib's helpers):
  its samples go to its caller;
- the frames every stack starts with (the CLI, ``uvicorn.run``, the event loop's runner, a
  thread's bootstrap) end the walk: what is left there is the event loop's own work (polling,
  callbacks, transports, uvloop and asyncpg's protocol in C), or a thread's (aiosqlite's, an
  executor's).

So the time SQLAlchemy spends placing a hold counts as "billing hold", while a sample in the
loop between two callbacks counts as "asyncio (tasks, event loop)". Unknown modules are
transparent, unknown ``gatewayz`` modules fall into "gatewayz, other": a new stage shows up there
until it gets a rule.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

TRANSPARENT = ""  # a rule result: charge the caller
ROOT = "<root>"  # a rule result: the walk ends here
LOOP = "asyncio (tasks, event loop)"
DRIVER_THREAD = "threads: database driver (aiosqlite)"
THREAD = "threads: executor, other"
OTHER = "other"

# asyncio's own work per request: creating, waiting for and scheduling tasks and callbacks. Other
# asyncio code (locks, events, queues, futures) is transparent: a lock taken for a transaction is
# the transaction's cost.
TASKS = r"create_task|ensure_future|wait|shield|gather|timeout|call_soon|call_later|call_at|run_in_executor|Task"
# (file pattern, function pattern or None, bucket); the first rule matching a frame decides.
RULES: list[tuple[str, str | None, str]] = [
    (r"gatewayz/http/access_log", None, "access log"),
    (r"gatewayz/(accounts/|http/early_auth|crypto)", None, "auth"),
    (r"gatewayz/limits/", None, "rate limits"),
    (r"gatewayz/billing/idempotency", None, "idempotency"),
    (r"gatewayz/billing/(pricing|money)", None, TRANSPARENT),  # prices are looked up at admit and at finish
    (r"gatewayz/billing/", r"admit|place|price|lease|reserve|budget|hold$", "billing hold"),
    (r"gatewayz/billing/", None, "settlement + usage"),
    (r"gatewayz/storage/", None, TRANSPARENT),
    (r"gatewayz/inference/asgi", r"disconnect", LOOP),  # the disconnect watcher: a task per request
    (r"gatewayz/inference/(relay|sse|asgi)", None, "stream relay"),
    (r"gatewayz/(providers/|inference/dispatch)", None, "upstream client"),
    (r"gatewayz/inference/estimate", None, "prompt estimate"),
    (r"gatewayz/history/", None, "history"),
    (r"gatewayz/(inference/|errors)", None, "pipeline: parse, prepare, normalise, render"),
    (r"gatewayz/(middleware|app|http/)", None, "routing + middleware"),
    (r"gatewayz/(cli|__main__)", None, ROOT),
    (r"gatewayz/", None, "gatewayz, other"),
    (r"^(starlette|fastapi)/", None, "routing + middleware"),
    (r"^uvicorn/(protocols|middleware)/|^httptools/|^h11/", None, "server: HTTP parsing + writing"),
    (r"^uvicorn/server", r"on_tick|main_loop", "server: HTTP parsing + writing"),
    (r"^(aiohttp|yarl|multidict|aiohappyeyeballs|propcache|frozenlist|aiosignal)/", None, "upstream client"),
    # asyncpg resets a connection when the pool takes it back (a query per release, in a task of its own)
    (r"^asyncpg/(pool|connection)", r"release|reset", "asyncpg pool: reset on release"),
    (r"^(uvicorn|typer|click)/|^(asyncio/runners|threading|concurrent/futures/thread)", None, ROOT),
    (r"^asyncio/(tasks|timeouts|base_events|events)", TASKS, LOOP),  # a task, a wait, a callback: the loop's work
    (r"^uvloop/", None, LOOP),
]
THREADS = re.compile(r"^(threading|concurrent/futures/thread)")
DRIVERS = re.compile(r"^(asyncpg|aiosqlite|sqlite3|sqlalchemy|redis|hiredis)/")
_COMPILED = [(re.compile(f), re.compile(fn) if fn else None, bucket) for f, fn, bucket in RULES]
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def module_path(file: str) -> str:
    """A frame's file as a package path: ``starlette/routing.py``, ``asyncio/tasks.py``, ``gatewayz/…``."""
    file = file.replace("\\", "/")
    for marker in ("site-packages/", "dist-packages/"):
        if marker in file:
            return file.rsplit(marker, 1)[1]
    if "/gatewayz/" in file or file.startswith("gatewayz/"):
        return "gatewayz/" + file.split("gatewayz/", 1)[1]
    m = re.search(r"/python3\.\d+/(.*)$", file)
    return m.group(1) if m else file.lstrip("/")


def parse_frame(frame: str) -> tuple[str, str]:
    """(function, module path) of one raw frame ``func (file:line)``."""
    m = _FRAME.match(frame.strip())
    if m is None:
        return frame.strip(), ""
    return m.group("func"), module_path(m.group("file"))


def classify(frames: list[tuple[str, str]]) -> str:
    """The bucket of one stack, ``frames`` from the root to the leaf (see the module docstring)."""
    rooted = False
    for func, path in reversed(frames):
        bucket = next((b for f, fn, b in _COMPILED if f.search(path) and (fn is None or fn.search(func))), TRANSPARENT)
        if bucket == ROOT:
            rooted = True
            break
        if bucket != TRANSPARENT:
            return bucket
    if any(THREADS.search(path) for _, path in frames):
        return DRIVER_THREAD if any(DRIVERS.search(p) for _, p in frames) else THREAD
    driver = next((m.group(1) for _, path in reversed(frames) if (m := DRIVERS.search(path))), None)
    if driver is not None:
        return f"{driver} outside a stage"  # a driver's callback or a task of its own (e.g. Redis pipelining)
    return LOOP if rooted else OTHER  # OTHER: a stack without its root (a torn sample)


@dataclass
class Profile:
    """Samples by (thread id, bucket) and by (thread id, bucket, leaf frame); thread id 0 when the
    raw file has no thread frames (recorded without ``--threads``)."""

    samples: Counter[tuple[int, str]] = field(default_factory=Counter)
    leaves: Counter[tuple[int, str, str]] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.samples.values())

    def thread_samples(self) -> Counter[int]:
        out: Counter[int] = Counter()
        for (tid, _bucket), n in self.samples.items():
            out[tid] += n
        return out

    def weights(self, cpu_ns: dict[int, int] | None) -> dict[int, float]:
        """CPU ns one sample of each thread stands for: the thread's measured CPU over its samples.

        py-spy counts a thread as busy whenever it is not visibly idle, which a thread blocked
        on a queue or the GIL often is not, so its samples can overstate it (in one run here
        aiosqlite's thread got 24% of the samples). Weighting by each thread's real CPU (/proc schedstat over
        the sampled stretch) charges every thread what it used, and splits it as its samples do.
        Threads without a reading (exited) get the mean weight; without readings, every sample
        weighs 1."""
        per_thread = self.thread_samples()
        if not cpu_ns:
            return {tid: 1.0 for tid in per_thread}
        known = {tid: cpu_ns[tid] / n for tid, n in per_thread.items() if tid in cpu_ns and n}
        mean = sum(cpu_ns.get(t, 0) for t in known) / max(sum(per_thread[t] for t in known), 1)
        return {tid: known.get(tid, mean) for tid in per_thread}

    def buckets(self, weights: dict[int, float]) -> Counter[str]:
        out: Counter[str] = Counter()
        for (tid, bucket), n in self.samples.items():
            out[bucket] += n * weights[tid]
        return out

    def top_leaves(self, weights: dict[int, float], n: int) -> list[tuple[tuple[str, str], float]]:
        out: Counter[tuple[str, str]] = Counter()
        for (tid, bucket, leaf), count in self.leaves.items():
            out[(bucket, leaf)] += count * weights[tid]
        return out.most_common(n)


_THREAD = re.compile(r"^thread \((?:0x)?([0-9A-Fa-f]+)\)")


def read_raw(path: Path) -> Profile:
    """Bucket every stack of a py-spy raw file (process and thread pseudo-frames set aside)."""
    out = Profile()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        tid, frames = 0, []
        for f in stack.split(";"):
            if m := _THREAD.match(f):
                tid = int(m.group(1), 16 if f.startswith("thread (0x") else 10)
            elif f and not f.startswith("process "):
                frames.append(parse_frame(f))
        bucket = classify(frames)
        out.samples[(tid, bucket)] += int(count)
        leaf = f"{frames[-1][0]} ({frames[-1][1]})" if frames else "?"
        out.leaves[(tid, bucket, leaf)] += int(count)
    return out
