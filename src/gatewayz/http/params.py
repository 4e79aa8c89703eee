"""Bounds of the numbers in paths and query strings: every id fits the databases' 64-bit integers,
so an absurd one is a 400 naming the parameter (or, for ids, simply not found), never an overflow."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_ID = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]
