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
    name: str
    child: bl.Child
    port: int
    model: str
    token: str
    face: str = "chat"

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


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=10.0, help="seconds of each throughput run (default 10)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of load before each throughput run")
    p.add_argument("--connections", type=int, default=64, help="concurrent connections for throughput")
    p.add_argument("--requests", type=int, default=2000, help="sequential requests for latency (default 2000)")
    p.add_argument("--stream-requests", type=int, default=500, help="sequential streaming requests (0: skip)")
    p.add_argument(
        "--face-requests",
        type=int,
        default=1000,
        help="sequential requests per face target (/v1/responses twice, /v1/messages; 0: skip the faces)",
    )
    p.add_argument("--cpu-requests", type=int, default=1000, help="requests per target for gateway CPU per request")
    p.add_argument("--face-stream-requests", type=int, default=250, help="sequential streams per face target")
    p.add_argument("--rounds", type=int, default=100, help="turns the targets take in a latency run (default 100)")
    p.add_argument("--face-budget-ms", type=float, default=0.2, help="allowed face p50 over gateway chat")
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


async def call(t: Target, raw: bytes) -> bl.Reply:
    conn = bl.Conn(t.port)
    try:
        return await conn.send(raw, keep_body=True)
    finally:
        await conn.close()


async def sanity(direct: Target, gateway: Target) -> str:
    """Both targets answer 200 with the same completion, and the gateway refuses a missing key.

    Returns that completion's text (what every face must answer too)."""
    bodies = []
    for t in (direct, gateway):
        reply = await call(t, t.raw())
        if reply.status != 200 or b'"choices"' not in reply.body:
            raise RuntimeError(f"{t.name}: HTTP {reply.status}: {reply.body[:300]!r}\n{t.child.log_tail()}")
        bodies.append(orjson.loads(reply.body)["choices"][0]["message"]["content"])
    if bodies[0] != bodies[1]:
        raise RuntimeError(f"gateway answered {bodies[1]!r}, upstream {bodies[0]!r}")
    anon = await call(gateway, gateway.raw(token=None))
    if anon.status != 401:
        raise RuntimeError(f"gateway answered {anon.status} to a request without a key (expected 401)")
    return str(bodies[0])


def face_text(face: str, answer: dict[str, Any]) -> str:
    """The answer's text: a Response's output_text parts, a Message's text blocks."""
    if face == "messages":
        blocks = answer.get("content") or []
        return "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    parts = [p for item in answer.get("output") or [] if item.get("type") == "message" for p in item["content"]]
    return "".join(p.get("text", "") for p in parts if p.get("type") == "output_text")


async def sanity_face(t: Target, expected: str, stream: bool) -> None:
    """A face answers its own shape with the chat answer's text; Responses keeps the answer unless
    `store: false`; Messages refuses a missing key in Anthropic's error shape; a stream ends with
    the face's last event."""

    def fail(what: str, reply: bl.Reply) -> RuntimeError:
        hint = " (a tree without this face? --face-requests 0 skips the faces)" if reply.status == 404 else ""
        return RuntimeError(f"{t.name}: {what}: HTTP {reply.status}{hint}: {reply.body[:300]!r}")

    reply = await call(t, t.raw())
    kind = {"messages": "message"}.get(t.face, "response")
    if reply.status != 200:
        raise fail("no answer", reply)
    answer = orjson.loads(reply.body)
    if answer.get("type" if kind == "message" else "object") != kind or face_text(t.face, answer) != expected:
        raise fail(f"not a {kind} answering {expected!r}", reply)
    if t.face.startswith("responses"):
        kept = await call(t, bl.build_request(t.port, f"{t.path}/{answer['id']}", None, t.token))
        if kept.status != (404 if "store:false" in t.face else 200):
            raise fail(f"GET {t.path}/{answer['id']} after the create", kept)
    if t.face == "messages":
        anon = await call(t, t.raw(token=None))
        if anon.status != 401 or orjson.loads(anon.body).get("type") != "error":
            raise fail("a request without a key is not an Anthropic 401", anon)
    if stream:
        streamed = await call(t, t.raw(stream=True))
        last = b"message_stop" if t.face == "messages" else b"response.completed"
        if streamed.status != 200 or last not in streamed.body[-2000:]:
            raise fail(f"a stream that does not end with {last.decode()}", streamed)


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


async def cpu_per_request(plan: list[tuple[Target, int]], rounds: int = 20) -> dict[str, float]:
    """Gateway CPU µs per request of each target, sequential: the steadiest figure on a shared machine.

    Each target runs alone for a stretch (count / rounds requests) between two readings of the
    gateway's CPU time (nanoseconds, /proc schedstat); the stretches alternate over ``rounds`` so
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


def face_summary(results: dict[str, Any], budget_ms: float) -> dict[str, dict[str, float | bool]]:
    """Each face against gateway chat measured in the same rounds: the difference and ratio."""
    chat = results["gateway"]
    out: dict[str, dict[str, float | bool]] = {}
    for name, face in results["faces"].items():
        row: dict[str, float | bool] = {}
        for key, fields in (("latency", ("p50_ms", "p99_ms")), ("stream", ("ttfb_p50_ms", "p50_ms"))):
            if key in face and key in chat:
                for k in fields:
                    row[f"{key}_{k}_vs_chat"] = face[key][k] - chat[key][k]
                row[f"{key}_p50_ratio"] = ratio(face[key]["p50_ms"], chat[key]["p50_ms"])
        if "cpu_us_per_req" in face and "cpu_us_per_req" in chat:
            row["cpu_us_per_req_vs_chat"] = face["cpu_us_per_req"] - chat["cpu_us_per_req"]
        row["within_budget"] = row["latency_p50_ms_vs_chat"] <= budget_ms
        out[name] = row
    return out


def report_faces(results: dict[str, Any], budget_ms: float) -> None:
    """The faces against gateway chat: c=1 p50/p99 and differences, streams, gateway CPU."""
    if not results["faces"]:
        return
    chat = results["gateway"]
    rows = [("gateway chat", chat), *results["faces"].items()]
    sections = [("latency", "p50", "p99_ms"), ("stream", "ttfb_p50", "p50_ms")]
    for key, first, second in sections:
        if key not in chat:
            continue
        what = "c=1" if key == "latency" else "c=1 stream: ttfb p50 / total p50"
        head = [f"{first.replace('_', ' ')} ms", f"{second[:3]} ms"]
        head += [f"{h[:-3]} +ms" for h in head]
        print(f"\n{what:<34}" + "".join(f"{h:>14}" for h in head) + f"{'p50 x':>8}")
        for name, face in rows:
            a, b = face[key][f"{first}_ms"], face[key][second]
            line = f"{name:<34}{a:>14.3f}{b:>14.3f}"
            if face is not chat:
                da, db = a - chat[key][f"{first}_ms"], b - chat[key][second]
                line += f"{da:>+14.3f}{db:>+14.3f}{ratio(face[key]['p50_ms'], chat[key]['p50_ms']):>8.3f}"
                if key == "latency":
                    line += "  ok" if da <= budget_ms else f"  OVER the {budget_ms:g} ms budget"
            print(line)
    if "cpu_us_per_req" in chat:
        print(f"\n{'gateway CPU µs per request (c=1)':<34}{'µs':>14}{'+µs':>14}{'x':>8}")
        for name, face in rows:
            extra = face["cpu_us_per_req"] - chat["cpu_us_per_req"]
            extra_cols = (
                "" if face is chat else f"{extra:>+14.0f}{ratio(face['cpu_us_per_req'], chat['cpu_us_per_req']):>8.3f}"
            )
            print(f"{name:<34}{face['cpu_us_per_req']:>14.0f}{extra_cols}")


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
            expected = arun(sanity(direct, gateway))
            faces = [Target(f, gw, gw_port, gateway.model, admin_key, f) for f in FACES if f != "chat"]
            faces = faces if args.face_requests > 0 else []
            for face in faces:
                arun(sanity_face(face, expected, args.stream_requests > 0 and args.face_stream_requests > 0))
            results["direct"], results["gateway"] = {}, {}
            results["faces"] = {f.name: {} for f in faces}
            where = {"direct": results["direct"], "gateway": results["gateway"], **results["faces"]}
            t0 = time.monotonic()
            plan = [(direct, args.requests), (gateway, args.requests), *((f, args.face_requests) for f in faces)]
            print(
                f"latency: {args.requests} sequential requests per target, {args.face_requests} per face "
                f"({', '.join(f.name for f in faces) or 'none'}), {args.rounds} rounds ...",
                flush=True,
            )
            for name, stats in arun(latency(plan, False, args.rounds)).items():
                where[name]["latency"] = stats
            if args.stream_requests > 0:
                plan = [(direct, args.stream_requests), (gateway, args.stream_requests)]
                if args.face_stream_requests > 0:
                    plan += [(f, args.face_stream_requests) for f in faces]
                print(
                    f"streaming: {args.stream_requests} sequential requests per target, "
                    f"{args.face_stream_requests} per face ...",
                    flush=True,
                )
                for name, stats in arun(latency(plan, True, args.rounds)).items():
                    where[name]["stream"] = stats
            if faces and args.cpu_requests > 0:
                print(f"gateway CPU: {args.cpu_requests} sequential requests per target ...", flush=True)
                cpu_plan = [(t, args.cpu_requests) for t in (gateway, *faces)]
                for name, us in arun(cpu_per_request(cpu_plan)).items():
                    where[name]["cpu_us_per_req"] = us
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
    results["summary"]["faces"] = face_summary(results, args.face_budget_ms)
    report(results)
    report_faces(results, args.face_budget_ms)
    every = (d, g, *results["faces"].values())
    errors = sum(v.get("errors", 0) for r in every for v in r.values() if isinstance(v, dict))
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
