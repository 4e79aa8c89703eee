"""FastSQL's SQLite timestamp text is exactly what SQLAlchemy stores for the same moment (rows
written by either path compare and sort as equals)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy.dialects import sqlite

from gatewayz.storage.fastsql import sqlite_ts


def test_the_text_is_sqlalchemys_for_every_moment() -> None:
    stored = sqlite.DATETIME().bind_processor(sqlite.dialect())
    assert stored is not None
    moments = [datetime(2026, 12, 2, 13, 0, 0, tzinfo=UTC), datetime(2026, 12, 2, 13, 0, 0, 5, tzinfo=UTC),
               datetime(1970, 1, 1, tzinfo=UTC), datetime(999, 3, 4, 5, 6, 7, 8, tzinfo=UTC),
               datetime(2026, 1, 1, 1, 0, 0, 999999, tzinfo=timezone(timedelta(hours=5)))]
    for moment in moments:
        assert sqlite_ts(moment) == stored(moment.astimezone(UTC).replace(tzinfo=None))
        assert sqlite_ts(moment) == sqlite_ts(moment)  # the second time from the last-moment memo
    assert sqlite_ts(None) is None
