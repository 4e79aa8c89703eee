"""The store's queries over many conversations: a user's list (filters, search, cursor), search
with snippets, and the retention purge across every tenant (history/conversations.py has the
rest; ConversationStore is both)."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from gatewayz.history import search as fts
from gatewayz.history.conversation_items import InvalidConversation, plausible_id, storable
from gatewayz.history.conversation_rows import (
    CONVERSATION_COLUMNS,
    Conversation,
    SearchHit,
    Statements,
    conversation_from_row,
    timestamp,
    to_datetime,
)
from gatewayz.storage.fastsql import FastSQL

MAX_PAGE = 1000
PURGE_BATCH_ITEMS = 5000  # per transaction: a SQLite statement runs on the event loop


class ConversationQueries:
    sql: FastSQL
    q: Statements

    async def list(self, user_id: int, environment: str, *, limit: int = 20, after: str | None = None,
                   order: str = "desc", q: str | None = None, model: str | None = None,
                   since: datetime | float | None = None, until: datetime | float | None = None,
                   ) -> tuple[builtins.list[Conversation], bool]:
        """A page of conversations by `updated_at` (newest first by default) and whether more
        follow. `after` is the last conversation id of the previous page; `q` keeps those whose
        title or items match; `since` (inclusive) and `until` (exclusive) bound `updated_at`."""
        check_page(limit, order)
        params: dict[str, Any] = {"user_id": int(user_id), "environment": environment, "limit": limit + 1}
        where = ["c.user_id = :user_id", "c.environment = :environment"]
        if model is not None:
            where.append("c.model = :model")
            if not (isinstance(model, str) and storable(model)):
                return [], False
            params["model"] = model
        for name, value, op in (("since", since, ">="), ("until", until, "<")):
            if value is not None:
                where.append(f"c.updated_at {op} :{name}")
                params[name] = _bound(self.sql.dialect, value, name)
        prefix = ""
        if q is not None and q.strip():
            words = fts.chunks(q)
            if not words:
                return [], False
            prefix, condition = fts.matching_conversations(self.sql.dialect)
            where.append(condition)
            params.update(fts.match_params(self.sql.dialect, user_id, words))
        direction = "DESC" if order == "desc" else "ASC"
        async with self.sql.transaction() as tx:
            if after is not None:
                cursor = await tx.fetchrow(
                    "SELECT updated_at, id FROM conversations WHERE id = :id AND user_id = :user_id "
                    "AND environment = :environment", tenant_of(user_id, environment, after)) \
                    if plausible_id(after) else None
                if cursor is None:
                    raise InvalidConversation(f"No conversation with id '{str(after)[:128]}'.", param="after")
                where.append(f"(c.updated_at, c.id) {'<' if order == 'desc' else '>'} (:after_at, :after_id)")
                params["after_at"], params["after_id"] = cursor
            rows = await tx.fetchall(
                f"{prefix} SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE {' AND '.join(where)} "
                f"ORDER BY c.updated_at {direction}, c.id {direction} LIMIT :limit", params)
        return [conversation_from_row(row) for row in rows[:limit]], len(rows) > limit

    async def search(self, user_id: int, environment: str, q: str, *, limit: int = 20) -> builtins.list[SearchHit]:
        """Conversations whose title or items hold every word of `q`, newest-updated first, one
        hit each (history/search.py). A query with no words finds nothing."""
        check_page(limit, "desc")
        words = fts.chunks(q)
        if not words:
            return []
        dialect = self.sql.dialect
        params = {"user_id": int(user_id), "environment": environment, "limit": limit,
                  **fts.match_params(dialect, user_id, words), **fts.search_params(dialect)}
        async with self.sql.transaction() as tx:
            rows = await tx.fetchall(fts.search_sql(dialect, CONVERSATION_COLUMNS), params)
        return [SearchHit(conversation_from_row(row), row[-2], row[-1] or "") for row in rows]

    async def purge_older_than(self, cutoff: datetime) -> int:
        """The retention job: delete every conversation (any tenant) not updated since `cutoff`,
        in batches of about PURGE_BATCH_ITEMS items. Returns how many went."""
        bound = _bound(self.sql.dialect, cutoff, "cutoff")
        purged = 0
        while True:
            async with self.sql.transaction() as tx:
                rows = await tx.fetchall("SELECT id, item_count FROM conversations WHERE updated_at < :cutoff "
                                         "ORDER BY updated_at LIMIT 500", {"cutoff": bound})
                batch, items = [], 0
                for conv_id, count in rows:
                    if batch and items + int(count) > PURGE_BATCH_ITEMS:
                        break
                    batch.append(conv_id)
                    items += int(count)
                if not batch:
                    return purged
                purged += await tx.execute(self.q.purge, {"ids": self.q.id_list(batch), "cutoff": bound})


def tenant_of(user_id: int, environment: str, conv_id: str) -> dict[str, Any]:
    return {"id": conv_id, "user_id": int(user_id), "environment": environment}


def check_page(limit: Any, order: Any) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidConversation(f"'limit' must be between 1 and {MAX_PAGE}.", param="limit")
    if order not in ("asc", "desc"):
        raise InvalidConversation("'order' must be 'asc' or 'desc'.", param="order")


def _bound(dialect: str, value: Any, param: str) -> Any:
    try:
        moment = to_datetime(value)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise InvalidConversation(f"'{param}' must be a time (unix seconds).", param=param) from exc
    return timestamp(dialect, moment)
