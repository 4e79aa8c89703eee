"""Retention settings from outside: a gateway with GATEWAYZ_AUDIT_RETENTION_DAYS,
GATEWAYZ_SECURITY_EVENT_RETENTION_DAYS and GATEWAYZ_USAGE_RETENTION_DAYS deletes the rows older than
that (in batches: more rows than one batch holds) and keeps every newer one."""

from __future__ import annotations

import time

import pytest

from gatewayz.storage.retention import BATCH_ROWS, purge_table
from tests.conftest import settings_from_env
from tests.support.databases import run_sql
from tests.support.servers import ThreadedGateway

OLD, RECENT = "2020-01-01 00:00:00.000000", "2099-01-01 00:00:00.000000"  # RECENT: never purged by anyone
SERIES = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) "


def _fill(database_url: str, tag: str, when: str, count: int) -> None:
    series = SERIES.format(count=count)
    run_sql(database_url, series + "INSERT INTO audit_records (created_at, actor_type, action, target_type, "
            f"target_id) SELECT '{when}', 'system', 'retention.test', '{tag}', CAST(i AS VARCHAR(16)) FROM n")
    run_sql(database_url, series + "INSERT INTO security_events (created_at, event, reason, status, path) "
            f"SELECT '{when}', 'retention_test', 'old', 401, '{tag}' FROM n")
    run_sql(database_url, series + "INSERT INTO usage_records (request_id, user_id, key_id, endpoint, model, "
            "prompt_tokens, completion_tokens, cached_tokens, cost, uncollected, estimated, stream, status, "
            f"created_at) SELECT '{tag}-{when[:4]}-' || CAST(i AS VARCHAR(16)), 0, 0, 'chat', '{tag}', 0, 0, 0, "
            f"0, 0, false, false, 200, '{when}' FROM n")


def _counts(database_url: str, tag: str) -> tuple[int, int, int]:
    return (
        int(run_sql(database_url, "SELECT COUNT(*) FROM audit_records WHERE target_type = :p0", tag)[0][0]),
        int(run_sql(database_url, "SELECT COUNT(*) FROM security_events WHERE path = :p0", tag)[0][0]),
        int(run_sql(database_url, "SELECT COUNT(*) FROM usage_records WHERE model = :p0", tag)[0][0]),
    )


def test_old_rows_go_in_batches_and_newer_ones_stay(base_env: dict[str, str], gateway: ThreadedGateway,
                                                    database_url: str) -> None:
    tag = f"retention-{time.monotonic_ns()}"
    _fill(database_url, tag, OLD, BATCH_ROWS + 250)
    _fill(database_url, tag + "-new", RECENT, 3)
    assert _counts(database_url, tag) == (BATCH_ROWS + 250,) * 3
    settings = settings_from_env(base_env, billing_job_interval_seconds=0.2, audit_retention_days=30,
                                 security_event_retention_days=30, usage_retention_days=30)
    server = ThreadedGateway(settings).start()
    try:
        deadline = time.monotonic() + 15
        while _counts(database_url, tag) != (0, 0, 0) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _counts(database_url, tag) == (0, 0, 0)
        assert _counts(database_url, tag + "-new") == (3, 3, 3)
        recorded = run_sql(database_url, "SELECT target_id, actor_type, after FROM audit_records "
                                         "WHERE action = 'retention.purge' ORDER BY id")
        purged = {str(r[0]): r for r in recorded}
        assert set(purged) >= {"audit_records", "security_events", "usage_records"}  # each purge leaves a record
        assert all(r[1] == "system" for r in recorded)
    finally:
        server.stop()
    for table, column in (("usage_records", "model"), ("audit_records", "target_type"), ("security_events", "path")):
        run_sql(database_url, f"DELETE FROM {table} WHERE {column} = :p0", tag + "-new")  # nothing left for others


def test_only_the_append_only_tables_can_be_purged() -> None:
    with pytest.raises(ValueError):
        purge_table(None, "credit_transactions")  # type: ignore[arg-type]
