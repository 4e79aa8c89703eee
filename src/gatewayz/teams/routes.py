"""`/teams`: a user's teams and their members (scope `keys`; team roles, see teams/roles.py).

Members join by invitation only (POST /teams/{id}/members invites an address): adding an existing
user outright would let anyone probe which addresses have accounts.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from gatewayz.accounts.dependencies import require_scope
from gatewayz.accounts.principal import Principal
from gatewayz.audit.records import audit_change
from gatewayz.billing import ledger
from gatewayz.billing.money import usd
from gatewayz.errors import PermissionDenied
from gatewayz.http.params import RowId
from gatewayz.services import services
from gatewayz.teams import closing, invitations, service
from gatewayz.teams.schemas import (
    InvitationCreate,
    InvitationCreated,
    MemberList,
    MemberOut,
    MemberUpdate,
    TeamCreate,
    TeamList,
    TeamOut,
    TeamUpdate,
)

router = APIRouter(prefix="/teams", tags=["Teams"])
_keys_scope = require_scope("keys")


async def person(request: Request, principal: Principal = Depends(_keys_scope)) -> Principal:
    """A person (their own key or session): a team key never manages teams."""
    if principal.team_id is not None:
        raise PermissionDenied("A team key cannot manage teams.", code="team_key")
    return principal


async def manager(principal: Principal = Depends(person)) -> Principal:
    """A person changing a team (its members, invitations, keys, existence): a live key or session.
    A sandbox (test) key only reads: its changes would take live effect."""
    if principal.is_sandbox:
        raise PermissionDenied("Sandbox (test) keys cannot change teams.", code="sandbox_key")
    return principal


@router.post("", status_code=201, response_model=TeamOut)
async def create_team(body: TeamCreate, request: Request, principal: Principal = Depends(manager)) -> TeamOut:
    """A new team with the caller as its owner, and its pool (an empty ledger account)."""
    async with services(request).db.transaction() as session:
        team, member = await service.create_team(session, principal.user_id, body.name)
        await ledger.ensure_account(session, team.account_id)
        out = service.team_out(team, member.role)
        await audit_change(session, request, principal, "team.create", "team", team.id, after=service.fields(out))
    return out


@router.get("", response_model=TeamList)
async def list_teams(request: Request, principal: Principal = Depends(person)) -> TeamList:
    async with services(request).db.session() as session:
        return TeamList(data=[service.team_out(t, r) for t, r in await service.my_teams(session, principal.user_id)])


@router.get("/{team_id}", response_model=TeamOut)
async def get_team(team_id: RowId, request: Request, principal: Principal = Depends(person)) -> TeamOut:
    async with services(request).db.session() as session:
        team, member = await service.membership(session, team_id, principal.user_id)
        return service.team_out(team, member.role)


@router.patch("/{team_id}", response_model=TeamOut)
async def update_team(team_id: RowId, body: TeamUpdate, request: Request,
                      principal: Principal = Depends(manager)) -> TeamOut:
    async with services(request).db.transaction() as session:
        team, member = await service.membership(session, team_id, principal.user_id, "admin", "rename the team")
        before = service.fields(service.team_out(team, member.role))
        if body.name is not None:
            team.name = body.name
            await session.flush()
        out = service.team_out(team, member.role)
        await audit_change(session, request, principal, "team.update", "team", team.id, before, service.fields(out))
    return out


@router.delete("/{team_id}", response_model=TeamOut)
async def delete_team(team_id: RowId, request: Request, principal: Principal = Depends(manager)) -> TeamOut:
    """Owner only. Each member who moved credit into the pool gets back at most what they moved
    in (teams/closing.py); the rest stays in the closed team's account for an admin. Refused (409)
    while requests hold money from the pool. Every team key stops."""
    svc = services(request)
    async with svc.db.transaction() as session:
        team, member = await service.membership(session, team_id, principal.user_id, "owner", "delete the team",
                                                lock=True)
        before = service.fields(service.team_out(team, member.role))
        returned, kept = await closing.close_pool(session, team, principal.user_id)
        invalidation, removed = await service.delete_team(session, team)
        await audit_change(session, request, principal, "team.delete", "team", team.id, before,
                           {"deleted": True, "members_removed": removed,
                            "balance_returned": usd(sum(returned.values())),
                            "returned": {str(u): usd(a) for u, a in sorted(returned.items())},
                            "balance_kept": usd(kept)})
    await svc.publish(invalidation)
    return service.team_out(team, member.role)


# -- members -----------------------------------------------------------------------------------------


@router.get("/{team_id}/members", response_model=MemberList)
async def list_members(team_id: RowId, request: Request, principal: Principal = Depends(person)) -> MemberList:
    async with services(request).db.session() as session:
        team, _ = await service.membership(session, team_id, principal.user_id)
        rows = await service.members(session, team.id)
        spend = await service.cap_spend(session, [m for m, _ in rows])
        return MemberList(data=[service.member_out(m, u, spend) for m, u in rows])


@router.post("/{team_id}/members", status_code=201, response_model=InvitationCreated)
async def invite_member(team_id: RowId, body: InvitationCreate, request: Request,
                        principal: Principal = Depends(manager)) -> InvitationCreated:
    """Members join by invitation: this is POST /teams/{id}/invitations (an `email` binds it)."""
    return await create_invitation(team_id, body, request, principal)


@router.get("/{team_id}/members/{user_id}", response_model=MemberOut)
async def get_member(team_id: RowId, user_id: RowId, request: Request,
                     principal: Principal = Depends(person)) -> MemberOut:
    async with services(request).db.session() as session:
        team, _ = await service.membership(session, team_id, principal.user_id)
        member, user = await service.target_member(session, team.id, user_id)
        return service.member_out(member, user, await service.cap_spend(session, [member]))


@router.patch("/{team_id}/members/{user_id}", response_model=MemberOut)
async def update_member(team_id: RowId, user_id: RowId, body: MemberUpdate, request: Request,
                        principal: Principal = Depends(manager)) -> MemberOut:
    """Role, spending cap (USD per cap_period; a member's team keys hold under it) — admins change
    members and viewers, owners anyone; nobody raises their own role or cap. Made a viewer, a
    member's team keys are revoked; any change reaches every process within a second."""
    svc = services(request)
    async with svc.db.transaction() as session:
        team, caller = await service.membership(session, team_id, principal.user_id, lock=True)
        target, user = await service.target_member(session, team.id, user_id)
        before = service.fields(service.member_out(target, user))
        invalidation = await service.update_member(session, caller, target, body)
        out = service.member_out(target, user)
        await audit_change(session, request, principal, "team.member.update", "team_member",
                           f"{team.id}:{user_id}", before, service.fields(out))
    await svc.publish(invalidation)
    return out


@router.delete("/{team_id}/members/{user_id}", response_model=MemberOut)
async def remove_member(team_id: RowId, user_id: RowId, request: Request,
                        principal: Principal = Depends(manager)) -> MemberOut:
    """Remove a member (admins; an owner by an owner) or leave (yourself). Their team keys are
    revoked and stop in every process within a second."""
    svc = services(request)
    async with svc.db.transaction() as session:
        team, caller = await service.membership(session, team_id, principal.user_id, lock=True)
        target, user = await service.target_member(session, team.id, user_id)
        out = service.member_out(target, user)
        invalidation = await service.remove_member(session, caller, target)
        await audit_change(session, request, principal, "team.member.remove", "team_member",
                           f"{team.id}:{user_id}", service.fields(out), None)
    await svc.publish(invalidation)
    return out


# -- invitations ---------------------------------------------------------------------------------------


@router.post("/{team_id}/invitations", status_code=201, response_model=InvitationCreated)
async def create_invitation(team_id: RowId, body: InvitationCreate, request: Request,
                            principal: Principal = Depends(manager)) -> InvitationCreated:
    """Admins invite (to a role up to their own); the token is shown once and works once."""
    svc = services(request)
    async with svc.db.transaction() as session:
        team, caller = await service.membership(session, team_id, principal.user_id)
        row, token = await invitations.create(session, svc.settings.key_hash_secret_bytes, team, caller, body)
        out = invitations.invitation_out(row)
        await audit_change(session, request, principal, "team.invitation.create", "team_invitation", row.id,
                           after=service.fields(out))
    return InvitationCreated(**out.model_dump(), token=token)
