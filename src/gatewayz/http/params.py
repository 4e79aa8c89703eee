"""Bounds and forms of the values in paths, query strings and bodies.

- Every id fits the databases' 64-bit integers, so an absurd one is a 400 naming the parameter
  (or, for ids, simply not found), never an overflow.
- Integers are written as integers (`10`, not `10.0` or `true`), booleans in a query string are
  `true` or `false` (not `1`, `yes`, `on`), and a date-time is RFC 3339 (`2026-01-31T12:00:00Z`;
  without an offset it is UTC), not a Unix number: what the OpenAPI document says is what is accepted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BeforeValidator

MAX_ID = 2**63 - 1

_INTEGER = re.compile(r"[+-]?\d{1,20}")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[Zz]|[+-]\d{2}:\d{2})?")


def _integer(value: Any) -> Any:
    if isinstance(value, bool | float) or (isinstance(value, str) and not _INTEGER.fullmatch(value)):
        raise ValueError("must be an integer")
    return value


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("must be true or false")


def _rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time such as 2026-01-31T12:00:00Z")
    return value


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("date-time out of range") from exc


QueryInt = Annotated[int, BeforeValidator(_integer)]
QueryBool = Annotated[bool, BeforeValidator(_boolean)]
Timestamp = Annotated[datetime, BeforeValidator(_rfc3339), AfterValidator(_to_utc)]

RowId = Annotated[int, BeforeValidator(_integer), Path(ge=1, le=MAX_ID)]
Offset = Annotated[int, BeforeValidator(_integer), Query(ge=0, le=MAX_ID)]
