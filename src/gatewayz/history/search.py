"""Full-text search over conversation titles and item text: the query a user typed, made safe, and
the SQL each backend runs (SQLite FTS5 tables kept by triggers; PostgreSQL GIN indexes over
`to_tsvector('simple', ...)`; see history/tables.py).

A query is words, all of which must appear (in any order). It is never handed to a query parser
as syntax: on SQLite every whitespace-separated chunk becomes one quoted FTS5 phrase (a quote
inside is doubled), so `NEAR`, `OR`, `*`, `:` or `^` are words or nothing; on PostgreSQL the chunks
go to `plainto_tsquery`, which reads no operators at all. Chunks without a letter or digit are
dropped; a query left with none matches nothing. The `simple` configuration and FTS5's unicode61
tokenizer both lowercase and neither stems, so both backends find the same words. Both look up
the words AND the owner in the index (history/tables.py): a search costs what the user's own
history holds, not what everyone's does.

A hit is one per conversation, newest-updated first: its newest matching item, or, when no item
matches, its title (`item_id` None). Snippets mark the match with `**` (the apps render Markdown).
"""

from __future__ import annotations

from gatewayz.history.tables import PG_ITEM_VECTOR, PG_TITLE_VECTOR

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


def match_params(dialect: str, user_id: int, words: list[str]) -> dict[str, object]:
    """The parameters the statements below name for `words` of `user_id`'s (besides the tenant):
    SQLite gets an FTS5 expression per table (the owner's column AND quoted phrases in the text
    column), PostgreSQL the plain words and the owner's lexeme as tsquery text."""
    if dialect == "sqlite":
        phrases = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        owner = f'user_id : "{int(user_id)}"'
        return {"q_items": f"{owner} AND text : ({phrases})", "q_titles": f"{owner} AND title : ({phrases})"}
    return {"q": " ".join(words), "owner": f"'user {int(user_id)}'"}


_PG_QUERY = "(plainto_tsquery('simple'::regconfig, :q) && CAST(:owner AS tsquery))"
_PG_ITEMS = f"{PG_ITEM_VECTOR.format(t='i.')} @@ {_PG_QUERY}"
_PG_TITLES = f"{PG_TITLE_VECTOR.format(t='c.')} @@ {_PG_QUERY}"
# The conversations that match, each with its newest matching item's row (NULL: only the title).
_SQLITE_HITS = """
matched AS (
    SELECT i.conversation_id AS cid, max(i.position) AS position
    FROM history_fts_items f CROSS JOIN conversation_items i ON i.id = f.rowid
    WHERE history_fts_items MATCH :q_items AND i.environment = :environment
    GROUP BY i.conversation_id
), titled AS (
    SELECT c.id AS cid FROM history_fts_titles f CROSS JOIN conversations c ON c.search_rowid = f.rowid
    WHERE history_fts_titles MATCH :q_titles AND c.user_id = :user_id AND c.environment = :environment
), hits AS (SELECT cid FROM matched UNION SELECT cid FROM titled)"""
_PG_HITS = f"""
matched AS (
    SELECT DISTINCT ON (i.conversation_id) i.conversation_id AS cid, i.id AS item_row
    FROM conversation_items i
    WHERE {_PG_ITEMS} AND i.user_id = :user_id AND i.environment = :environment
    ORDER BY i.conversation_id, i.position DESC
), titled AS (
    SELECT c.id AS cid FROM conversations c
    WHERE {_PG_TITLES} AND c.user_id = :user_id AND c.environment = :environment
), hits AS (SELECT cid FROM matched UNION SELECT cid FROM titled)"""


def matching_conversations(dialect: str) -> tuple[str, str]:
    """A WITH clause and a condition on `c` (a conversations row of the tenant): its title or one
    of its items matches."""
    return ("WITH " + (_SQLITE_HITS if dialect == "sqlite" else _PG_HITS), "c.id IN (SELECT cid FROM hits)")


def search_sql(dialect: str, columns: str) -> str:
    """Hits among the conversations of (`:user_id`, `:environment`), `:limit` of them: the
    conversation's `columns` (of `c`), then the hit item's id (or NULL), then the snippet. Snippets
    are made for the page's rows only (the limit is applied first)."""
    if dialect == "sqlite":
        return f"""
WITH {_SQLITE_HITS}, page AS (
    SELECT {columns}, c.search_rowid AS search_rowid, i.id AS item_row, i.item_id AS item_id
    FROM hits h CROSS JOIN conversations c ON c.id = h.cid
    LEFT JOIN matched m ON m.cid = c.id
    LEFT JOIN conversation_items i ON i.conversation_id = m.cid AND i.position = m.position
    WHERE c.user_id = :user_id AND c.environment = :environment
    ORDER BY c.updated_at DESC, c.id DESC
    LIMIT :limit
)
SELECT page.*, CASE WHEN page.item_row IS NOT NULL THEN
        (SELECT snippet(history_fts_items, 0, :start, :end, '…', :words) FROM history_fts_items
         WHERE history_fts_items MATCH :q_items AND rowid = page.item_row)
    ELSE
        (SELECT snippet(history_fts_titles, 0, :start, :end, '…', :words) FROM history_fts_titles
         WHERE history_fts_titles MATCH :q_titles AND rowid = page.search_rowid)
    END
FROM page ORDER BY page.updated_at DESC, page.id DESC
"""
    return f"""
WITH {_PG_HITS}, page AS (
    SELECT {columns}, m.item_row
    FROM hits h JOIN conversations c ON c.id = h.cid LEFT JOIN matched m ON m.cid = c.id
    WHERE c.user_id = :user_id AND c.environment = :environment
    ORDER BY c.updated_at DESC, c.id DESC
    LIMIT :limit
)
SELECT page.*, i.item_id,
    ts_headline('simple'::regconfig, coalesce(i.text, page.title), plainto_tsquery('simple'::regconfig, :q),
                :options)
FROM page LEFT JOIN conversation_items i ON i.id = page.item_row
ORDER BY page.updated_at DESC, page.id DESC
"""


def search_params(dialect: str) -> dict[str, object]:
    """The snippet parameters `search_sql` names, besides the words, the tenant and `:limit`."""
    if dialect == "sqlite":
        return {"start": SNIPPET_START, "end": SNIPPET_END, "words": SNIPPET_WORDS}
    return {"options": _PG_HEADLINE}
