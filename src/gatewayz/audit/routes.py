"""`GET /admin/audit-logs` (every record; filters, cursor pages, CSV) and `GET /user/audit-logs`
(the caller's own actions and the actions on their account and keys)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import Select, String, and_, cast, or_, select
from starlette.responses import Response

from gatewayz.accounts.dependencies import require_permission, require_scope
from gatewayz.accounts.principal import Principal
from gatewayz.accounts.tables import ApiKey
from gatewayz.audit.tables import AuditRecord
from gatewayz.http.params import QueryInt, RowId, Timestamp
from gatewayz.services import services

router = APIRouter(tags=["Audit"])
MAX_LIMIT = 500
CSV_COLUMNS = ("id", "created_at", "actor_type", "actor_user_id", "actor_key_id", "action", "target_type",
               "target_id", "before", "after", "ip", "user_agent", "request_id")
Format = Literal["json", "csv"]
Limit = Annotated[QueryInt, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[RowId | None, Query(description="`next_cursor` of the previous page: records older than it")]
Name = Annotated[str | None, Query(max_length=64)]


def _out(row: AuditRecord) -> dict[str, Any]:
    return {name: getattr(row, name) for name in CSV_COLUMNS}


class Page:
    """The query parameters both listings take (a FastAPI dependency)."""

    def __init__(
        self,
        action: Name = None,
        since: Annotated[Timestamp | None, Query()] = None,
        until: Annotated[Timestamp | None, Query()] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
        format: Format = "json",
    ) -> None:
        self.action, self.since, self.until, self.cursor, self.limit, self.format = (
            action, since, until, cursor, limit, format)

    def filtered(self, query: Select[Any], *conditions: Any) -> Select[Any]:
        conditions = tuple(c for c in conditions if c is not None)
        action = self.action
        if action:  # `api_key.` matches every key action
            conditions += (AuditRecord.action.startswith(action) if action.endswith(".")
                           else AuditRecord.action == action,)
        if self.since is not None:
            conditions += (AuditRecord.created_at >= self.since,)
        if self.until is not None:
            conditions += (AuditRecord.created_at < self.until,)
        if self.cursor is not None:
            conditions += (AuditRecord.id < self.cursor,)
        return query.where(*conditions) if conditions else query


async def _answer(request: Request, query: Select[Any], limit: int, fmt: str) -> Response:
    async with services(request).db.session() as session:
        rows = (await session.execute(query.order_by(AuditRecord.id.desc()).limit(limit + 1))).scalars().all()
    more, rows = len(rows) > limit, rows[:limit]
    records = [_out(r) for r in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for record in records:
            writer.writerow([_cell(record[name]) for name in CSV_COLUMNS])
        headers = {"content-disposition": 'attachment; filename="audit-logs.csv"'}
        if more:
            headers["x-next-cursor"] = str(rows[-1].id)
        return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
    body = {"object": "list", "data": records, "has_more": more, "next_cursor": rows[-1].id if more else None}
    return Response(orjson.dumps(body, option=orjson.OPT_UTC_Z), media_type="application/json")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text  # no formula injection in a spreadsheet


@router.get("/admin/audit-logs", response_model=None)
async def admin_audit_logs(
    request: Request,
    actor_user_id: Annotated[RowId | None, Query()] = None,
    target_type: Name = None,
    target_id: Name = None,
    page: Page = Depends(),
    _: Principal = Depends(require_permission("audit.read")),
) -> Response:
    """Every audit record, newest first: who (user, key or the system) changed what, with the changed
    fields before and after, IP, user agent and request id. `format=csv` exports the page (the next
    page's cursor in `x-next-cursor`)."""
    query = page.filtered(
        select(AuditRecord),
        None if actor_user_id is None else AuditRecord.actor_user_id == actor_user_id,
        None if not target_type else AuditRecord.target_type == target_type,
        None if not target_id else AuditRecord.target_id == target_id,
    )
    return await _answer(request, query, page.limit, page.format)


@router.get("/user/audit-logs", response_model=None)
async def user_audit_logs(
    request: Request, page: Page = Depends(), principal: Principal = Depends(require_scope("keys"))
) -> Response:
    """The caller's own actions, and what anyone did to their account or their keys, newest first."""
    me = principal.user_id
    my_keys = select(cast(ApiKey.id, String)).where(ApiKey.user_id == me)
    query = page.filtered(select(AuditRecord), or_(
        AuditRecord.actor_user_id == me,
        and_(AuditRecord.target_type == "user", AuditRecord.target_id == str(me)),
        and_(AuditRecord.target_type == "api_key", AuditRecord.target_id.in_(my_keys)),
    ))
    return await _answer(request, query, page.limit, page.format)
