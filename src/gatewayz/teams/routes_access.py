"""Team invitations (accept, list, revoke) and team keys (`/teams/{id}/api-keys`), scope `keys`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from gatewayz.accounts import service as accounts
from gatewayz.accounts.delegation import principal_rights
from gatewayz.accounts.principal import Principal
from gatewayz.accounts.schemas import KeyRotate, KeyUpdate
from gatewayz.audit.records import audit_change
from gatewayz.http.params import QueryBool, RowId
from gatewayz.services import services
from gatewayz.teams import invitations, keys, service
from gatewayz.teams.routes import manager, person
from gatewayz.teams.schemas import (
    InvitationAccept,
    InvitationList,
    InvitationOut,
    MemberOut,
    TeamKeyCreate,
    TeamKeyCreated,
    TeamKeyList,
    TeamKeyOut,
)

router = APIRouter(prefix="/teams", tags=["Teams"])


@router.post("/invitations/accept", response_model=MemberOut)
async def accept_invitation(body: InvitationAccept, request: Request,
                            principal: Principal = Depends(manager)) -> MemberOut:
    """Join a team with an invitation's token (once; before it expires; as the invited address).
    The token travels in the body, never in the URL (which access logs record)."""
    svc = services(request)
    async with svc.db.transaction() as session:
        user = await accounts.get_user(session, principal.user_id)
        team, member, invitation_id = await invitations.accept(session, svc.settings.key_hash_secret_bytes,
                                                               body.token, user)
        out = service.member_out(member, user)
        await audit_change(session, request, principal, "team.member.join", "team_member", f"{team.id}:{user.id}",
                           None, {**service.fields(out), "invitation_id": invitation_id})
    return out


@router.get("/{team_id}/invitations", response_model=InvitationList)
async def list_invitations(team_id: RowId, request: Request, principal: Principal = Depends(person)) -> InvitationList:
    async with services(request).db.session() as session:
        team, _ = await service.membership(session, team_id, principal.user_id, "admin", "see invitations")
        return InvitationList(data=[invitations.invitation_out(r) for r in await invitations.listed(session, team)])


@router.delete("/{team_id}/invitations/{invitation_id}", response_model=InvitationOut)
async def revoke_invitation(team_id: RowId, invitation_id: RowId, request: Request,
                            principal: Principal = Depends(manager)) -> InvitationOut:
    async with services(request).db.transaction() as session:
        team, _ = await service.membership(session, team_id, principal.user_id, "admin", "revoke invitations")
        row = await invitations.revoke(session, team, invitation_id)
        out = invitations.invitation_out(row)
        await audit_change(session, request, principal, "team.invitation.revoke", "team_invitation", row.id,
                           None, service.fields(out))
    return out


# -- team keys ---------------------------------------------------------------------------------------


@router.post("/{team_id}/api-keys", status_code=201, response_model=TeamKeyCreated)
async def create_team_key(team_id: RowId, body: TeamKeyCreate, request: Request,
                          principal: Principal = Depends(manager)) -> TeamKeyCreated:
    """A key billed to the team's pool, scope `inference` only: the caller's own (`owner: member`,
    members and above; their cap applies) or the team's (`owner: team`, admins). Same rules as
    POST /user/api-keys otherwise (it cannot exceed the calling key's rights)."""
    svc = services(request)
    async with svc.db.transaction() as session:
        team, caller = await service.membership(session, team_id, principal.user_id)
        await keys.check_allowance(session, svc.plans, principal, team)
        key, link, plaintext = await keys.create(session, svc.settings.key_hash_secret_bytes, team, caller, body,
                                                 default_environment=svc.settings.environment,
                                                 rights=principal_rights(principal))
        out = keys.team_key_out(key, link)
        await audit_change(session, request, principal, "team.api_key.create", "api_key", key.id,
                           after=service.fields(out))
    return TeamKeyCreated(**out.model_dump(), key=plaintext)


@router.get("/{team_id}/api-keys", response_model=TeamKeyList)
async def list_team_keys(team_id: RowId, request: Request, include_revoked: Annotated[QueryBool, Query()] = False,
                         principal: Principal = Depends(person)) -> TeamKeyList:
    async with services(request).db.session() as session:
        team, _ = await service.membership(session, team_id, principal.user_id)
        rows = await keys.listed(session, team, include_revoked=include_revoked)
        return TeamKeyList(data=[keys.team_key_out(k, t) for k, t in rows])


@router.get("/{team_id}/api-keys/{key_id}", response_model=TeamKeyOut)
async def get_team_key(team_id: RowId, key_id: RowId, request: Request,
                       principal: Principal = Depends(person)) -> TeamKeyOut:
    async with services(request).db.session() as session:
        team, _ = await service.membership(session, team_id, principal.user_id)
        return keys.team_key_out(*await keys.of_team(session, team, key_id))


@router.patch("/{team_id}/api-keys/{key_id}", response_model=TeamKeyOut)
async def update_team_key(team_id: RowId, key_id: RowId, body: KeyUpdate, request: Request,
                          principal: Principal = Depends(manager)) -> TeamKeyOut:
    svc = services(request)
    async with svc.db.transaction() as session:
        team, caller = await service.membership(session, team_id, principal.user_id)
        key, link = await keys.managed(session, team, caller, key_id)
        if body.scopes is not None:
            keys.check_scopes(body.scopes)
        before = service.fields(keys.team_key_out(key, link))
        account = await accounts.get_user(session, team.account_id)
        invalidation = await accounts.update_key(session, account, key, body, caller=principal_rights(principal))
        out = keys.team_key_out(key, link)
        await audit_change(session, request, principal, "team.api_key.update", "api_key", key.id, before,
                           service.fields(out))
    await svc.publish(invalidation)
    return out


@router.delete("/{team_id}/api-keys/{key_id}", response_model=TeamKeyOut)
async def revoke_team_key(team_id: RowId, key_id: RowId, request: Request,
                          principal: Principal = Depends(manager)) -> TeamKeyOut:
    svc = services(request)
    async with svc.db.transaction() as session:
        team, caller = await service.membership(session, team_id, principal.user_id)
        key, link = await keys.managed(session, team, caller, key_id)
        before = service.fields(keys.team_key_out(key, link))
        invalidation = await accounts.revoke_key(session, key, caller=principal_rights(principal))
        out = keys.team_key_out(key, link)
        await audit_change(session, request, principal, "team.api_key.revoke", "api_key", key.id, before,
                           service.fields(out))
    await svc.publish(invalidation)
    return out


@router.post("/{team_id}/api-keys/{key_id}/rotate", response_model=TeamKeyCreated)
async def rotate_team_key(team_id: RowId, key_id: RowId, request: Request, body: KeyRotate | None = None,
                          principal: Principal = Depends(manager)) -> TeamKeyCreated:
    """A new secret for the same team key; `grace_period_seconds` keeps the old one meanwhile."""
    svc = services(request)
    async with svc.db.transaction() as session:
        team, caller = await service.membership(session, team_id, principal.user_id)
        key, link = await keys.managed(session, team, caller, key_id)
        before = service.fields(keys.team_key_out(key, link))
        plaintext, invalidation = await accounts.rotate_key(
            session, svc.settings.key_hash_secret_bytes, key, grace_period_seconds=body.grace_period_seconds if body
            else 0, caller=principal_rights(principal))
        out = keys.team_key_out(key, link)
        await audit_change(session, request, principal, "team.api_key.rotate", "api_key", key.id, before,
                           service.fields(out))
    await svc.publish(invalidation)
    return TeamKeyCreated(**out.model_dump(), key=plaintext)
