"""The servers a benchmark starts: the fake upstream, the gateway, and the baseline proxies.

Each is a child process in its own session on a free 127.0.0.1 port, appended to ``children`` as
soon as it is spawned, so the caller's ``finally`` stops it even if it never gets ready.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import benchlib as bl
from backends import Provisioned, gateway_env
from targets import BIN, MODEL, REPO, UPSTREAM_KEY

BENCH = Path(__file__).resolve().parent


def start_upstream(tmp: Path, children: list[bl.Child]) -> tuple[bl.Child, int]:
    argv = [sys.executable, "-m", "tests.fakeprovider", "--host", bl.HOST, "--port", "0", "--no-record"]
    child = bl.spawn("fakeprovider", argv, tmp / "upstream.log", REPO)
    children.append(child)
    port = int(bl.wait_for_line(child, r"listening on http://[\d.]+:(\d+)", 30).group(1))
    return child, port


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "x"


def start_gateway(
    tmp: Path,
    upstream_port: int,
    args: argparse.Namespace,
    admin_key: str,
    children: list[bl.Child],
    storage: Provisioned | None = None,
    name: str = "gateway",
) -> tuple[bl.Child, int, float, str]:
    """``gatewayz serve`` with a ``[providers.bench]`` config pointing at the upstream.

    Reads ``args.pricing``, ``args.workers``, ``args.gateway_src`` and (optionally) ``args.log_level``;
    ``storage`` is what ``backends.provisioned`` made (None: SQLite in a data dir of its own)."""
    home = tmp / slug(name)
    home.mkdir()
    config = home / "gatewayz.toml"
    text = (
        f'[providers.bench]\nprotocol = "openai"\nbase_url = "http://{bl.HOST}:{upstream_port}/v1"\n'
        f'api_key = "{UPSTREAM_KEY}"\nmodels = ["{MODEL}"]\n'
    )
    if args.pricing == "free":
        text += f'\n[providers.bench.pricing."{MODEL}"]\nprompt = 0.0\ncompletion = 0.0\n'
    config.write_text(text)
    (home / "data").mkdir()
    env = gateway_env(
        dict(os.environ),
        {
            "GATEWAYZ_DATA_DIR": str(home / "data"),
            "GATEWAYZ_ADMIN_KEY": admin_key,
            "GATEWAYZ_CONFIG": str(config),
            "GATEWAYZ_LOG_LEVEL": getattr(args, "log_level", "warning"),
            **(storage.env if storage else {}),
        },
    )
    if args.gateway_src:
        env["PYTHONPATH"] = str(args.gateway_src.resolve())
    port = bl.free_port()
    argv = [str(BIN / "gatewayz"), "serve", "--host", bl.HOST, "--port", str(port), "--workers", str(args.workers)]
    child = bl.spawn(name, argv, home / "gateway.log", REPO, env)
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


def start_bare_proxy(
    tmp: Path, upstream_port: int, children: list[bl.Child], app: str = "asgi", workers: int = 1
) -> tuple[bl.Child, int]:
    """``bench/bare_proxy.py``: the Python floor (see that file), served like ``gatewayz serve``."""
    port = bl.free_port()
    argv = [sys.executable, str(BENCH / "bare_proxy.py"), "--port", str(port), "--workers", str(workers)]
    argv += ["--upstream", f"http://{bl.HOST}:{upstream_port}/v1", "--api-key", UPSTREAM_KEY, "--app", app]
    child = bl.spawn("bare proxy", argv, tmp / "bare-proxy.log", REPO)
    children.append(child)
    bl.wait_http_ok(child, f"http://{bl.HOST}:{port}/health", 60)
    return child, port


def nginx_path() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).is_file()), None)


NGINX_CONF = """\
worker_processes {workers};
daemon off;
pid {home}/nginx.pid;
error_log {home}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {home}/body;
    proxy_temp_path {home}/proxy;
    fastcgi_temp_path {home}/fastcgi;
    uwsgi_temp_path {home}/uwsgi;
    scgi_temp_path {home}/scgi;
    upstream bench_upstream {{
        server {host}:{upstream_port};
        keepalive 128;
    }}
    server {{
        listen {host}:{port};
        keepalive_requests 1000000;
        location = /health {{ return 200 "ok"; }}
        location / {{
            proxy_pass http://bench_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
"""


def start_nginx_proxy(
    tmp: Path, upstream_port: int, children: list[bl.Child], workers: int = 1
) -> tuple[bl.Child, int] | None:
    """nginx as a reverse proxy with keep-alive to the upstream (no buffering, no access log), or
    None when nginx is not installed."""
    nginx = nginx_path()
    if nginx is None:
        return None
    home = tmp / "nginx"
    home.mkdir()
    port = bl.free_port()
    conf = home / "nginx.conf"
    conf.write_text(NGINX_CONF.format(workers=workers, home=home, host=bl.HOST, upstream_port=upstream_port, port=port))
    argv = [nginx, "-p", str(home), "-e", str(home / "error.log"), "-c", str(conf)]
    child = bl.spawn("nginx proxy", argv, home / "stdout.log", REPO)
    children.append(child)
    bl.wait_http_ok(child, f"http://{bl.HOST}:{port}/health", 30)
    return child, port
