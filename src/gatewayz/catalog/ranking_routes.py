"""`GET /ranking/models` and `GET /ranking/providers` (see rankings.py): one route."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from gatewayz.accounts.dependencies import require_scope
from gatewayz.accounts.principal import Principal
from gatewayz.catalog.rankings import ranking
from gatewayz.http.params import QueryInt
from gatewayz.services import services

router = APIRouter(tags=["Models"])
Period = Literal["day", "week", "month"]
Sort = Literal["tokens", "requests", "spend"]


async def _ranking(request: Request, what: str, period: str, sort: str, limit: int) -> dict[str, Any]:
    async with services(request).db.session() as session:
        return await ranking(session, what, period, sort, limit)


@router.get("/ranking/{what}")
async def rankings(
    request: Request,
    what: Literal["models", "providers"],
    period: Period = "day",
    sort: Sort = "tokens",
    limit: Annotated[QueryInt, Query(ge=1, le=100)] = 20,
    principal: Principal = Depends(require_scope("inference")),
) -> dict[str, Any]:
    """Models (or providers) by tokens, requests or spend through this gateway over the last day,
    week or month (30 days), with the previous period's figures and the relative change."""
    return await _ranking(request, what.removesuffix("s"), period, sort, limit)
