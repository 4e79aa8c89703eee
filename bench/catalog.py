"""GET /models with 5,000 stored models: how long the catalog's queries take (the issue: well under 20 ms).

Run from the repo root: ``.venv/bin/python bench/catalog.py [--models 5000] [--requests 300]``.
It serves an OpenRouter-shaped list of ``--models`` models (names, descriptions, context lengths,
modalities, supported parameters, prices) from a loopback upstream, starts ``gatewayz serve``
(SQLite in a temp dir) with that one provider, waits until the list is synced and stored, then
times each leg in interleaved rounds at concurrency 1 on a keep-alive connection:

- ``/health``: the floor (the HTTP stack and the client, no catalog work);
- ``/models``: the first page (100 entries) in name order;
- ``/models?q=...``: a two-word search, ranked, 20 entries;
- ``/models`` with filters (min_context, max_prompt_price, supports) sorted by price;
- ``/models?limit=500&sort=context``: the largest page;
- ``/models?sort=latency`` and ``?sort=popularity``: the live sorts (ordered per request);
- ``/models/{provider}/{model}``: one model with its endpoints;
- ``/v1/models``: every model (the OpenAI list, authenticated).

Quotes p50/p95 per leg and the ratio to the floor; writes bench/results/catalog-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import os
import random
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

import benchlib as bl

REPO = Path(__file__).resolve().parents[1]
VENDORS = ("openai", "anthropic", "google", "meta-llama", "mistralai", "qwen", "deepseek", "x-ai")
WORDS = (
    "fast small large reasoning vision coder instruct chat multilingual long context tool use "
    "efficient open weights frontier distilled"
).split()


def model_list(count: int) -> bytes:
    rng = random.Random(14)
    data = []
    for n in range(count):
        vendor = VENDORS[n % len(VENDORS)]
        words = rng.sample(WORDS, 4)
        prompt = rng.choice((0, 0.0000001, 0.0000005, 0.000001, 0.000003, 0.00001))
        data.append(
            {
                "id": f"{vendor}/model-{n}",
                "name": f"{vendor.title()}: Model {n} {words[0]}",
                "description": " ".join(words) + f" model number {n}",
                "created": 1_700_000_000 + n * 60,
                "context_length": rng.choice((8192, 32768, 131072, 200000, 1048576)),
                "architecture": {
                    "input_modalities": ["text", "image"] if n % 3 == 0 else ["text"],
                    "output_modalities": ["text"],
                },
                "top_provider": {"max_completion_tokens": 16384},
                "supported_parameters": ["tools", "response_format", "max_tokens"] if n % 2 else ["max_tokens"],
                "pricing": {"prompt": str(prompt), "completion": str(prompt * 4)},
            }
        )
    return orjson.dumps({"data": data})


def serve_upstream(body: bytes) -> int:
    port = bl.free_port()

    async def models(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/v1/models", models)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, bl.HOST, port).start()
        await asyncio.Event().wait()

    threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()
    return port


def timed(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}")
    return elapsed * 1000


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=int, default=5000, help="models in the provider's list (default 5000)")
    p.add_argument("--requests", type=int, default=300, help="measured requests per leg (default 300)")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    upstream = serve_upstream(model_list(args.models))
    admin_key = "gw_live_" + secrets.token_urlsafe(32)
    children: list[bl.Child] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "data").mkdir()
        providers = {
            "benchrouter": {
                "protocol": "openai",
                "base_url": f"http://{bl.HOST}:{upstream}/v1",
                "api_key": "sk-bench",
                "models_path": "/models",
            }
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAYZ_") and k != "DATABASE_URL"}
        env.update(
            {
                "GATEWAYZ_DATA_DIR": str(home / "data"),
                "GATEWAYZ_ADMIN_KEY": admin_key,
                "GATEWAYZ_PROVIDERS": orjson.dumps(providers).decode(),
                "GATEWAYZ_LOG_LEVEL": "warning",
                "GATEWAYZ_ACCESS_LOG": "false",
            }
        )
        port = bl.free_port()
        argv = [str(REPO / ".venv" / "bin" / "gatewayz"), "serve", "--host", bl.HOST, "--port", str(port)]
        child = bl.spawn("gateway", argv, home / "gateway.log", REPO, env)
        children.append(child)
        try:
            bl.wait_http_ok(child, f"http://{bl.HOST}:{port}/health", 90)
            conn = http.client.HTTPConnection(bl.HOST, port)
            deadline = time.monotonic() + 60
            while True:
                conn.request("GET", "/models/providers")
                rows = orjson.loads(conn.getresponse().read())["data"]
                if next(r for r in rows if r["name"] == "benchrouter")["model_count"] == args.models:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the catalog was not synced in 60 s")
                time.sleep(0.2)
            auth = {"Authorization": f"Bearer {admin_key}"}
            legs: dict[str, tuple[str, dict[str, str]]] = {
                "/health (floor)": ("/health", {}),
                "/models (100, name order)": ("/models", {}),
                "/models?q=reasoning vision (ranked, 20)": ("/models?q=reasoning%20vision&limit=20", {}),
                "/models filtered, by price (50)": (
                    "/models?min_context=100000&max_prompt_price=1&supports=tools&sort=price&limit=50",
                    {},
                ),
                "/models?limit=500&sort=context": ("/models?limit=500&sort=context", {}),
                "/models?sort=latency (live, 100)": ("/models?sort=latency", {}),
                "/models?sort=popularity (live, 100)": ("/models?sort=popularity", {}),
                "/models/{provider}/{model}": ("/models/benchrouter/openai/model-8", {}),
                f"/v1/models (all {args.models})": ("/v1/models", auth),
            }
            times: dict[str, list[float]] = {name: [] for name in legs}
            for _ in range(20):  # warm-up: indexes and sort orders built, connections warm
                for path, headers in legs.values():
                    timed(conn, path, headers)
            for _ in range(args.requests):
                for name, (path, headers) in legs.items():
                    times[name].append(timed(conn, path, headers))
        finally:
            for c in children:
                c.stop()
    floor = bl.percentile(times["/health (floor)"], 50)
    results: dict[str, Any] = {"models": args.models, "requests": args.requests, "legs": {}}
    print(f"{args.models} models, {args.requests} requests per leg, concurrency 1 (client time, ms)")
    for name, values in times.items():
        p50, p95 = bl.percentile(values, 50), bl.percentile(values, 95)
        results["legs"][name] = {"p50_ms": round(p50, 3), "p95_ms": round(p95, 3), "x_floor": round(p50 / floor, 2)}
        print(f"  {name:<45} p50 {p50:7.2f}  p95 {p95:7.2f}  ({p50 / floor:5.1f}x the floor)")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    bl.write_results(REPO / "bench" / "results" / f"catalog-{stamp}.json", results)
    return 0


if __name__ == "__main__":
    bl.script_main(main)
