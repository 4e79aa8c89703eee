"""Rankings from this gateway's own usage records: models (or providers) by tokens, requests or
spend over the last day, week or month, each with the change against the period before it.

Counted: every usage record of the period (answered or not; a failure before any output costs
and counts no tokens). One grouped query per period over the `created_at` index; the answer is
kept a minute per (what, period, sort, limit), so a dashboard polling it costs nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.billing.money import usd
from gatewayz.billing.tables import UsageRecord
from gatewayz.storage.db import Database
from gatewayz.storage.types import utcnow

PERIODS = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}
SORTS = ("tokens", "requests", "spend")
CACHE_SECONDS = 60.0
_cache: dict[tuple[str, str, str, int], tuple[float, dict[str, Any]]] = {}


@dataclass(frozen=True, slots=True)
class Totals:
    requests: int
    prompt_tokens: int
    completion_tokens: int
    spend: int  # nano-dollars

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def value(self, sort: str) -> int:
        return {"tokens": self.tokens, "requests": self.requests, "spend": self.spend}[sort]


async def _totals(session: AsyncSession, column: Any, start: datetime, end: datetime) -> dict[str, Totals]:
    rows = (await session.execute(
        select(column, func.count(), func.coalesce(func.sum(UsageRecord.prompt_tokens), 0),
               func.coalesce(func.sum(UsageRecord.completion_tokens), 0), func.coalesce(func.sum(UsageRecord.cost), 0))
        .where(UsageRecord.created_at >= start, UsageRecord.created_at < end, column.is_not(None))
        .group_by(column)
    )).all()
    return {str(r[0]): Totals(int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows}


def _change(now: int, before: int) -> float | None:
    """Relative change against the previous period (0.25 = +25%); None when there was nothing before."""
    return None if before == 0 else round((now - before) / before, 4)


async def ranking(session: AsyncSession, what: str, period: str, sort: str, limit: int) -> dict[str, Any]:
    """`what`: "model" or "provider"."""
    key = (what, period, sort, limit)
    cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    column = UsageRecord.model if what == "model" else UsageRecord.provider
    end = utcnow()
    span = PERIODS[period]
    current = await _totals(session, column, end - span, end)
    previous = await _totals(session, column, end - 2 * span, end - span)
    empty = Totals(0, 0, 0, 0)
    ordered = sorted(current.items(), key=lambda item: (-item[1].value(sort), item[0]))[:limit]
    data = []
    for rank, (name, totals) in enumerate(ordered, start=1):
        before = previous.get(name, empty)
        data.append({
            "rank": rank,
            what: name,
            "requests": totals.requests,
            "tokens": totals.tokens,
            "prompt_tokens": totals.prompt_tokens,
            "completion_tokens": totals.completion_tokens,
            "spend": usd(totals.spend),
            "previous": {"requests": before.requests, "tokens": before.tokens, "spend": usd(before.spend)},
            "change": {name_: _change(totals.value(name_), before.value(name_)) for name_ in SORTS},
        })
    body = {"object": "list", "period": period, "sort": sort, "from": (end - span).isoformat(),
            "to": end.isoformat(), "data": data}
    _cache[key] = (time.monotonic(), body)
    return body


_popularity: dict[int, tuple[float, dict[tuple[str, str], int]]] = {}  # per database


async def endpoint_tokens(db: Database) -> dict[tuple[str, str], int]:
    """Tokens per endpoint (provider, upstream model) over the last week: `GET /models?sort=popularity`
    (kept a minute, like the rankings: most reads open no session at all)."""
    cached = _popularity.get(id(db))
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    end = utcnow()
    async with db.session() as session:
        rows = (await session.execute(
            select(UsageRecord.provider, UsageRecord.upstream_model,
                   func.coalesce(func.sum(UsageRecord.prompt_tokens), 0)
                   + func.coalesce(func.sum(UsageRecord.completion_tokens), 0))
            .where(UsageRecord.created_at >= end - PERIODS["week"], UsageRecord.provider.is_not(None),
                   UsageRecord.upstream_model.is_not(None))
            .group_by(UsageRecord.provider, UsageRecord.upstream_model)
        )).all()
    tokens = {(str(r[0]), str(r[1])): int(r[2]) for r in rows}
    _popularity[id(db)] = (time.monotonic(), tokens)
    return tokens
