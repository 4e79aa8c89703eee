"""The conversation store's records and SQL: the dataclasses the faces get, how rows become them,
and the statements that differ between SQLite and PostgreSQL (written once each, with `:name`
parameters; history/conversations.py runs them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from gatewayz.history.conversation_items import PreparedItem
from gatewayz.storage.fastsql import Tx

FIELDS = ("id", "user_id", "api_key_id", "environment", "title", "model", "metadata", "settings", "summary",
          "summary_upto", "created_at", "updated_at", "item_count", "token_total", "next_position")
CONVERSATION_FIELDS = ", ".join(FIELDS)  # for RETURNING
CONVERSATION_COLUMNS = ", ".join(f"c.{name}" for name in FIELDS)
ITEM_COLUMNS = "i.id, i.position, i.item, i.model, i.provider, i.request_id, i.usage, i.created_at"
_TENANT = "c.id = :id AND c.user_id = :user_id AND c.environment = :environment"


@dataclass
class Conversation:
    """A conversation as the faces show it. Timestamps are unix seconds."""

    id: str
    user_id: int
    api_key_id: int | None
    environment: str
    title: str | None
    model: str | None
    metadata: dict[str, str]
    settings: dict[str, Any]
    summary: str | None
    summary_upto: int | None
    created_at: int
    updated_at: int
    item_count: int
    token_total: int
    next_position: int = 0  # with item_count, what the items are: an append bumps both, a delete the count

    @property
    def items_version(self) -> tuple[int, int]:
        """Changes whenever the items do (appends only add at the end, deletes only remove), so a
        copy of the items taken at one version is the items while the version reads the same."""
        return self.next_position, self.item_count


@dataclass(slots=True)
class StoredItem:
    """An item and the turn that produced it. `item` is the item as the API returns it."""

    row_id: int
    position: int
    item: dict[str, Any]
    model: str | None
    provider: str | None
    request_id: str | None
    usage: dict[str, Any] | None
    created_at: int

    @property
    def id(self) -> str:
        return self.item["id"]


@dataclass
class SearchHit:
    """A conversation that matches, the item that does (None: the title), and a snippet with the
    matched words between `**`."""

    conversation: Conversation
    item_id: str | None
    snippet: str


@dataclass(frozen=True)
class Turn:
    """What an append records about the turn that produced its items (checked values)."""

    model: str | None = None
    provider: str | None = None
    request_id: str | None = None
    usage: str | None = None  # JSON text
    tokens: int = 0


def conversation_from_row(row: tuple[Any, ...]) -> Conversation:
    (cid, uid, key_id, env, title, model, meta, settings, summary, upto, created, updated, count,
     tokens, next_position) = row[:15]
    return Conversation(
        id=cid, user_id=int(uid), api_key_id=None if key_id is None else int(key_id), environment=env,
        title=title, model=model, metadata=orjson.loads(meta), settings=orjson.loads(settings), summary=summary,
        summary_upto=None if upto is None else int(upto), created_at=unix(created), updated_at=unix(updated),
        item_count=int(count), token_total=int(tokens), next_position=int(next_position))


def item_from_row(row: tuple[Any, ...]) -> StoredItem:
    row_id, position, item, model, provider, request_id, usage, created = row[:8]
    return StoredItem(int(row_id), int(position), orjson.loads(item), model, provider, request_id,
                      None if usage is None else orjson.loads(usage), unix(created))


def items_from_json(text: str | None) -> list[StoredItem]:
    """`all_items`' aggregate: one JSON array of `[[row id, position, model, provider, request id,
    created], item, usage]`, parsed at once (the items' own JSON text is spliced in, not re-parsed
    by the database). SQLite does not promise its aggregate's order: sorted here (already sorted, as
    a rule: a linear pass)."""
    if text is None:
        return []
    items = [StoredItem(meta[0], meta[1], item, meta[2], meta[3], meta[4], usage, meta[5])
             for meta, item, usage in orjson.loads(text)]
    items.sort(key=lambda i: i.position)
    return items


def unix(value: Any) -> int:
    if isinstance(value, str):  # SQLite
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def to_datetime(value: Any) -> datetime:
    """An aware datetime (or unix seconds) as UTC; a naive datetime is refused (which zone?)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a time")
    return datetime.fromtimestamp(value, UTC)


def timestamp(dialect: str, moment: datetime | None = None) -> Any:
    """A UTC time as each driver binds it (as FastSQL's `Tx.ts`, for statements outside one):
    SQLite the text SQLAlchemy stores (so comparisons and the ORM agree), PostgreSQL the datetime."""
    moment = moment or datetime.now(UTC)
    if dialect == "sqlite":
        return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


class Statements:
    """The statements both backends run alike; subclasses hold the ones that differ.

    `all_items` is one row for the whole conversation (a single round trip through
    `fetchrow_once`): the conversation's columns, then its items as one JSON array text."""

    get = f"SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE {_TENANT}"
    exists = "SELECT 1 FROM conversations WHERE id = :id AND user_id = :user_id AND environment = :environment"
    # Locks the row (PostgreSQL) and reserves positions in one statement: a waiting append re-reads
    # the row after the lock is released, so it gets the positions after the other one's.
    bump = """
UPDATE conversations SET item_count = item_count + :n, next_position = next_position + :n,
    token_total = token_total + :tokens, updated_at = :now, model = coalesce(:model, model)
WHERE id = :id AND user_id = :user_id AND environment = :environment AND item_count + :n <= :max_items
RETURNING next_position - :n
"""
    by_request = f"""
SELECT {ITEM_COLUMNS} FROM conversation_items i JOIN conversations c ON c.id = i.conversation_id
WHERE {_TENANT} AND i.request_id = :request_id ORDER BY i.position
"""
    insert_conversation = ""
    all_items = ""
    taken_ids = ""
    purge = ""

    def id_list(self, ids: list[str]) -> Any:
        raise NotImplementedError

    async def insert_items(self, tx: Tx, owner: dict[str, Any], base: int, prepared: list[PreparedItem],
                           turn: Turn, created: Any) -> list[int]:
        raise NotImplementedError

    @staticmethod
    def items_page(after: bool, order: str) -> str:
        """Items of one conversation after the `:after` item's position (if any): the first column
        is that position (NULL: no such item), a conversation without items gives one row of NULLs,
        an unknown conversation no row."""
        cmp, direction = (">", "ASC") if order == "asc" else ("<", "DESC")
        cursor = "(SELECT position FROM conversation_items WHERE conversation_id = c.id AND item_id = :after)"
        return f"""
SELECT {cursor if after else "0"}, {ITEM_COLUMNS}
FROM conversations c LEFT JOIN conversation_items i
    ON i.conversation_id = c.id {f"AND i.position {cmp} {cursor}" if after else ""}
WHERE {_TENANT} ORDER BY i.position {direction} LIMIT :limit
"""


_INSERT_CONVERSATION = """
INSERT INTO conversations (id, user_id, api_key_id, environment, title, model, metadata, settings, summary,
    summary_upto, created_at, updated_at, item_count, token_total, next_position, search_rowid)
VALUES (:id, :user_id, :api_key_id, :environment, :title, :model, :metadata, :settings, NULL, NULL, :now, :now,
    :count, 0, :count, {search_rowid})
"""


class SqliteStatements(Statements):
    # FTS5 needs a stable integer per conversation for its title index (tables.py)
    insert_conversation = _INSERT_CONVERSATION.format(
        search_rowid="(SELECT coalesce(max(search_rowid), 0) + 1 FROM conversations)")
    all_items = f"""
SELECT {CONVERSATION_COLUMNS}, (
    SELECT '[' || group_concat('[' || json_array(i.id, i.position, i.model, i.provider, i.request_id,
        CAST(strftime('%s', i.created_at) AS INTEGER)) || ',' || i.item || ',' || coalesce(i.usage, 'null') || ']',
        ',') || ']'
    FROM (SELECT * FROM conversation_items WHERE conversation_id = c.id ORDER BY position) i)
FROM conversations c WHERE {_TENANT}
"""
    taken_ids = "SELECT item_id FROM conversation_items WHERE conversation_id = :id " \
        "AND item_id IN (SELECT value FROM json_each(:ids))"
    purge = "DELETE FROM conversations WHERE id IN (SELECT value FROM json_each(:ids)) AND updated_at < :cutoff"
    _insert_item = """
INSERT INTO conversation_items (conversation_id, user_id, environment, position, item_id, type, role, item, text,
    model, provider, request_id, usage, created_at)
VALUES (:id, :user_id, :environment, :position, :item_id, :type, :role, :item, :text, :model, :provider,
    :request_id, :usage, :created_at)
RETURNING id
"""

    def id_list(self, ids: list[str]) -> Any:
        return orjson.dumps(ids).decode()

    async def insert_items(self, tx: Tx, owner: dict[str, Any], base: int, prepared: list[PreparedItem],
                           turn: Turn, created: Any) -> list[int]:
        ids = []
        common = {**owner, "model": turn.model, "provider": turn.provider,
                  "request_id": turn.request_id, "usage": turn.usage, "created_at": created}
        for n, p in enumerate(prepared):  # local statements of microseconds each
            row = await tx.fetchrow(self._insert_item, {**common, "position": base + n, "item_id": p.item_id,
                                                        "type": p.type, "role": p.role, "item": p.json,
                                                        "text": p.text})
            assert row is not None
            ids.append(int(row[0]))
        return ids


class PostgresStatements(Statements):
    insert_conversation = _INSERT_CONVERSATION.format(search_rowid="NULL")
    all_items = f"""
SELECT {CONVERSATION_COLUMNS}, (
    SELECT '[' || string_agg('[' || json_build_array(i.id, i.position, i.model, i.provider, i.request_id,
        floor(extract(epoch FROM i.created_at))::bigint)::text || ',' || i.item || ',' || coalesce(i.usage, 'null')
        || ']', ',' ORDER BY i.position) || ']'
    FROM conversation_items i WHERE i.conversation_id = c.id)
FROM conversations c WHERE {_TENANT}
"""
    taken_ids = "SELECT item_id FROM conversation_items WHERE conversation_id = :id AND item_id = ANY(:ids::text[])"
    purge = "DELETE FROM conversations WHERE id = ANY(:ids::text[]) AND updated_at < :cutoff"
    _insert_items = """
INSERT INTO conversation_items (conversation_id, user_id, environment, position, item_id, type, role, item, text,
    model, provider, request_id, usage, created_at)
SELECT :id::text, :user_id::bigint, :environment::text, :base::bigint + u.ord - 1, u.item_id, u.type, u.role,
    u.item, u.text, :model::text, :provider::text, :request_id::text, :usage::text, :created_at::timestamptz
FROM unnest(:item_ids::text[], :types::text[], :roles::text[], :items::text[], :texts::text[])
    WITH ORDINALITY AS u (item_id, type, role, item, text, ord)
RETURNING id, position
"""

    def id_list(self, ids: list[str]) -> Any:
        return ids

    async def insert_items(self, tx: Tx, owner: dict[str, Any], base: int, prepared: list[PreparedItem],
                           turn: Turn, created: Any) -> list[int]:
        rows = await tx.fetchall(self._insert_items, {
            **owner, "base": base, "model": turn.model, "provider": turn.provider,
            "request_id": turn.request_id, "usage": turn.usage, "created_at": created,
            "item_ids": [p.item_id for p in prepared], "types": [p.type for p in prepared],
            "roles": [p.role for p in prepared], "items": [p.json for p in prepared],
            "texts": [p.text for p in prepared]})
        return [int(row_id) for row_id, _ in sorted(rows, key=lambda r: r[1])]


SQL: dict[str, Statements] = {"sqlite": SqliteStatements(), "postgresql": PostgresStatements()}
