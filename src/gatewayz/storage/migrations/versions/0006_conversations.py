"""History: conversations (= chat sessions) and their items, with full-text search: SQLite FTS5
tables kept by triggers, PostgreSQL GIN indexes over `to_tsvector('simple', ...)`; both index the
owner with the words (history/tables.py).

The DDL is written out here, not imported from history/tables.py: a migration is a snapshot of
the schema at its revision (the suite checks that replaying it gives what the tables describe).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-12
"""

import sqlalchemy as sa
from alembic import op

from gatewayz.storage.types import BigIntPK, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE history_fts_titles USING fts5(title, user_id, content='conversations', "
    "content_rowid='search_rowid', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER history_fts_titles_ai AFTER INSERT ON conversations WHEN new.search_rowid IS NOT "
    "NULL BEGIN INSERT INTO history_fts_titles (rowid, title, user_id) VALUES (new.search_rowid, "
    "new.title, new.user_id); END",
    "CREATE TRIGGER history_fts_titles_ad AFTER DELETE ON conversations WHEN old.search_rowid IS NOT "
    "NULL BEGIN INSERT INTO history_fts_titles (history_fts_titles, rowid, title, user_id) VALUES "
    "('delete', old.search_rowid, old.title, old.user_id); END",
    "CREATE TRIGGER history_fts_titles_au AFTER UPDATE OF title, user_id, search_rowid ON "
    "conversations BEGIN INSERT INTO history_fts_titles (history_fts_titles, rowid, title, user_id) "
    "SELECT 'delete', old.search_rowid, old.title, old.user_id WHERE old.search_rowid IS NOT NULL; "
    "INSERT INTO history_fts_titles (rowid, title, user_id) SELECT new.search_rowid, new.title, "
    "new.user_id WHERE new.search_rowid IS NOT NULL; END",
    "CREATE VIRTUAL TABLE history_fts_items USING fts5(text, user_id, content='conversation_items', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER history_fts_items_ai AFTER INSERT ON conversation_items BEGIN INSERT INTO "
    "history_fts_items (rowid, text, user_id) VALUES (new.id, new.text, new.user_id); END",
    "CREATE TRIGGER history_fts_items_ad AFTER DELETE ON conversation_items BEGIN INSERT INTO "
    "history_fts_items (history_fts_items, rowid, text, user_id) VALUES ('delete', old.id, old.text, "
    "old.user_id); END",
    "CREATE TRIGGER history_fts_items_au AFTER UPDATE OF text, user_id ON conversation_items BEGIN "
    "INSERT INTO history_fts_items (history_fts_items, rowid, text, user_id) VALUES ('delete', "
    "old.id, old.text, old.user_id); INSERT INTO history_fts_items (rowid, text, user_id) VALUES "
    "(new.id, new.text, new.user_id); END",
)


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("api_key_id", sa.BigInteger),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("model", sa.String(256)),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("summary", sa.Text),
        sa.Column("summary_upto", sa.BigInteger),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("item_count", sa.BigInteger, nullable=False),
        sa.Column("token_total", sa.BigInteger, nullable=False),
        sa.Column("next_position", sa.BigInteger, nullable=False),
        sa.Column("search_rowid", sa.BigInteger),
        sa.UniqueConstraint("search_rowid", name="uq_conversations_search_rowid"),
    )
    op.create_index("ix_conversations_user_env_updated", "conversations",
                    ["user_id", "environment", "updated_at", "id"])
    op.create_index("ix_conversations_updated", "conversations", ["updated_at"])
    op.create_table(
        "conversation_items",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(128), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("item_id", sa.String(128), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32)),
        sa.Column("item", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("model", sa.String(256)),
        sa.Column("provider", sa.String(128)),
        sa.Column("request_id", sa.String(128)),
        sa.Column("usage", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("conversation_id", "position", name="uq_conversation_items_position"),
        sa.UniqueConstraint("conversation_id", "item_id", name="uq_conversation_items_item_id"),
    )
    op.create_index("ix_conversation_items_request", "conversation_items", ["conversation_id", "request_id"])
    if op.get_bind().dialect.name == "postgresql":
        owner = "array_to_tsvector(ARRAY['user ' || CAST(user_id AS text)])"
        op.execute("CREATE INDEX ix_conversations_title_search ON conversations "
                   f"USING gin ((to_tsvector('simple'::regconfig, title) || {owner})) WITH (fastupdate = off)")
        op.execute("CREATE INDEX ix_conversation_items_search ON conversation_items "
                   f"USING gin ((to_tsvector('simple'::regconfig, text) || {owner})) WITH (fastupdate = off)")
    else:
        for statement in _SQLITE_SEARCH:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_conversation_items_search")
        op.execute("DROP INDEX ix_conversations_title_search")
    else:  # the triggers go with their tables
        op.execute("DROP TABLE history_fts_items")
        op.execute("DROP TABLE history_fts_titles")
    op.drop_index("ix_conversation_items_request", table_name="conversation_items")
    op.drop_table("conversation_items")
    op.drop_index("ix_conversations_updated", table_name="conversations")
    op.drop_index("ix_conversations_user_env_updated", table_name="conversations")
    op.drop_table("conversations")
