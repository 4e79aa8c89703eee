"""Conversations (= chat sessions) and their items: the one store behind OpenAI's Conversations
API, the gateway's chat sessions and `session_id` history injection on chat completions.

Every method is scoped by user AND key environment: another user's id, or a sandbox id asked for
with a live key (or the reverse), is simply not there (None / False), never an error that says it
exists. Values the store refuses raise a `ConversationError` (history/conversation_items.py) with
the error code and the field it is about; the routes answer 400.

Appends are one transaction: the conversation row is locked and its `next_position` bumped by the
same UPDATE (so two appends to one conversation never collide nor interleave on PostgreSQL; on
SQLite the writer lock serialises them), then the items are inserted. An append carrying a
`request_id` already applied to the conversation is a no-op returning what the first one stored:
that is what makes retries and spool replays (history/conversation_spool.py) safe.

Statements per call (SQL statements; on PostgreSQL a FastSQL transaction adds BEGIN and COMMIT):
- get, update, delete, get_item, set_summary, all_items: one statement, on its own (one round trip
  on PostgreSQL); all_items gets one row, the items aggregated as JSON text;
- items: one SELECT; list: one SELECT (two with an `after` cursor); search: one SELECT;
- create: one INSERT, plus the items' INSERT (one per item on SQLite, one in all on PostgreSQL);
- append: UPDATE, [a SELECT of the request's earlier items, when a request_id is given], [a SELECT
  when the caller chose item ids], the INSERT as in create; a refused append one more SELECT;
- delete_item: DELETE and UPDATE; purge_older_than: a SELECT, then a DELETE per batch.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from gatewayz.history.conversation_items import (
    ConversationError,
    ConversationFull,
    InvalidConversation,
    ItemTooLarge,
    PreparedItem,
    check_count,
    check_metadata,
    check_model,
    check_provider,
    check_request_id,
    check_settings,
    check_text,
    check_title,
    check_usage,
    dumps,
    new_id,
    plausible_id,
    prepare_items,
)
from gatewayz.history.conversation_queries import ConversationQueries, check_page, tenant_of
from gatewayz.history.conversation_rows import (
    CONVERSATION_FIELDS,
    ITEM_COLUMNS,
    SQL,
    Conversation,
    SearchHit,
    StoredItem,
    Turn,
    conversation_from_row,
    item_from_row,
    items_from_json,
    timestamp,
)
from gatewayz.history.conversation_spool import DurableAppends
from gatewayz.history.tables import ENVIRONMENT_LENGTH
from gatewayz.storage.fastsql import FastSQL, Tx

__all__ = ["UNSET", "Conversation", "ConversationError", "ConversationFull", "ConversationStore", "InvalidConversation",
           "ItemTooLarge", "SearchHit", "StoredItem"]



class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # `update(title=UNSET)`: leave the title as it is


class _Replayed(Exception):
    """Inside an append's transaction: the request already appended these (roll back, return them)."""

    def __init__(self, items: list[StoredItem]) -> None:
        self.items = items


class ConversationStore(ConversationQueries, DurableAppends):
    """Conversations on FastSQL's lean path; `data_dir` holds the spool of deferred appends."""

    def __init__(self, sql: FastSQL, data_dir: Path, *, max_items: int = 10_000,
                 max_item_bytes: int = 1_048_576) -> None:
        super().__init__(data_dir)
        self.sql = sql
        self.max_items = max_items
        self.max_item_bytes = max_item_bytes
        self.q = SQL[sql.dialect]

    # -- conversations ---------------------------------------------------------------------------

    async def create(self, user_id: int, environment: str, *, api_key_id: int | None, title: str | None = None,
                     model: str | None = None, metadata: dict[str, str] | None = None,
                     settings: dict[str, Any] | None = None, items: Iterable[dict[str, Any]] = ()) -> Conversation:
        """A new conversation, with `items` appended in the same transaction."""
        check_text(environment, "environment", ENVIRONMENT_LENGTH, optional=False)
        title, model = check_title(title), check_model(model)
        meta, conf = check_metadata(metadata), check_settings(settings)
        prepared = prepare_items(items, self.max_item_bytes)
        if len(prepared) > self.max_items:
            raise ConversationFull(self.max_items)
        now = datetime.now(UTC)
        conversation = Conversation(
            id=new_id("conv_"), user_id=int(user_id), api_key_id=None if api_key_id is None else int(api_key_id),
            environment=environment, title=title, model=model, metadata=meta, settings=conf, summary=None,
            summary_upto=None, created_at=int(now.timestamp()), updated_at=int(now.timestamp()),
            item_count=len(prepared), token_total=0, next_position=len(prepared))
        async with self.sql.transaction() as tx:
            await tx.execute(self.q.insert_conversation, {
                "id": conversation.id, "user_id": conversation.user_id, "api_key_id": conversation.api_key_id,
                "environment": environment, "title": title, "model": model, "metadata": dumps(meta, "metadata"),
                "settings": dumps(conf, "settings"), "now": tx.ts(now), "count": len(prepared)})
            if prepared:
                await self._insert(tx, tenant_of(user_id, environment, conversation.id), 0, prepared, Turn(), now)
        return conversation

    async def get(self, user_id: int, environment: str, conv_id: str) -> Conversation | None:
        if not plausible_id(conv_id):
            return None
        row = await self.sql.fetchrow_once(self.q.get, tenant_of(user_id, environment, conv_id))
        return conversation_from_row(row) if row else None

    async def update(self, user_id: int, environment: str, conv_id: str, *, title: Any = UNSET,
                     metadata: Any = UNSET, settings: Any = UNSET) -> Conversation | None:
        """Change only the fields given (metadata and settings are replaced whole; None clears)."""
        changes: dict[str, Any] = {}
        if title is not UNSET:
            changes["title"] = check_title(title)
        if metadata is not UNSET:
            changes["metadata"] = dumps(check_metadata(metadata), "metadata")
        if settings is not UNSET:
            changes["settings"] = dumps(check_settings(settings), "settings")
        if not plausible_id(conv_id):
            return None
        sets = ", ".join(f"{name} = :{name}" for name in changes)
        sql = f"UPDATE conversations SET {sets + ', ' if sets else ''}updated_at = :now " \
            f"WHERE id = :id AND user_id = :user_id AND environment = :environment RETURNING {CONVERSATION_FIELDS}"
        params = {**tenant_of(user_id, environment, conv_id), **changes, "now": timestamp(self.sql.dialect)}
        row = await self.sql.fetchrow_once(sql, params)
        return conversation_from_row(row) if row else None

    async def delete(self, user_id: int, environment: str, conv_id: str) -> bool:
        """The conversation and its items (and their search entries)."""
        if not plausible_id(conv_id):
            return False
        sql = "DELETE FROM conversations WHERE id = :id AND user_id = :user_id AND environment = :environment " \
            "RETURNING id"
        return await self.sql.fetchrow_once(sql, tenant_of(user_id, environment, conv_id)) is not None

    async def set_summary(self, user_id: int, environment: str, conv_id: str, summary: str | None,
                          upto: int) -> bool:
        """Keep the summary of items up to position `upto`. A summary covering less than the one
        stored is not kept (two requests summarising at once): False, as for an unknown id."""
        text = summary if summary is None else _summary_text(summary)
        if isinstance(upto, bool) or not isinstance(upto, int) or not -1 <= upto < 2**62:
            raise InvalidConversation("'upto' must be an item position (or -1: none).", param="upto")
        if not plausible_id(conv_id):
            return False
        sql = "UPDATE conversations SET summary = :summary, summary_upto = :upto WHERE id = :id " \
            "AND user_id = :user_id AND environment = :environment " \
            "AND (summary_upto IS NULL OR summary_upto <= :upto) RETURNING id"
        params = {**tenant_of(user_id, environment, conv_id), "summary": text, "upto": int(upto)}
        return await self.sql.fetchrow_once(sql, params) is not None

    # -- items -------------------------------------------------------------------------------------

    async def items(self, user_id: int, environment: str, conv_id: str, *, limit: int = 20,
                    after: str | None = None, order: str = "asc",
                    ) -> tuple[builtins.list[StoredItem], bool] | None:
        """A page of items by position and whether more follow; `after` is an item id of the
        previous page (an unknown one is refused, naming `after`). None: no such conversation."""
        check_page(limit, order)
        if not plausible_id(conv_id):
            return None
        if after is not None and not plausible_id(after):
            raise InvalidConversation(f"No item with id '{str(after)[:128]}' in this conversation.", param="after")
        sql = self.q.items_page(after is not None, order)
        params = {**tenant_of(user_id, environment, conv_id), "after": after, "limit": limit + 1}
        async with self.sql.transaction() as tx:
            rows = await tx.fetchall(sql, params)
        if not rows:
            return None
        if after is not None and rows[0][0] is None:
            raise InvalidConversation(f"No item with id '{after}' in this conversation.", param="after")
        stored = [item_from_row(row[1:]) for row in rows if row[1] is not None]
        return stored[:limit], len(stored) > limit

    async def all_items(self, user_id: int, environment: str,
                        conv_id: str) -> tuple[Conversation, builtins.list[StoredItem]] | None:
        """The conversation and every item, oldest first, in one statement: what history injection
        reads on every request naming a session, and what export writes out."""
        found = await self.items_with_size(user_id, environment, conv_id)
        return None if found is None else found[:2]

    async def items_with_size(self, user_id: int, environment: str,
                              conv_id: str) -> tuple[Conversation, builtins.list[StoredItem], int] | None:
        """`all_items`, with the size of the items' JSON text (what a copy of them weighs)."""
        if not plausible_id(conv_id):
            return None
        row = await self.sql.fetchrow_once(self.q.all_items, tenant_of(user_id, environment, conv_id))
        if row is None:
            return None
        return conversation_from_row(row), items_from_json(row[-1]), len(row[-1] or "")

    async def get_item(self, user_id: int, environment: str, conv_id: str, item_id: str) -> StoredItem | None:
        if not (plausible_id(conv_id) and plausible_id(item_id)):
            return None
        sql = f"SELECT {ITEM_COLUMNS} FROM conversation_items i JOIN conversations c ON c.id = i.conversation_id " \
            "WHERE c.id = :id AND c.user_id = :user_id AND c.environment = :environment AND i.item_id = :item_id"
        row = await self.sql.fetchrow_once(sql, {**tenant_of(user_id, environment, conv_id), "item_id": item_id})
        return item_from_row(row) if row else None

    async def delete_item(self, user_id: int, environment: str, conv_id: str, item_id: str) -> bool:
        if not (plausible_id(conv_id) and plausible_id(item_id)):
            return False
        params = {**tenant_of(user_id, environment, conv_id), "item_id": item_id}
        async with self.sql.transaction() as tx:
            gone = await tx.execute(
                "DELETE FROM conversation_items WHERE conversation_id = :id AND item_id = :item_id AND EXISTS ("
                "SELECT 1 FROM conversations WHERE id = :id AND user_id = :user_id AND environment = :environment)",
                params)
            if gone:
                await tx.execute("UPDATE conversations SET item_count = item_count - :gone WHERE id = :id",
                                 {"id": conv_id, "gone": gone})
        return gone > 0

    async def append(self, user_id: int, environment: str, conv_id: str, items: Iterable[dict[str, Any]], *,
                     model: str | None = None, provider: str | None = None, request_id: str | None = None,
                     usage: dict[str, Any] | None = None, tokens: int = 0) -> builtins.list[StoredItem] | None:
        """Append items at the end, in one transaction; bumps updated_at, item_count, token_total
        and (when given) model. None: no such conversation. Raises ConversationFull, ItemTooLarge
        or InvalidConversation. A `request_id` already appended here returns what it stored."""
        prepared = prepare_items(items, self.max_item_bytes)
        turn = self._turn(model, provider, request_id, usage, tokens)
        return await self._append(user_id, environment, conv_id, prepared, turn, datetime.now(UTC))

    # -- inside -------------------------------------------------------------------------------------

    @staticmethod
    def _turn(model: Any, provider: Any, request_id: Any, usage: Any, tokens: Any) -> Turn:
        return Turn(check_model(model), check_provider(provider), check_request_id(request_id), check_usage(usage),
                    check_count(tokens, "tokens"))

    async def _append(self, user_id: int, environment: str, conv_id: str, prepared: builtins.list[PreparedItem],
                      turn: Turn, created: datetime) -> builtins.list[StoredItem] | None:
        if not plausible_id(conv_id):
            return None
        if len(prepared) > self.max_items:
            raise ConversationFull(self.max_items)
        tenant = tenant_of(user_id, environment, conv_id)
        try:
            async with self.sql.transaction() as tx:
                base = await tx.fetchrow(self.q.bump, {
                    **tenant, "n": len(prepared), "tokens": turn.tokens, "model": turn.model,
                    "now": tx.ts(datetime.now(UTC)), "max_items": self.max_items})
                if turn.request_id is not None:
                    earlier = await tx.fetchall(self.q.by_request, {**tenant, "request_id": turn.request_id})
                    if earlier:
                        raise _Replayed([item_from_row(row) for row in earlier])
                if base is None:
                    exists = await tx.fetchrow(self.q.exists, tenant)
                    if exists is None:
                        return None
                    raise ConversationFull(self.max_items)
                if not prepared:
                    return []
                await self._check_ids(tx, conv_id, prepared)
                return await self._insert(tx, tenant, int(base[0]), prepared, turn, created)
        except _Replayed as replay:
            return replay.items

    async def _check_ids(self, tx: Tx, conv_id: str, prepared: builtins.list[PreparedItem]) -> None:
        """Ids the caller chose must be new in this conversation (the generated ones are random)."""
        given = [p.item_id for p in prepared if p.given_id]
        if not given:
            return
        rows = await tx.fetchall(self.q.taken_ids, {"id": conv_id, "ids": self.q.id_list(given)})
        if rows:
            taken = {row[0] for row in rows}
            index = next(n for n, p in enumerate(prepared) if p.item_id in taken)
            raise InvalidConversation(f"An item with id '{prepared[index].item_id}' is already in this conversation.",
                                      param=f"items[{index}].id")

    async def _insert(self, tx: Tx, owner: dict[str, Any], base: int, prepared: builtins.list[PreparedItem],
                      turn: Turn, created: datetime) -> builtins.list[StoredItem]:
        """`owner` is the conversation's `_tenant` (its id, user and environment)."""
        ids = await self.q.insert_items(tx, owner, base, prepared, turn, tx.ts(created))
        usage = orjson.loads(turn.usage) if turn.usage is not None else None
        at = int(created.timestamp())
        return [StoredItem(row_id, base + n, p.item, turn.model, turn.provider, turn.request_id, usage, at)
                for n, (p, row_id) in enumerate(zip(prepared, ids, strict=True))]


def _summary_text(summary: Any) -> str:
    if not isinstance(summary, str):
        raise InvalidConversation("'summary' must be a string.", param="summary")
    return summary.replace("\x00", " ").encode("utf-8", "replace").decode("utf-8")
