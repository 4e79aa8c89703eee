"""Appends made after the answer went out (history injection's write-back), which must neither
fail into an error for the client nor be lost.

Like stored responses (history/responses.py): tried at once and twice more (after 0.05 s and
0.25 s), then kept durably in the data directory's spool (`pending-history.jsonl`, fsynced) and
logged as `history_append_deferred` at error level; `drain()`, run by the periodic billing job,
completes kept appends. Item ids and times are fixed before the first try, and every durable
append carries its request id, so a replay (a retry after a commit whose answer was lost, a line
drained twice) finds the request already appended and adds nothing. An append the store refuses
by its rules (the conversation is full, an item too large) is logged as `history_append_refused`
and set aside in `pending-history.jsonl.rejected`; one whose conversation is gone is dropped
(`history_append_dropped`): the user deleted it.

The retention job is storage/retention.py's `Retention` over `purge_older_than`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from gatewayz.history.conversation_items import ConversationError, prepare_items
from gatewayz.storage.spool import DrainLog, Spool, describe, drain_spool, keep_line, refused_for_good

if TYPE_CHECKING:
    from gatewayz.history.conversation_items import PreparedItem
    from gatewayz.history.conversation_rows import StoredItem, Turn

log = structlog.get_logger("gatewayz.history.conversations")
_DRAIN_LOG = DrainLog(
    log, refused="history_append_refused", still_failing="history_append_still_failing", failed="history_drain_failed"
)

SPOOL_NAME = "pending-history.jsonl"
RETRY_DELAYS = (0.05, 0.25)  # after the first attempt; then the spool
_FIELDS = (
    "user_id",
    "environment",
    "conversation_id",
    "items",
    "model",
    "provider",
    "request_id",
    "usage",
    "tokens",
    "created_at",
)


class DurableAppends:
    """The durable half of ConversationStore (which provides `_append`, `_turn`, `max_item_bytes`)."""

    max_item_bytes: int

    def __init__(self, data_dir: Path) -> None:
        self.spool = Spool(data_dir / SPOOL_NAME)
        self.deferred = 0  # appends kept in the spool by this process (for health/metrics)

    async def _append(
        self, user_id: int, environment: str, conv_id: str, prepared: list[PreparedItem], turn: Turn, created: datetime
    ) -> list[StoredItem] | None:
        raise NotImplementedError

    def _turn(self, model: Any, provider: Any, request_id: Any, usage: Any, tokens: Any) -> Turn:
        raise NotImplementedError

    async def append_durable(
        self,
        user_id: int,
        environment: str,
        conv_id: str,
        items: Iterable[dict[str, Any]],
        *,
        request_id: str,
        model: str | None = None,
        provider: str | None = None,
        usage: dict[str, Any] | None = None,
        tokens: int = 0,
    ) -> list[StoredItem] | None:
        """`append` for the after-the-answer path. Never raises an Exception: returns the stored
        items, or None when the append was deferred to the spool, refused, or has no conversation
        to go to (each logged). Run it shielded from the request's cancellation."""
        if not isinstance(request_id, str) or not request_id:
            raise ValueError("a durable append needs the request id (it is what makes replays harmless)")
        created = datetime.now(UTC)
        try:
            prepared = prepare_items(items, self.max_item_bytes)
            turn = self._turn(model, provider, request_id, usage, tokens)
        except ConversationError as exc:
            _refused(conv_id, request_id, exc)
            return None
        error: Exception | None = None
        for delay in (0.0, *RETRY_DELAYS):
            if delay:
                await asyncio.sleep(delay)
            try:
                stored = await self._append(user_id, environment, conv_id, prepared, turn, created)
            except ConversationError as exc:
                _refused(conv_id, request_id, exc)
                return None
            except Exception as exc:
                if refused_for_good(exc):
                    _refused(conv_id, request_id, exc)
                    return None
                error = exc
                continue
            if stored is None:
                log.warning("history_append_dropped", conversation_id=str(conv_id)[:128], request_id=request_id)
            return stored
        line = {
            "user_id": int(user_id),
            "environment": environment,
            "conversation_id": conv_id,
            "items": [p.item for p in prepared],
            "model": turn.model,
            "provider": turn.provider,
            "request_id": turn.request_id,
            "usage": None if turn.usage is None else orjson.loads(turn.usage),
            "tokens": turn.tokens,
            "created_at": created.timestamp(),
        }
        await self._defer(line, error)
        return None

    async def _defer(self, line: dict[str, Any], error: Exception | None) -> None:
        self.deferred += 1
        kept_in = await keep_line(self.spool, line)
        log.error(
            "history_append_deferred",
            conversation_id=line["conversation_id"],
            request_id=line["request_id"],
            items=len(line["items"]),
            kept_in=kept_in,
            error=describe(error) if error else None,
        )

    async def drain(self) -> int:
        """Complete spooled appends; returns how many are now in the database (a replay of one
        already there counts, adding nothing). Safe in every process at once and to repeat. Never
        raises: it runs inside the billing job, whose other work must go on."""
        return await drain_spool(self.spool, self._complete, _never_completes, _DRAIN_LOG)

    async def _complete(self, line: str) -> bool:
        job = _spooled(line)
        prepared = prepare_items(job["items"], self.max_item_bytes)
        turn = self._turn(job["model"], job["provider"], job["request_id"], job["usage"], job["tokens"])
        created = datetime.fromtimestamp(job["created_at"], UTC)
        stored = await self._append(job["user_id"], job["environment"], job["conversation_id"], prepared, turn, created)
        if stored is None:
            log.warning("history_append_dropped", conversation_id=job["conversation_id"], request_id=job["request_id"])
        return stored is not None


def _spooled(line: str) -> dict[str, Any]:
    job = orjson.loads(line)  # orjson.JSONDecodeError is a ValueError
    if (
        not isinstance(job, dict)
        or not set(_FIELDS) <= job.keys()
        or not isinstance(job["user_id"], int)
        or not isinstance(job["created_at"], int | float)
        or not isinstance(job["request_id"], str)
    ):
        raise ValueError("not a spooled conversation append")
    return job


def _refused(conv_id: Any, request_id: str, exc: Exception) -> None:
    log.error("history_append_refused", conversation_id=str(conv_id)[:128], request_id=request_id, error=describe(exc))


def _never_completes(exc: Exception) -> bool:
    """Refused by the store's rules, not a line we wrote, or refused by the database's rules."""
    return isinstance(exc, ValueError | TypeError | KeyError | OverflowError) or refused_for_good(exc)
