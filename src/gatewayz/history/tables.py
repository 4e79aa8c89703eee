"""Tables of the history domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DDL, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from gatewayz.storage.types import Base, BigIntPK, UTCDateTime

ID_LENGTH = 128  # gateway-made ids (`resp_...`); generous, like usage_records.request_id
MODEL_LENGTH = 256  # as usage_records.model
STATUS_LENGTH = 32
ENVIRONMENT_LENGTH = 16  # as api_keys.environment


class StoredResponse(Base):
    """A Responses API response kept because the request had `store: true` (the default).

    `response` and `input_items` are JSON text, not JSON/JSONB columns: the object is given back
    exactly as it was returned (JSONB would reorder keys), and neither database parses it.
    `revision` orders versions of the same response (a stream stores a partial, then the final
    one): a write never replaces a newer revision, so a late replay from the spool is harmless.
    `api_key_id` is a plain reference, like usage_records.key_id (keys are revoked, not deleted).
    """

    __tablename__ = "stored_responses"
    __table_args__ = (
        Index("ix_stored_responses_user_created", "user_id", "created_at"),
        Index("ix_stored_responses_previous", "previous_response_id"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    api_key_id: Mapped[int | None] = mapped_column(BigInteger)
    environment: Mapped[str] = mapped_column(String(ENVIRONMENT_LENGTH), nullable=False)
    model: Mapped[str] = mapped_column(String(MODEL_LENGTH), nullable=False)
    status: Mapped[str] = mapped_column(String(STATUS_LENGTH), nullable=False)
    previous_response_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revision: Mapped[int] = mapped_column(BigInteger, nullable=False)
    response: Mapped[str] = mapped_column(Text, nullable=False)
    input_items: Mapped[str] = mapped_column(Text, nullable=False)


# -- conversations (chat sessions) ---------------------------------------------------------------

TITLE_LENGTH = 512
ITEM_TYPE_LENGTH = 64
ROLE_LENGTH = 32
PROVIDER_LENGTH = 128

# Full-text search (history/search.py). Every index entry carries the owner, so a search reads the
# entries of one user only, however large the other users' histories are: `user_id` is also on
# conversation_items (a conversation never changes hands) for that.
# SQLite: two FTS5 tables over (text, user_id) reading from the tables below (external content),
# kept in step by triggers, so every way a row goes (a delete, the cascade from a deleted
# conversation or user, the retention job) takes its index entries with it in the same transaction.
# The title index needs a stable integer per conversation: a table's implicit rowid may change on
# VACUUM, hence `conversations.search_rowid` (PostgreSQL leaves it NULL).
FTS_PREFIX = "history_fts_"
SQLITE_SEARCH_DDL: dict[str, tuple[str, ...]] = {
    "conversations": (
        "CREATE VIRTUAL TABLE history_fts_titles USING fts5(title, user_id, content='conversations', "
        "content_rowid='search_rowid', tokenize='unicode61 remove_diacritics 2')",
        "CREATE TRIGGER history_fts_titles_ai AFTER INSERT ON conversations "
        "WHEN new.search_rowid IS NOT NULL BEGIN "
        "INSERT INTO history_fts_titles (rowid, title, user_id) VALUES (new.search_rowid, new.title, new.user_id); END",
        "CREATE TRIGGER history_fts_titles_ad AFTER DELETE ON conversations "
        "WHEN old.search_rowid IS NOT NULL BEGIN "
        "INSERT INTO history_fts_titles (history_fts_titles, rowid, title, user_id) "
        "VALUES ('delete', old.search_rowid, old.title, old.user_id); END",
        "CREATE TRIGGER history_fts_titles_au AFTER UPDATE OF title, user_id, search_rowid ON conversations BEGIN "
        "INSERT INTO history_fts_titles (history_fts_titles, rowid, title, user_id) "
        "SELECT 'delete', old.search_rowid, old.title, old.user_id WHERE old.search_rowid IS NOT NULL; "
        "INSERT INTO history_fts_titles (rowid, title, user_id) SELECT new.search_rowid, new.title, new.user_id "
        "WHERE new.search_rowid IS NOT NULL; END",
    ),
    "conversation_items": (
        "CREATE VIRTUAL TABLE history_fts_items USING fts5(text, user_id, content='conversation_items', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
        "CREATE TRIGGER history_fts_items_ai AFTER INSERT ON conversation_items BEGIN "
        "INSERT INTO history_fts_items (rowid, text, user_id) VALUES (new.id, new.text, new.user_id); END",
        "CREATE TRIGGER history_fts_items_ad AFTER DELETE ON conversation_items BEGIN "
        "INSERT INTO history_fts_items (history_fts_items, rowid, text, user_id) "
        "VALUES ('delete', old.id, old.text, old.user_id); END",
        "CREATE TRIGGER history_fts_items_au AFTER UPDATE OF text, user_id ON conversation_items BEGIN "
        "INSERT INTO history_fts_items (history_fts_items, rowid, text, user_id) "
        "VALUES ('delete', old.id, old.text, old.user_id); "
        "INSERT INTO history_fts_items (rowid, text, user_id) VALUES (new.id, new.text, new.user_id); END",
    ),
}
SQLITE_SEARCH_TABLES = {"conversations": "history_fts_titles", "conversation_items": "history_fts_items"}
# PostgreSQL: GIN indexes over the words plus one lexeme naming the owner ("user 42": no parsed word
# holds a space), so a query for (words AND owner) intersects posting lists inside the index. The
# queries repeat these expressions exactly (with the table's alias), or the index is not used.
# `fastupdate` is off: with it, fresh entries wait in a pending list that every search scans
# linearly until a vacuum (15 ms per search for 10,000 fresh items, measured), and history is
# written a few items at a time, where the slower insert does not matter.
PG_OWNER = "array_to_tsvector(ARRAY['user ' || CAST({t}user_id AS text)])"
PG_TITLE_VECTOR = "(to_tsvector('simple'::regconfig, {t}title) || " + PG_OWNER + ")"
PG_ITEM_VECTOR = "(to_tsvector('simple'::regconfig, {t}text) || " + PG_OWNER + ")"


def include_in_schema_comparison(name: str | None, type_: str, parent_names: Any) -> bool:
    """An alembic `include_name` filter: SQLite's FTS5 tables (and their shadow tables) are made by
    DDL the metadata cannot describe, so a schema comparison must not report them as extra."""
    return not (type_ == "table" and name is not None and name.startswith(FTS_PREFIX))


class StoredConversation(Base):
    """A conversation (= a chat session): OpenAI's Conversations API and the gateway's chat sessions.

    `metadata` and `settings` are JSON text (given back exactly as stored). `next_position` is the
    position the next appended item gets: bumping it in the same UPDATE that locks the row is what
    keeps concurrent appends from colliding on PostgreSQL (SQLite's writer lock does it there).
    `item_count` is the items present (deletes lower it), `token_total` the tokens of every turn.
    """

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_user_env_updated", "user_id", "environment", "updated_at", "id"),
        Index("ix_conversations_updated", "updated_at"),  # the retention job
        UniqueConstraint("search_rowid", name="uq_conversations_search_rowid"),
        Index("ix_conversations_title_search", sql_text(PG_TITLE_VECTOR.format(t="")), postgresql_using="gin",
              postgresql_with={"fastupdate": "off"}).ddl_if(
            dialect="postgresql"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    api_key_id: Mapped[int | None] = mapped_column(BigInteger)
    environment: Mapped[str] = mapped_column(String(ENVIRONMENT_LENGTH), nullable=False)
    title: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(MODEL_LENGTH))
    conversation_metadata: Mapped[str] = mapped_column("metadata", Text, nullable=False)
    settings: Mapped[str] = mapped_column(Text, nullable=False)
    summary: Mapped[str | None] = mapped_column(Text)
    summary_upto: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    item_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    token_total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    next_position: Mapped[int] = mapped_column(BigInteger, nullable=False)
    search_rowid: Mapped[int | None] = mapped_column(BigInteger)


class StoredConversationItem(Base):
    """One item of a conversation, in OpenAI's Responses/Conversations item shape (`item`, JSON
    text), with the turn that produced it (`model`, `provider`, `request_id`, `usage`).

    `text` is the item's plain text for search (message text, function names, arguments and
    outputs); `user_id` and `environment` repeat the conversation's, so that search reads one
    owner's entries. `request_id` is also what makes a replayed append (the spool) a no-op.
    """

    __tablename__ = "conversation_items"
    __table_args__ = (
        UniqueConstraint("conversation_id", "position", name="uq_conversation_items_position"),
        UniqueConstraint("conversation_id", "item_id", name="uq_conversation_items_item_id"),
        Index("ix_conversation_items_request", "conversation_id", "request_id"),
        Index("ix_conversation_items_search", sql_text(PG_ITEM_VECTOR.format(t="")), postgresql_using="gin",
              postgresql_with={"fastupdate": "off"}).ddl_if(
            dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)  # the conversation's (for search)
    environment: Mapped[str] = mapped_column(String(ENVIRONMENT_LENGTH), nullable=False)
    position: Mapped[int] = mapped_column(BigInteger, nullable=False)
    item_id: Mapped[str] = mapped_column(String(ID_LENGTH), nullable=False)
    type: Mapped[str] = mapped_column(String(ITEM_TYPE_LENGTH), nullable=False)
    role: Mapped[str | None] = mapped_column(String(ROLE_LENGTH))
    item: Mapped[str] = mapped_column(Text, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    model: Mapped[str | None] = mapped_column(String(MODEL_LENGTH))
    provider: Mapped[str | None] = mapped_column(String(PROVIDER_LENGTH))
    request_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    usage: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


def _sqlite_search_ddl(table_name: str) -> None:
    table = Base.metadata.tables[table_name]
    for statement in SQLITE_SEARCH_DDL[table_name]:
        event.listen(table, "after_create", DDL(statement).execute_if(dialect="sqlite"))
    drop = f"DROP TABLE IF EXISTS {SQLITE_SEARCH_TABLES[table_name]}"
    event.listen(table, "before_drop", DDL(drop).execute_if(dialect="sqlite"))


for _name in SQLITE_SEARCH_DDL:  # a fresh database is created from the metadata (storage/migrate.py)
    _sqlite_search_ddl(_name)
