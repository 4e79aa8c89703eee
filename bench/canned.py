"""A canned upstream: nginx answering the chat request with what the fake upstream answered once.

The fake upstream (Python, aiohttp) does a few thousand requests per second and shares the cores
with what is measured; behind it every proxy's req/s is partly the upstream's. With
``run.py --upstream canned`` the targets talk to nginx instead, which replays the fake's answer
to the benchmark's chat request (whole, or as a stream with usage when the body says
``"stream": true``), as the issue-13 measurements did ("canned nginx upstream").

nginx cannot look at a body in a ``return``, so the front server reads it (proxying), picks
``whole`` or ``stream`` from it with a ``map``, and asks a second server on another port for that
answer: two hops inside one nginx, still far cheaper than any Python server.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import benchlib as bl
from servers import nginx_path
from targets import MESSAGES, MODEL, REPO, UPSTREAM_KEY

CONF = """\
worker_processes 1;
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
    client_body_buffer_size 64k;
    keepalive_requests 1000000;
    map $request_body $canned {{
        "~\\"stream\\"\\s*:\\s*true" stream;
        default whole;
    }}
    upstream canned_back {{
        server {host}:{back};
        keepalive 64;
    }}
    server {{
        listen {host}:{port};
        location = /health {{ return 200 "ok"; }}
        location / {{
            proxy_pass http://canned_back;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Canned $canned;
            proxy_buffering off;
        }}
    }}
    server {{
        listen {host}:{back};
        location / {{
            if ($http_x_canned = stream) {{ rewrite ^ /stream last; }}
            rewrite ^ /whole last;
        }}
        location = /whole {{ default_type application/json; return 200 '{whole}'; }}
        location = /stream {{ default_type text/event-stream; return 200 '{stream}'; }}
    }}
}}
"""


def nginx_string(text: str) -> str:
    """``text`` inside a single-quoted nginx string (no variables: a ``$`` is refused)."""
    if "$" in text:
        raise ValueError("a canned answer with '$' would be read as an nginx variable")
    return text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")


def capture(fake_port: int) -> tuple[str, str]:
    """The fake upstream's whole answer and stream (with usage) to the benchmark's chat request."""
    answers = []
    for extra in ({}, {"stream": True, "stream_options": {"include_usage": True}}):
        body = json.dumps({"model": MODEL, "messages": MESSAGES, **extra}).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {UPSTREAM_KEY}"}
        req = urllib.request.Request(f"http://{bl.HOST}:{fake_port}/v1/chat/completions", body, headers)
        with urllib.request.urlopen(req, timeout=bl.REQUEST_TIMEOUT_S) as reply:
            answers.append(reply.read().decode())
    return answers[0], answers[1]


def start_canned_upstream(tmp: Path, fake_port: int, children: list[bl.Child]) -> tuple[bl.Child, int]:
    nginx = nginx_path()
    if nginx is None:
        raise SystemExit("--upstream canned needs nginx (apt-get install -y nginx)")
    whole, stream = capture(fake_port)
    home = tmp / "canned"
    home.mkdir()
    port, back = bl.free_port(), bl.free_port()
    conf = home / "nginx.conf"
    text = CONF.format(
        home=home, host=bl.HOST, port=port, back=back, whole=nginx_string(whole), stream=nginx_string(stream)
    )
    conf.write_text(text)
    argv = [nginx, "-p", str(home), "-e", str(home / "error.log"), "-c", str(conf)]
    child = bl.spawn("canned upstream", argv, home / "stdout.log", REPO)
    children.append(child)
    bl.wait_http_ok(child, f"http://{bl.HOST}:{port}/health", 30)
    return child, port
