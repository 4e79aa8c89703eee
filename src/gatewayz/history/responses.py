"""Stored Responses API responses: save, read, delete, and the earlier turns of a conversation.

Every read and delete is scoped by user AND key environment: another user's id, or a sandbox id
asked for with a live key (or the reverse), is simply not found (the caller answers 404).

Saving happens after the answer went out, so it cannot fail into an error for the client. Like
settlement (billing/settlement.py) it retries at once (a lock, a dropped connection), then keeps the
row durably in the data directory's spool (`pending-responses.jsonl`, fsynced) and logs
`response_store_deferred` at error level; `drain()`, run by a periodic job, completes kept saves.
A save the database refuses for good (the user was deleted; a value too long) is logged as
`response_store_refused` and dropped: retrying could never succeed. Known gap: a response deleted
while an earlier save of it still waits in the spool comes back when the spool is drained.

Statements per call (each one SQL statement, one round trip on PostgreSQL unless noted):
- save: one upsert per attempt, at most 3 attempts;
- get: one SELECT;
- earlier_items: one SELECT (a recursive CTE walks the chain), in a FastSQL transaction: on
  PostgreSQL BEGIN/statement/COMMIT, as FastSQL has no `fetchall_once`;
- delete: one DELETE, in a FastSQL transaction (as above);
- drain: one upsert per spooled line (none when the spool is empty: a stat of the directory).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import structlog

from gatewayz.history.conversation_rows import unix
from gatewayz.history.tables import ENVIRONMENT_LENGTH, ID_LENGTH, MODEL_LENGTH, STATUS_LENGTH
from gatewayz.storage.fastsql import FastSQL
from gatewayz.storage.spool import DrainLog, Spool, describe, drain_spool, keep_line, refused_for_good

log = structlog.get_logger("gatewayz.history.responses")
_DRAIN_LOG = DrainLog(
    log,
    refused="response_store_refused",
    still_failing="response_store_still_failing",
    failed="response_store_drain_failed",
)

RETRY_DELAYS = (0.05, 0.25)  # after the first attempt; then the spool
SPOOL_NAME = "pending-responses.jsonl"
MAX_CHAIN = 1000

_FIELDS = (
    "id",
    "user_id",
    "api_key_id",
    "environment",
    "model",
    "status",
    "previous_response_id",
    "created_at",
    "revision",
    "response",
    "input_items",
)
_COLUMNS = ", ".join(_FIELDS)
# A newer revision replaces an older one (partial then final); never another tenant's row.
_SAVE = f"""
INSERT INTO stored_responses ({_COLUMNS})
VALUES (:id, :user_id, :api_key_id, :environment, :model, :status, :previous_response_id, :created_at,
        :revision, :response, :input_items)
ON CONFLICT (id) DO UPDATE SET
    api_key_id = excluded.api_key_id, model = excluded.model, status = excluded.status,
    previous_response_id = excluded.previous_response_id, created_at = excluded.created_at,
    revision = excluded.revision, response = excluded.response, input_items = excluded.input_items
WHERE stored_responses.user_id = excluded.user_id AND stored_responses.environment = excluded.environment
    AND stored_responses.revision <= excluded.revision
"""
_GET = """
SELECT id, user_id, api_key_id, environment, model, status, previous_response_id, created_at, response, input_items
FROM stored_responses WHERE id = :id AND user_id = :user_id AND environment = :environment
"""
_DELETE = "DELETE FROM stored_responses WHERE id = :id AND user_id = :user_id AND environment = :environment"
# Newest first by depth; every step stays inside the tenant, and the depth bound ends any cycle.
_CHAIN = """
WITH RECURSIVE chain (id, previous_response_id, depth) AS (
    SELECT id, previous_response_id, 0 FROM stored_responses
    WHERE id = :id AND user_id = :user_id AND environment = :environment
    UNION ALL
    SELECT r.id, r.previous_response_id, chain.depth + 1
    FROM stored_responses r JOIN chain ON r.id = chain.previous_response_id
    WHERE chain.depth + 1 < :max_responses AND r.user_id = :user_id AND r.environment = :environment
)
SELECT chain.id, r.input_items, r.response FROM chain JOIN stored_responses r ON r.id = chain.id
ORDER BY chain.depth
"""


@dataclass
class StoredResponseRecord:
    """One stored response. `created_at` is unix seconds (as in the Response object)."""

    id: str
    user_id: int
    api_key_id: int | None
    environment: str
    model: str
    status: str
    previous_response_id: str | None
    created_at: int
    response: dict[str, Any]
    input_items: list[dict[str, Any]]


class ResponseStore:
    """Stored responses on FastSQL's lean path; `data_dir` holds the spool of deferred saves."""

    def __init__(self, sql: FastSQL, data_dir: Path) -> None:
        self.sql = sql
        self.spool = Spool(data_dir / SPOOL_NAME)
        self.deferred = 0  # saves kept in the spool by this process (for health/metrics)
        self._last_revision = 0

    # -- writing -------------------------------------------------------------------------------

    async def save(self, record: StoredResponseRecord) -> None:
        """Insert, or replace an older version with the same id. Never raises (an Exception): what
        cannot be written now is spooled for `drain()`."""
        try:
            row = self._row(record)
        except (TypeError, ValueError) as exc:  # orjson.JSONEncodeError is a TypeError
            log.error("response_store_refused", response_id=record.id[:ID_LENGTH], error=str(exc)[:300])
            return
        error: Exception | None = None
        for delay in (0.0, *RETRY_DELAYS):
            if delay:
                await asyncio.sleep(delay)
            try:
                await self._write(row)
                return
            except Exception as exc:
                if refused_for_good(exc):
                    log.error("response_store_refused", response_id=record.id, error=describe(exc))
                    return
                error = exc
        await self._defer(row, error)

    def _row(self, record: StoredResponseRecord) -> dict[str, Any]:
        """The row's parameters, checked: a value the database would refuse is refused here, the
        same on SQLite (which does not check lengths) as on PostgreSQL."""
        for name, value, limit in (
            ("id", record.id, ID_LENGTH),
            ("model", record.model, MODEL_LENGTH),
            ("status", record.status, STATUS_LENGTH),
            ("environment", record.environment, ENVIRONMENT_LENGTH),
            ("previous_response_id", record.previous_response_id or "", ID_LENGTH),
        ):
            if not isinstance(value, str) or len(value) > limit or "\x00" in value:
                raise ValueError(f"{name} cannot be stored (more than {limit} characters, or not text)")
        self._last_revision = max(time.time_ns(), self._last_revision + 1)
        return {
            "id": record.id,
            "user_id": int(record.user_id),
            "api_key_id": None if record.api_key_id is None else int(record.api_key_id),
            "environment": record.environment,
            "model": record.model,
            "status": record.status,
            "previous_response_id": record.previous_response_id,
            "created_at": int(record.created_at),
            "revision": self._last_revision,
            # orjson writes NUL as \u0000 and refuses lone surrogates: the text is storable anywhere
            "response": orjson.dumps(record.response).decode(),
            "input_items": orjson.dumps(record.input_items).decode(),
        }

    async def _write(self, row: dict[str, Any]) -> None:
        await self.sql.fetchrow_once(_SAVE, {**row, "created_at": self._ts(row["created_at"])})

    async def _defer(self, row: dict[str, Any], error: Exception | None) -> None:
        self.deferred += 1
        kept_in = await keep_line(self.spool, row)
        log.error(
            "response_store_deferred", response_id=row["id"], kept_in=kept_in, error=describe(error) if error else None
        )

    # -- reading -------------------------------------------------------------------------------

    async def get(self, user_id: int, environment: str, response_id: str) -> StoredResponseRecord | None:
        row = await self.sql.fetchrow_once(_GET, {"id": response_id, "user_id": user_id, "environment": environment})
        if row is None:
            return None
        rid, uid, key_id, env, model, status, previous, created, response, items = row
        return StoredResponseRecord(
            id=rid,
            user_id=int(uid),
            api_key_id=None if key_id is None else int(key_id),
            environment=env,
            model=model,
            status=status,
            previous_response_id=previous,
            created_at=unix(created),
            response=orjson.loads(response),
            input_items=orjson.loads(items),
        )

    async def delete(self, user_id: int, environment: str, response_id: str) -> bool:
        async with self.sql.transaction() as tx:
            count = await tx.execute(_DELETE, {"id": response_id, "user_id": user_id, "environment": environment})
        return count > 0

    async def earlier_items(
        self, user_id: int, environment: str, response_id: str, *, max_responses: int = MAX_CHAIN
    ) -> list[dict[str, Any]] | None:
        """The conversation up to and including `response_id`, oldest first: each response's input
        items, then its output items. None when the id is not this user's in this environment.

        A chain longer than `max_responses` loses its oldest responses; a deleted response ends the
        chain (what came before it is not reachable any more)."""
        if max_responses < 1:
            raise ValueError("max_responses must be at least 1")
        params = {
            "id": response_id,
            "user_id": user_id,
            "environment": environment,
            "max_responses": min(max_responses, 2**31 - 1),
        }
        async with self.sql.transaction() as tx:
            rows = await tx.fetchall(_CHAIN, params)
        if not rows:
            return None
        seen: set[str] = set()
        turns: list[list[dict[str, Any]]] = []
        for rid, items, response in rows:  # newest first
            if rid in seen:  # a cycle: never made by the gateway, but never followed twice
                break
            seen.add(rid)
            output = orjson.loads(response).get("output")
            turns.append([*orjson.loads(items), *(output if isinstance(output, list) else [])])
        return [item for turn in reversed(turns) for item in turn]

    # -- the job's side ------------------------------------------------------------------------

    async def drain(self) -> int:
        """Complete spooled saves; returns how many were written. Safe to run in every process at
        once and to repeat (a replayed save never replaces a newer revision). Never raises: it runs
        inside the billing job, whose other work must go on; a file it could not finish stays in
        the spool and is taken again next time."""
        return await drain_spool(self.spool, self._complete, _never_completes, _DRAIN_LOG)

    async def _complete(self, line: str) -> bool:
        await self._write(_spooled_row(line))
        return True

    def _ts(self, unix: int) -> Any:
        """created_at as each driver takes it: SQLite gets the text SQLAlchemy stores for a UTC
        datetime (so the ORM reads it back), PostgreSQL an aware datetime."""
        value = datetime.fromtimestamp(unix, UTC)
        if self.sql.dialect == "sqlite":
            return value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        return value


def _spooled_row(line: str) -> dict[str, Any]:
    row = orjson.loads(line)  # orjson.JSONDecodeError is a ValueError
    if not isinstance(row, dict) or not set(_FIELDS) <= row.keys() or not isinstance(row["created_at"], int):
        raise ValueError("not a spooled stored response")
    return row


def _never_completes(exc: Exception) -> bool:
    """Not a line this store wrote (torn by a crash?), or refused by the database's rules."""
    return isinstance(exc, ValueError) or refused_for_good(exc)
