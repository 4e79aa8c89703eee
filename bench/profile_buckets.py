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
    samples: Counter[str] = field(default_factory=Counter)  # bucket -> samples
    leaves: Counter[tuple[str, str]] = field(default_factory=Counter)  # (bucket, leaf frame) -> samples

    @property
    def total(self) -> int:
        return sum(self.samples.values())


def read_raw(path: Path) -> Profile:
    """Bucket every stack of a py-spy raw file (process and thread pseudo-frames are dropped)."""
    out = Profile()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [
            parse_frame(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread ", "Thread "))
        ]
        bucket = classify(frames)
        out.samples[bucket] += int(count)
        leaf = f"{frames[-1][0]} ({frames[-1][1]})" if frames else "?"
        out.leaves[(bucket, leaf)] += int(count)
    return out
