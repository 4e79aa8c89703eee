"""The `gatewayz` command as an operator uses it: a fresh machine, SQLite, no configuration."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from gatewayz.cli import redact_url
from tests.support.servers import GatewayProcess

KEY = re.compile(r"gw_live_[A-Za-z0-9_-]{43}")
# The issue asks for < 2 s on a laptop (the README quotes the measured figure). Here the bound only
# catches a start that waits on something (a network call, a lock, a timeout): the suite runs its two
# passes side by side on 2 shared cores, where importing alone takes 2-3 s.
READY_LIMIT_SECONDS = 10.0


@pytest.fixture
def fresh_env(tmp_path: Path) -> dict[str, str]:
    """No DATABASE_URL, no secrets, no Redis: what a newcomer has."""
    inherited = os.environ.items()
    env = {k: v for k, v in inherited if not k.startswith("GATEWAYZ_") and k not in ("DATABASE_URL", "REDIS_URL")}
    env["GATEWAYZ_DATA_DIR"] = str(tmp_path / "data")
    env["GATEWAYZ_LOG_LEVEL"] = "warning"
    return env


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gatewayz", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=env["GATEWAYZ_DATA_DIR"].rsplit("/", 1)[0],
    )


@pytest.fixture
def served(fresh_env: dict[str, str], tmp_path: Path) -> Iterator[GatewayProcess]:
    process = GatewayProcess(fresh_env, log_dir=tmp_path)
    process.env.pop("GATEWAYZ_CONFIG", None)
    process.start()
    yield process
    process.stop()


def test_first_start_creates_schema_admin_and_prints_the_key_once(
    served: GatewayProcess, fresh_env: dict[str, str], tmp_path: Path
) -> None:
    assert served.ready_seconds is not None and served.ready_seconds < READY_LIMIT_SECONDS
    assert (tmp_path / "data" / "gatewayz.db").is_file()
    keys = KEY.findall(served.output())
    assert len(keys) == 1
    admin_key = keys[0]
    listed = httpx.get(f"{served.url}/admin/users", headers={"Authorization": f"Bearer {admin_key}"})
    assert listed.status_code == 200
    assert listed.json()["data"][0]["role"] == "admin"
    served.stop()
    again = GatewayProcess(fresh_env, log_dir=tmp_path / "second")
    (tmp_path / "second").mkdir()
    again.start()
    try:
        assert KEY.findall(again.output()) == []  # never printed a second time
        assert httpx.get(f"{again.url}/admin/users", headers={"x-api-key": admin_key}).status_code == 200
    finally:
        again.stop()


def test_admin_key_from_the_environment(fresh_env: dict[str, str], tmp_path: Path) -> None:
    chosen = "gw_live_" + "k" * 43
    process = GatewayProcess({**fresh_env, "GATEWAYZ_ADMIN_KEY": chosen}, log_dir=tmp_path)
    process.start()
    try:
        assert chosen not in process.output()
        response = httpx.get(f"{process.url}/admin/users", headers={"Authorization": f"Bearer {chosen}"})
        assert response.status_code == 200
    finally:
        process.stop()


def test_user_and_key_commands_against_a_running_gateway(served: GatewayProcess, fresh_env: dict[str, str]) -> None:
    created = cli(fresh_env, "users", "create", "cli@example.com", "--name", "Cli")
    assert created.returncode == 0, created.stderr
    user_key = KEY.findall(created.stdout)[0]
    assert httpx.get(f"{served.url}/user/api-keys", headers={"x-api-key": user_key}).status_code == 200

    made = cli(fresh_env, "keys", "create", "cli@example.com", "--name", "second", "--scope", "keys")
    assert made.returncode == 0, made.stderr
    second = KEY.findall(made.stdout)[0]
    key_id = re.search(r"Created key (\d+)", made.stdout)
    assert key_id is not None

    listing = cli(fresh_env, "keys", "list", "cli@example.com")
    assert listing.returncode == 0 and "second" in listing.stdout
    assert second not in listing.stdout and user_key not in listing.stdout

    assert httpx.get(f"{served.url}/user/api-keys", headers={"x-api-key": second}).status_code == 200
    revoked = cli(fresh_env, "keys", "revoke", key_id.group(1))
    assert revoked.returncode == 0, revoked.stderr
    # The running server learns of a revocation made by another process (no Redis: the poll).
    deadline = httpx.Timeout(5)
    status = 200
    for _ in range(100):
        status = httpx.get(f"{served.url}/user/api-keys", headers={"x-api-key": second}, timeout=deadline).status_code
        if status == 401:
            break
    assert status == 401

    users = cli(fresh_env, "users", "list")
    assert users.returncode == 0 and "cli@example.com" in users.stdout
    duplicate = cli(fresh_env, "users", "create", "cli@example.com")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stdout


def test_migrate_command(fresh_env: dict[str, str], tmp_path: Path) -> None:
    first = cli(fresh_env, "migrate")
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "data" / "gatewayz.db").is_file()
    assert cli(fresh_env, "migrate").returncode == 0


def test_bad_configuration_is_a_clear_error(fresh_env: dict[str, str]) -> None:
    result = cli({**fresh_env, "GATEWAYZ_ENVIRONMENT": "production"}, "migrate")
    assert result.returncode == 2
    assert "GATEWAYZ_ENVIRONMENT" in result.stdout


def _banner_lines(process: GatewayProcess, data_dir: Path) -> None:
    out = process.output()
    assert f"serving on {process.url} (1 worker(s))" in out
    assert f"API docs:  {process.url}/docs" in out
    assert f"Database:  sqlite:///{data_dir}/gatewayz.db" in out
    assert "Redis:     not used" in out


def test_every_start_says_where_it_listens_and_what_it_uses(fresh_env: dict[str, str], tmp_path: Path) -> None:
    first = GatewayProcess(fresh_env, log_dir=tmp_path).start()
    first.stop()
    _banner_lines(first, tmp_path / "data")
    assert len(KEY.findall(first.output())) == 1 and "Admin: " not in first.output()

    (tmp_path / "second").mkdir()
    second = GatewayProcess(fresh_env, log_dir=tmp_path / "second").start()
    second.stop()
    _banner_lines(second, tmp_path / "data")
    assert KEY.findall(second.output()) == []
    assert "admin@localhost exists" in second.output()
    assert "gatewayz keys create admin@localhost --scope admin" in second.output()


def test_printed_urls_never_show_a_password() -> None:
    assert redact_url("postgresql://gw:s3cr@t@db:5432/gw") == "postgresql://gw:***@db:5432/gw"
    assert redact_url("redis://:hunter2@cache:6379/0") == "redis://:***@cache:6379/0"
    assert redact_url("postgresql://gw@db/gw?sslmode=require&password=x") == "postgresql://gw@db/gw?sslmode=require&password=***"
    assert redact_url("sqlite:///./data/gatewayz.db") == "sqlite:///./data/gatewayz.db"


def _access_lines(process: GatewayProcess) -> list[dict[str, object]]:
    lines = []
    for line in process.output().splitlines():
        if line.startswith("{"):
            entry = orjson.loads(line)
            if entry.get("event") == "request":
                lines.append(entry)
    return lines


def test_one_access_log_line_per_request(fresh_env: dict[str, str], tmp_path: Path) -> None:
    process = GatewayProcess({**fresh_env, "GATEWAYZ_LOG_LEVEL": "info"}, log_dir=tmp_path).start()
    try:
        admin_key = KEY.findall(process.output())[0]
        admin = {"Authorization": f"Bearer {admin_key}"}
        created = httpx.post(f"{process.url}/user/api-keys", json={"environment": "test"}, headers=admin)
        sandbox = created.json()["key"]
        chat = httpx.post(
            f"{process.url}/v1/chat/completions",
            json={"model": "sandbox/chat", "messages": [{"role": "user", "content": "Hi"}]},
            headers={"Authorization": f"Bearer {sandbox}"},
        )
        assert chat.status_code == 200
        missing = httpx.get(f"{process.url}/no/such/path")
        for _ in range(3):
            httpx.get(f"{process.url}/ping")
    finally:
        process.stop()
    lines = _access_lines(process)
    counts = Counter((e["method"], e["path"]) for e in lines)
    # One line per request, not per ASGI message (the probes of the start-up wait are GET /health).
    assert set(counts) == {("GET", "/health"), ("POST", "/user/api-keys"), ("POST", "/v1/chat/completions"),
                           ("GET", "/no/such/path"), ("GET", "/ping")}  # fmt: skip
    assert counts[("GET", "/ping")] == 3 and counts[("POST", "/v1/chat/completions")] == 1
    by_path = {(e["method"], e["path"]): e for e in lines}
    created_line = by_path[("POST", "/user/api-keys")]
    assert created_line["status"] == 201 and created_line["request_id"] == created.headers["x-request-id"]
    chat_line = by_path[("POST", "/v1/chat/completions")]
    assert chat_line["status"] == 200 and chat_line["request_id"] == chat.headers["x-request-id"]
    assert chat_line["provider"] == "sandbox" and chat_line["model"] and chat_line["cost_usd"] == "0.000000000"
    assert by_path[("GET", "/no/such/path")]["status"] == 404 == missing.status_code
    for entry in lines:
        assert isinstance(entry["latency_ms"], float) and 0 <= entry["latency_ms"] < 5000


def test_the_access_log_can_be_turned_off(fresh_env: dict[str, str], tmp_path: Path) -> None:
    env = {**fresh_env, "GATEWAYZ_LOG_LEVEL": "info", "GATEWAYZ_ACCESS_LOG": "false"}
    process = GatewayProcess(env, log_dir=tmp_path).start()
    try:
        assert httpx.get(f"{process.url}/ping").status_code == 200
    finally:
        process.stop()
    assert _access_lines(process) == []
