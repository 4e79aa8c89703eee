"""A team's pool: `/teams/{id}/balance`, `/credit-transactions`, `/usage` (viewers and above) and
`/credits` (a member moves money from their own balance into the pool). Scope `billing`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from gatewayz.accounts.dependencies import require_scope
from gatewayz.accounts.principal import Principal
from gatewayz.audit.records import audit_change
from gatewayz.billing import ledger, queries
from gatewayz.billing.money import to_nanos, usd
from gatewayz.billing.schemas import BalanceOut, TransactionList, TransactionType, UsageGroup, UsageSummary
from gatewayz.errors import PermissionDenied
from gatewayz.http.params import MAX_ID, QueryInt, RowId, Timestamp
from gatewayz.services import services
from gatewayz.teams import keys, service
from gatewayz.teams.schemas import TransferIn, TransferOut

router = APIRouter(prefix="/teams", tags=["Teams"])
_billing_scope = require_scope("billing")


async def payer(request: Request, principal: Principal = Depends(_billing_scope)) -> Principal:
    if principal.team_id is not None:
        raise PermissionDenied("A team key cannot read or move a team's money.", code="team_key")
    return principal


@router.get("/{team_id}/balance", response_model=BalanceOut)
async def team_balance(team_id: RowId, request: Request, principal: Principal = Depends(payer)) -> BalanceOut:
    svc = services(request)
    async with svc.db.session() as session:
        team, _ = await service.membership(session, team_id, principal.user_id)
        return await queries.balance(session, team.account_id, to_nanos(svc.settings.low_balance_threshold_usd))


@router.get("/{team_id}/credit-transactions", response_model=TransactionList)
async def team_transactions(
    team_id: RowId,
    request: Request,
    type: TransactionType | None = Query(None),
    since: Annotated[Timestamp | None, Query()] = None,
    until: Annotated[Timestamp | None, Query()] = None,
    limit: Annotated[QueryInt, Query(ge=1, le=500)] = 50,
    before_id: Annotated[QueryInt | None, Query(ge=1, le=MAX_ID)] = None,
    principal: Principal = Depends(payer),
) -> TransactionList:
    async with services(request).db.session() as session:
        team, _ = await service.membership(session, team_id, principal.user_id)
        rows, more = await queries.transactions(session, team.account_id, type_=type, since=since, until=until,
                                                limit=limit, before_id=before_id)
    return TransactionList(data=rows, has_more=more, next_before_id=rows[-1].id if more and rows else None)


@router.get("/{team_id}/usage", response_model=UsageSummary)
async def team_usage(
    team_id: RowId,
    request: Request,
    group_by: str = Query("day", pattern="^(day|model|provider|key|member)$"),
    since: Annotated[Timestamp | None, Query()] = None,
    until: Annotated[Timestamp | None, Query()] = None,
    principal: Principal = Depends(payer),
) -> UsageSummary:
    """The pool's usage; `group_by=key` splits it by team key, `member` by the member whose key it
    was (the user id; `team` for the team's own keys)."""
    async with services(request).db.session() as session:
        team, _ = await service.membership(session, team_id, principal.user_id)
        by_key = await queries.usage_summary(session, user_id=team.account_id, since=since, until=until,
                                             group_by="key" if group_by == "member" else group_by)
        if group_by != "member":
            return by_key
        return by_member(by_key, await keys.owners(session, team))


def by_member(by_key: UsageSummary, owners: dict[int, int | None]) -> UsageSummary:
    """Key groups summed per member, exactly (costs in nanos)."""
    sums: dict[str, list[int]] = {}
    for group in by_key.groups:
        owner = owners.get(int(group.key))
        label = "team" if owner is None else str(owner)
        row = sums.setdefault(label, [0] * 6)
        for i, value in enumerate((group.requests, group.prompt_tokens, group.completion_tokens,
                                   group.cached_tokens, group.images, to_nanos(group.cost))):
            row[i] += value
    groups = [UsageGroup(key=label, requests=r[0], prompt_tokens=r[1], completion_tokens=r[2], cached_tokens=r[3],
                         images=r[4], cost=usd(r[5])) for label, r in sorted(sums.items())]
    return by_key.model_copy(update={"group_by": "member", "groups": groups})


@router.post("/{team_id}/credits", status_code=201, response_model=TransferOut)
async def transfer_to_pool(team_id: RowId, body: TransferIn, request: Request,
                           principal: Principal = Depends(payer)) -> TransferOut:
    """Move USD from the caller's own balance into the pool (members and above): exact, one
    transaction, two `transfer` ledger rows with one reference. Credit that expires cannot move."""
    if principal.is_sandbox:
        raise PermissionDenied("Sandbox (test) keys cannot move money.", code="sandbox_key")
    amount = to_nanos(body.amount)
    reference = f"team:{team_id}:transfer:{uuid.uuid4().hex}"
    async with services(request).db.transaction() as session:
        team, _ = await service.membership(session, team_id, principal.user_id, "member", "fund the pool")
        _, after = await ledger.transfer(session, from_user=principal.user_id, to_user=team.account_id, amount=amount,
                                         reference=reference, actor=f"user:{principal.user_id}", reason=body.reason)
        await audit_change(session, request, principal, "team.credits.transfer", "team", team.id,
                           after={"amount": usd(amount), "from_user_id": principal.user_id, "reference": reference})
    return TransferOut(team_id=team.id, amount=usd(amount), balance=usd(after), reference=reference)
