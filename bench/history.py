"""What history injection adds to a chat request: a 50-message session vs. no session.

Run from the repo root: ``.venv/bin/python bench/history.py [--requests 1000] [--history 50]``.
It starts the fake upstream and ``gatewayz serve`` (SQLite in a temp dir) as ``run.py`` does,
creates one chat session of ``--history`` messages per measured request (each request then injects
exactly that history; its own turn is appended afterwards, to a session no later request reads),
and measures three legs in the same interleaved rounds, at concurrency 1 on keep-alive connections:

- **chat**: a one-message chat completion, no session;
- **chat, history in the body**: the same history sent by the client itself (no session): the
  upstream's share of a longer prompt, without the gateway's store;
- **chat + session (warm)**: the one message with ``"session_id"`` on a session whose previous
  turn went through this gateway process (a session in use: ``--history`` - 2 messages created,
  then one unmeasured turn appends 2 more), so the process holds its copy of the history and
  reads just the conversation row;
- **chat + session (cold)**: the same on a session created through the API and never read: the
  gateway loads every item, converts and counts them (the first request of a session in a process).
Each then trims the history to the context window, injects it and appends the turn after the answer.

"session - chat" is what injection adds to a chat request; "session - history in the body" is the
gateway's own history work. Gateway CPU per request is read from /proc between stretches of each leg.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

import benchlib as bl
import run

ROUTE = f"bench/{run.MODEL}"  # the model through the gateway
WORDS = ("the gateway routes each request to a provider and bills the tokens it used while the ledger keeps "
         "every charge exact under concurrency so that a retry never pays twice and limits hold").split()


def history_messages(count: int) -> list[dict[str, str]]:
    """A plausible conversation: user and assistant turns of 20 to 60 words, deterministic."""
    messages = []
    for n in range(count):
        length = 20 + (n * 17) % 41
        text = " ".join(WORDS[(n * 7 + k) % len(WORDS)] for k in range(length))
        messages.append({"role": "user" if n % 2 == 0 else "assistant", "content": text.capitalize() + "."})
    return messages


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=1000, help="measured sequential requests per leg (default 1000)")
    p.add_argument("--history", type=int, default=50, help="messages in each session (default 50, at most 100)")
    p.add_argument("--rounds", type=int, default=50, help="turns the legs take (default 50)")
    p.add_argument("--warmup", type=int, default=100, help="unmeasured requests per leg first (default 100)")
    p.add_argument("--cpu-requests", type=int, default=500, help="requests per leg for gateway CPU (0: skip)")
    p.add_argument("--budget-ms", type=float, default=1.0, help="allowed p50 of session over chat")
    p.add_argument("--json", type=Path, default=None, help="results file (default bench/results/history-<utc>.json)")
    args = p.parse_args()
    args.workers, args.pricing, args.gateway_src = 1, "paid", None  # what run.start_gateway reads
    return args


def create_sessions(base: str, token: str, messages: list[dict[str, str]], count: int) -> list[str]:
    ids = []
    for _ in range(count):
        status, session = bl.http_json(f"{base}/v1/chat/sessions", token, {"messages": messages})
        if status != 201 or not session or len(session.get("messages") or ()) != len(messages):
            raise RuntimeError(f"POST /v1/chat/sessions answered {status}")
        ids.append(session["id"])
    return ids


def session_turn(base: str, token: str, session: str, expected: int) -> None:
    """One request on a session; it must say it sent the whole history (and trimmed nothing)."""
    body = {"model": ROUTE, "messages": run.MESSAGES, "session_id": session}
    req = urllib.request.Request(f"{base}/v1/chat/completions", data=orjson.dumps(body),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=bl.REQUEST_TIMEOUT_S) as reply:
        header = reply.headers.get("x-gatewayz-history")
    if header != f"sent={expected}; trimmed=0":
        raise RuntimeError(f"x-gatewayz-history: {header!r}, expected sent={expected}; trimmed=0")


def warm_sessions(base: str, token: str, history: list[dict[str, str]], count: int) -> list[str]:
    """Sessions of `history` minus its last 2 messages, each given one turn through the gateway
    (2 more messages): the next request injects len(history) messages from the process's copy."""
    sessions = create_sessions(base, token, history[:-2], count)
    for session in sessions:
        session_turn(base, token, session, len(history) - 2)
    return sessions


def chat_request(port: int, token: str, **fields: Any) -> bytes:
    body = {"model": ROUTE, **fields}
    return bl.build_request(port, "/v1/chat/completions", orjson.dumps(body), token)


async def cpu_per_request(gw: bl.Child, legs: list[bl.Leg], per_leg: int, rounds: int = 10) -> dict[str, float]:
    """Gateway CPU µs per request of each leg, each running alone for stretches that alternate."""
    cpu = {leg.name: 0 for leg in legs}
    done = {leg.name: 0 for leg in legs}
    for _ in range(rounds):
        for leg in legs:
            before = gw.cpu_ns()
            part = bl.Leg(leg.name, leg.port, leg.raw, max(1, per_leg // rounds), leg.sent)
            runs = await bl.interleaved([part], 1, 0, run.MAX_RUN_S)
            leg.sent = part.sent
            cpu[leg.name] += gw.cpu_ns() - before
            done[leg.name] += len(runs[leg.name].total_ms) + runs[leg.name].errors
    return {name: cpu[name] / max(done[name], 1) / 1e3 for name in cpu}


def report(results: dict[str, Any], budget_ms: float) -> None:
    legs = results["legs"]
    chat = legs["chat"]
    print(f"\n{'c=1, ms':<30}{'p50':>9}{'p90':>9}{'p99':>9}{'p50 vs chat':>13}{'CPU µs/req':>12}")
    for name, leg in legs.items():
        cpu = f"{leg['cpu_us_per_req']:>12.0f}" if "cpu_us_per_req" in leg else ""
        print(f"{name:<30}{leg['p50_ms']:>9.3f}{leg['p90_ms']:>9.3f}{leg['p99_ms']:>9.3f}"
              f"{leg['p50_ms'] - chat['p50_ms']:>+13.3f}{cpu}")
    summary = results["summary"]
    print()
    for kind in ("warm", "cold"):
        added = summary[f"{kind}_added_p50_ms"]
        verdict = "ok" if added <= budget_ms else "OVER"
        print(f"{kind}: injection of {results['params']['history']} messages adds {added:+.3f} ms p50 to a chat "
              f"request (budget {budget_ms:g} ms: {verdict}); the gateway's own history work "
              f"{summary[f'{kind}_store_p50_ms']:+.3f} ms p50")


def main() -> int:
    args = parse_args()
    if not 1 <= args.history <= 100:
        raise SystemExit("--history must be 1..100 (one POST /v1/chat/sessions takes at most 100 messages)")
    bl.exit_cleanly_on_sigterm()
    started = dt.datetime.now(dt.UTC)
    out_path: Path = args.json or run.REPO / "bench" / "results" / f"history-{started:%Y%m%dT%H%M%SZ}.json"
    results: dict[str, Any] = {"started_utc": started.isoformat(timespec="seconds"),
                               "repo_head": run.git("rev-parse", "--short", "HEAD"), "params": vars(args) | {
                                   "json": str(args.json) if args.json else None}}
    children: list[bl.Child] = []
    history = history_messages(args.history)
    # Room for the copies of every session of the run (each ~2.5x its JSON; the default is 64 MB),
    # so that a warm session is not evicted by the cold ones before its turn.
    os.environ.setdefault("GATEWAYZ_HISTORY_CACHE_MB", "1024")
    with tempfile.TemporaryDirectory(prefix="gatewayz-bench-history-") as tmpname:
        tmp = Path(tmpname)
        try:
            _upstream, up_port = run.start_upstream(tmp, children)
            token = "gw_live_" + secrets.token_urlsafe(32)
            gw, port, ready_s, billing = run.start_gateway(tmp, up_port, args, token, children)
            base = f"http://{bl.HOST}:{port}"
            print(f"gateway ready after {ready_s:.1f}s; billing: {billing}", flush=True)
            count = args.warmup + args.requests + args.cpu_requests + 1
            t0 = time.monotonic()
            cold = create_sessions(base, token, history, count)
            warm = warm_sessions(base, token, history, count)
            print(f"2 x {count} sessions of {args.history} messages made in {time.monotonic() - t0:.1f}s", flush=True)
            session_turn(base, token, cold.pop(), args.history)
            session_turn(base, token, warm.pop(), args.history)
            legs = [
                bl.Leg("chat", port, chat_request(port, token, messages=run.MESSAGES), args.requests),
                bl.Leg("chat, history in the body", port,
                       chat_request(port, token, messages=[*history, *run.MESSAGES]), args.requests),
                *(bl.Leg(f"chat + session ({kind})", port,
                         [chat_request(port, token, messages=run.MESSAGES, session_id=s) for s in sessions],
                         args.requests) for kind, sessions in (("warm", warm), ("cold", cold))),
            ]
            print(f"latency: {args.requests} sequential requests per leg, {args.rounds} rounds ...", flush=True)
            runs = run.arun(bl.interleaved(legs, args.rounds, args.warmup, run.MAX_RUN_S))
            results["legs"] = {name: run.summarize(r, False) for name, r in runs.items()}
            if args.cpu_requests > 0:
                print(f"gateway CPU: {args.cpu_requests} requests per leg ...", flush=True)
                for name, us in run.arun(cpu_per_request(gw, legs, args.cpu_requests)).items():
                    results["legs"][name]["cpu_us_per_req"] = us
        finally:
            for child in reversed(children):
                child.stop()
    legs_out = results["legs"]
    results["summary"] = {
        f"{kind}_{what}_p50_ms": legs_out[f"chat + session ({kind})"]["p50_ms"] - legs_out[base]["p50_ms"]
        for kind in ("warm", "cold") for what, base in (("added", "chat"), ("store", "chat, history in the body"))
    }
    report(results, args.budget_ms)
    bl.write_results(out_path, results, errors=sum(leg.get("errors", 0) for leg in legs_out.values()))
    return 0


if __name__ == "__main__":
    bl.script_main(main)
