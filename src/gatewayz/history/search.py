"""Full-text search over conversation titles and item text: the query a user typed, made safe, and
the SQL each backend runs (SQLite FTS5 tables kept by triggers; PostgreSQL GIN indexes over
`to_tsvector('simple', ...)`; see history/tables.py).

A query is words, all of which must appear (in any order). It is never handed to a query parser
as syntax: on SQLite every whitespace-separated chunk becomes one quoted FTS5 phrase (a quote
inside is doubled), so `NEAR`, `OR`, `*`, `:` or `^` are words or nothing; on PostgreSQL the chunks
go to `plainto_tsquery`, which reads no operators at all. Chunks without a letter or digit are
dropped; a query left with none matches nothing. The `simple` configuration and FTS5's unicode61
tokenizer both lowercase and neither stems, so both backends find the same words.

A hit is one per conversation, newest-updated first: its newest matching item, or, when no item
matches, its title (`item_id` None). Snippets mark the match with `**` (the apps render Markdown).
"""

from __future__ import annotations

MAX_CHUNKS = 32
MAX_CHUNK_CHARS = 200
SNIPPET_START = SNIPPET_END = "**"
SNIPPET_WORDS = 24
_PG_HEADLINE = f"StartSel={SNIPPET_START}, StopSel={SNIPPET_END}, MaxWords={SNIPPET_WORDS}, MinWords=8, " \
    "MaxFragments=1, FragmentDelimiter=\" … \""


def chunks(q: str | None) -> list[str]:
    """The words of a query, bounded, with what no backend could bind (NUL, lone surrogates) gone."""
    if not q:
        return []
    clean = q[: MAX_CHUNKS * MAX_CHUNK_CHARS].replace("\x00", " ").encode("utf-8", "ignore").decode("utf-8")
    words = [w[:MAX_CHUNK_CHARS] for w in clean.split() if any(ch.isalnum() for ch in w)]
    return words[:MAX_CHUNKS]


def match_text(dialect: str, words: list[str]) -> str:
    """The `:q` parameter: an FTS5 expression of quoted phrases, or plain words for plainto_tsquery."""
    if dialect == "sqlite":
        return " ".join('"' + w.replace('"', '""') + '"' for w in words)
    return " ".join(words)


def matching_conversations(dialect: str) -> str:
    """A condition on `c` (a conversations row): its title or one of its items matches `:q`."""
    if dialect == "sqlite":
        return """c.id IN (
            SELECT i.conversation_id FROM history_fts_items f JOIN conversation_items i ON i.id = f.rowid
            WHERE history_fts_items MATCH :q
            UNION
            SELECT t.id FROM history_fts_titles f JOIN conversations t ON t.search_rowid = f.rowid
            WHERE history_fts_titles MATCH :q)"""
    return """(c.id IN (
            SELECT i.conversation_id FROM conversation_items i
            WHERE to_tsvector('simple'::regconfig, i.text) @@ plainto_tsquery('simple'::regconfig, :q))
        OR to_tsvector('simple'::regconfig, c.title) @@ plainto_tsquery('simple'::regconfig, :q))"""


def search_sql(dialect: str, columns: str) -> str:
    """Hits for `:q` among the conversations of (`:user_id`, `:environment`), `:limit` of them:
    the conversation's `columns` (of `c`), then the hit item's id (or NULL), then the snippet.
    Snippets are made for the page's rows only (the limit is applied before)."""
    if dialect == "sqlite":
        return f"""
WITH matched AS (
    SELECT i.conversation_id AS cid, max(i.position) AS position
    FROM history_fts_items f JOIN conversation_items i ON i.id = f.rowid
    JOIN conversations c ON c.id = i.conversation_id
    WHERE history_fts_items MATCH :q AND c.user_id = :user_id AND c.environment = :environment
    GROUP BY i.conversation_id
), titled AS (
    SELECT c.id AS cid FROM history_fts_titles f JOIN conversations c ON c.search_rowid = f.rowid
    WHERE history_fts_titles MATCH :q AND c.user_id = :user_id AND c.environment = :environment
), page AS (
    SELECT {columns}, c.search_rowid AS search_rowid, i.id AS item_row, i.item_id AS item_id
    FROM conversations c
    LEFT JOIN matched m ON m.cid = c.id
    LEFT JOIN conversation_items i ON i.conversation_id = m.cid AND i.position = m.position
    WHERE c.id IN (SELECT cid FROM matched UNION SELECT cid FROM titled)
        AND c.user_id = :user_id AND c.environment = :environment
    ORDER BY c.updated_at DESC, c.id DESC
    LIMIT :limit
)
SELECT page.*, CASE WHEN page.item_row IS NOT NULL THEN
        (SELECT snippet(history_fts_items, 0, :start, :end, '…', :words) FROM history_fts_items
         WHERE history_fts_items MATCH :q AND rowid = page.item_row)
    ELSE
        (SELECT snippet(history_fts_titles, 0, :start, :end, '…', :words) FROM history_fts_titles
         WHERE history_fts_titles MATCH :q AND rowid = page.search_rowid)
    END
FROM page ORDER BY page.updated_at DESC, page.id DESC
"""
    return f"""
WITH query AS (SELECT plainto_tsquery('simple'::regconfig, :q) AS tsq),
matched AS (
    SELECT DISTINCT ON (i.conversation_id) i.conversation_id AS cid, i.id AS item_row
    FROM conversation_items i JOIN conversations c ON c.id = i.conversation_id, query
    WHERE to_tsvector('simple'::regconfig, i.text) @@ query.tsq
        AND c.user_id = :user_id AND c.environment = :environment
    ORDER BY i.conversation_id, i.position DESC
), titled AS (
    SELECT c.id AS cid FROM conversations c, query
    WHERE to_tsvector('simple'::regconfig, c.title) @@ query.tsq
        AND c.user_id = :user_id AND c.environment = :environment
), page AS (
    SELECT {columns}, m.item_row
    FROM conversations c LEFT JOIN matched m ON m.cid = c.id
    WHERE c.id IN (SELECT cid FROM matched UNION SELECT cid FROM titled)
        AND c.user_id = :user_id AND c.environment = :environment
    ORDER BY c.updated_at DESC, c.id DESC
    LIMIT :limit
)
SELECT page.*, i.item_id,
    ts_headline('simple'::regconfig, coalesce(i.text, page.title), query.tsq, :options)
FROM page LEFT JOIN conversation_items i ON i.id = page.item_row, query
ORDER BY page.updated_at DESC, page.id DESC
"""


def search_params(dialect: str) -> dict[str, object]:
    """The snippet parameters `search_sql` names, besides `:q`, the tenant and `:limit`."""
    if dialect == "sqlite":
        return {"start": SNIPPET_START, "end": SNIPPET_END, "words": SNIPPET_WORDS}
    return {"options": _PG_HEADLINE}
