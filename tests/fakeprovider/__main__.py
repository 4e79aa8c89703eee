"""Run the fake provider as its own process: ``python -m tests.fakeprovider --port 9000``.

Benchmarks and multi-process tests need it outside the test interpreter so the
fake's CPU use doesn't compete with the gateway's event loop. The first stdout line
is ``fakeprovider listening on http://HOST:PORT`` (useful with ``--port 0``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

import orjson
from aiohttp import web

from .scenario import Scenario, State
from .server import build_app, make_runner


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; anything not covered by a flag goes through ``--scenario``."""
    p = argparse.ArgumentParser(prog="python -m tests.fakeprovider", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="delay before response headers")
    p.add_argument("--first-byte-delay-ms", type=float, default=0.0)
    p.add_argument("--chunk-delay-ms", type=float, default=0.0)
    p.add_argument("--reply", default=None, help="fixed reply text instead of echoing")
    p.add_argument("--api-key", default=None, help="only accept this key")
    p.add_argument("--models", default=None, help="comma-separated model ids to list")
    p.add_argument("--scenario", default=None, help="JSON object of extra Scenario fields")
    p.add_argument("--no-record", action="store_true", help="don't record requests (benchmarks)")
    p.add_argument("--no-uvloop", action="store_true")
    return p.parse_args(argv)


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    """Build the base scenario (what ``/_fake/reset`` returns to)."""
    fields: dict[str, Any] = {
        "latency_ms": args.latency_ms,
        "first_byte_delay_ms": args.first_byte_delay_ms,
        "chunk_delay_ms": args.chunk_delay_ms,
        "reply": args.reply,
        "api_key": args.api_key,
    }
    if args.models:
        fields["models"] = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.scenario:
        fields.update(orjson.loads(args.scenario))
    return Scenario().merged(fields)


async def serve(args: argparse.Namespace) -> None:
    """Serve until SIGINT/SIGTERM."""
    state = State(scenario_from_args(args), record=not args.no_record)
    runner = make_runner(build_app(state))
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, reuse_address=True, backlog=4096)
    await site.start()
    host, port = runner.addresses[0][:2]
    print(f"fakeprovider listening on http://{host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Entry point; uses uvloop when installed since the benchmark baseline should be lean."""
    args = parse_args(argv)
    if not args.no_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            uvloop.run(serve(args))
            return 0
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
