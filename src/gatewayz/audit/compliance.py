"""`GET /admin/compliance/report`: counts over a time range, from the audit trail and the security
events — what an auditor asks for (key creations and revocations, permission changes, credit
changes, account changes, failed authentications and sign-ins), as JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import func, select
from starlette.responses import Response

from gatewayz.accounts.dependencies import require_permission
from gatewayz.accounts.principal import Principal
from gatewayz.audit.tables import AuditRecord, SecurityEvent
from gatewayz.errors import InvalidRequest
from gatewayz.http.params import Timestamp
from gatewayz.services import services
from gatewayz.storage.types import utcnow

router = APIRouter(tags=["Audit"])
MAX_SPAN = timedelta(days=366)
# report line -> the audit actions it counts
AUDITED: dict[str, tuple[str, ...]] = {
    "sign_ins": ("user.sign_in",),
    "password_changes": ("password.change", "password.set", "password.reset"),
    "second_factor_changes": ("totp.enable", "totp.disable"),
    "session_revocations": ("session.revoke", "session.logout"),
    "key_creations": ("api_key.create", "team.api_key.create"),
    "key_rotations": ("api_key.rotate", "team.api_key.rotate"),
    "key_revocations": ("api_key.revoke", "team.api_key.revoke"),
    "permission_changes": ("role.create", "role.update", "role.delete", "user.roles.set"),
    "account_creations": ("user.create",),
    "account_changes": ("user.update",),
    "credit_grants": ("credits.grant",),
    "credit_deductions": ("credits.deduct",),
    "refunds": ("credits.refund",),
    "data_exports": ("user.data_export",),
    "data_deletions": ("user.erase",),
}
# report line -> the security events it counts
SECURITY: dict[str, tuple[str, ...]] = {
    "failed_sign_ins": ("signin_failed",),
    "locked_sign_ins": ("signin_locked",),
}


async def compliance_counts(session: Any, since: datetime, until: datetime) -> dict[str, int]:
    actions = dict((await session.execute(
        select(AuditRecord.action, func.count()).where(AuditRecord.created_at >= since,
                                                       AuditRecord.created_at < until)
        .group_by(AuditRecord.action)
    )).all())
    events = dict((await session.execute(
        select(SecurityEvent.event, func.count()).where(SecurityEvent.created_at >= since,
                                                        SecurityEvent.created_at < until)
        .group_by(SecurityEvent.event)
    )).all())
    report = {line: sum(int(actions.get(a, 0)) for a in names) for line, names in AUDITED.items()}
    report |= {line: sum(int(events.get(e, 0)) for e in names) for line, names in SECURITY.items()}
    report["refused_requests"] = sum(int(n) for e, n in events.items() if e not in {"signin_failed", "signin_locked"})
    report["audit_records"] = sum(int(n) for n in actions.values())
    return report


@router.get("/admin/compliance/report", response_model=None)
async def compliance_report(
    request: Request,
    since: Annotated[Timestamp | None, Query(description="default: 30 days before `until`")] = None,
    until: Annotated[Timestamp | None, Query(description="default: now")] = None,
    format: Literal["json", "csv"] = "json",
    _: Principal = Depends(require_permission("compliance.read", "audit.read")),
) -> Response:
    """Counts over [since, until): key creations, rotations and revocations, permission changes,
    account and credit changes, refunds, data exports and deletions, failed and locked sign-ins,
    other refused requests, and all audit records."""
    end = until or utcnow()
    start = since or end - timedelta(days=30)
    if start >= end or end - start > MAX_SPAN:
        raise InvalidRequest("'since' must come before 'until', at most 366 days apart.", param="since")
    async with services(request).db.session() as session:
        counts = await compliance_counts(session, start, end)
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(("metric", "count", "since", "until"))
        for name, count in counts.items():
            writer.writerow((name, count, start.isoformat(), end.isoformat()))
        return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": 'attachment; filename="compliance-report.csv"'})
    body = {"object": "compliance_report", "since": start, "until": end, "counts": counts}
    return Response(orjson.dumps(body, option=orjson.OPT_UTC_Z), media_type="application/json")
