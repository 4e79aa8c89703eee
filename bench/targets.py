"""What the gateway benchmarks send, and to whom: the request bodies, the API faces, the targets.

A target is one server under measurement (the upstream called directly, a baseline proxy, a
gateway, or one of the gateway's faces) with the request it answers. Shared by ``run.py``,
``stages.py`` and ``history.py``.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

import benchlib as bl

try:
    from uvloop import run as arun  # the same lean loop for every target
except ImportError:
    from asyncio import run as arun

__all__ = ["arun"]

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MODEL = "gpt-4o-mini"
ROUTE = f"bench/{MODEL}"  # the model as a gateway (or the bare proxy) is asked for it
UPSTREAM_KEY = "sk-bench"
TEXT = "hello"
MESSAGES = [{"role": "user", "content": TEXT}]
ANTHROPIC_VERSION = "2023-06-01"
WARMUP = 200  # requests on each target's connection before a latency run measures
MAX_RUN_S = 600  # the bound of one latency run (all targets)
MAX_TOKENS = 256  # Messages requires it; the chat body leaves it out (the upstream answers a few words)
# The gateway's faces other than chat: (path, body fields besides model). All run on the same pipeline,
# so what they add over gateway chat is the face's own work (translate, render, store).
FACES: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"messages": MESSAGES}),
    "responses": ("/v1/responses", {"input": TEXT}),  # `store` left out: stored, as by default
    "responses store:false": ("/v1/responses", {"input": TEXT, "store": False}),
    "messages": ("/v1/messages", {"max_tokens": MAX_TOKENS, "messages": MESSAGES}),
}


@dataclass
class Target:
    """``kind``: "direct" (the upstream itself), "baseline" (a proxy without features), "gateway"
    (chat through a gateway) or "face" (another face of a gateway)."""

    name: str
    child: bl.Child
    port: int
    model: str
    token: str
    face: str = "chat"
    kind: str = "gateway"

    @property
    def path(self) -> str:
        return FACES[self.face][0]

    def body(self, stream: bool = False) -> bytes:
        payload: dict[str, Any] = {"model": self.model, **FACES[self.face][1]}
        if stream:
            payload["stream"] = True
        return orjson.dumps(payload)

    def raw(self, stream: bool = False, token: str | None = "") -> bytes:
        """The request; ``token=None`` sends it without a key. Messages authenticates as the
        Anthropic SDK does (``x-api-key`` and ``anthropic-version``), the others with a bearer."""
        key = self.token if token == "" else token
        if self.face != "messages":
            return bl.build_request(self.port, self.path, self.body(stream), key)
        headers = {"anthropic-version": ANTHROPIC_VERSION, **({"x-api-key": key} if key else {})}
        return bl.build_request(self.port, self.path, self.body(stream), None, headers)


def git(*argv: str) -> str:
    """Read-only git query for provenance ('' when git is unavailable)."""
    try:
        return subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def provenance(started: Any) -> dict[str, Any]:
    """Where a result came from: start time, revision, uncommitted src files, machine."""
    return {
        "started_utc": started.isoformat(timespec="seconds"),
        "repo_head": git("rev-parse", "--short", "HEAD"),
        "src_modified_files": len(git("status", "--porcelain", "src").splitlines()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")
