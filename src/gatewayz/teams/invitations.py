"""Invitations: an unguessable token (only its HMAC is stored), single use, expiring, optionally
bound to one email address, valid only while its inviter is a member who may still admit its role
(removing or demoting a member also revokes what they can no longer make). Accepting is one
conditional UPDATE (`... WHERE accepted_at IS NULL AND
expires_at > now`), so two accepts of one token can never both succeed."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.accounts.keys import hash_key
from gatewayz.accounts.tables import User
from gatewayz.errors import InvalidRequest, NotFound
from gatewayz.storage.types import utcnow
from gatewayz.teams import roles, service
from gatewayz.teams.schemas import MAX_TOKEN_LENGTH, InvitationCreate, InvitationOut
from gatewayz.teams.tables import Team, TeamInvitation, TeamMember

TOKEN_PREFIX = "gwinv_"
MAX_OPEN_INVITATIONS = 1000


def invitation_out(row: TeamInvitation) -> InvitationOut:
    return InvitationOut.model_validate(row, from_attributes=True)


def _gone() -> NotFound:
    return NotFound("This invitation does not exist, was used, revoked, or has expired.",
                    param="token", code="invitation_not_found")


async def create(session: AsyncSession, secret: bytes, team: Team, caller: TeamMember,
                 body: InvitationCreate) -> tuple[TeamInvitation, str]:
    roles.require(caller.role, "admin", "invite members")
    roles.may_grant(caller.role, body.role)
    now = utcnow()
    open_count = len((await session.execute(select(TeamInvitation.id).where(
        TeamInvitation.team_id == team.id, TeamInvitation.accepted_at.is_(None),
        TeamInvitation.revoked_at.is_(None), TeamInvitation.expires_at > now).limit(MAX_OPEN_INVITATIONS))).all())
    if open_count >= MAX_OPEN_INVITATIONS:
        raise InvalidRequest(f"A team has at most {MAX_OPEN_INVITATIONS} open invitations.",
                             code="too_many_invitations")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = TeamInvitation(team_id=team.id, email=body.email, role=body.role, token_hash=hash_key(secret, token),
                         created_by=caller.user_id, created_at=now,
                         expires_at=now + timedelta(hours=body.expires_in_hours))
    session.add(row)
    await session.flush()
    return row, token


async def accept(session: AsyncSession, secret: bytes, token: str, user: User) -> tuple[Team, TeamMember, int]:
    """Join the team as the invitation says; (team, membership, invitation id). An unknown, used,
    revoked or expired token, or one for another address, is the same 404."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        raise _gone()
    token_hash = hash_key(secret, token)
    row = (await session.execute(select(TeamInvitation, Team).join(Team, Team.id == TeamInvitation.team_id)
                                 .where(TeamInvitation.token_hash == token_hash))).first()
    if row is None or row[1].deleted_at is not None or (row[0].email is not None and row[0].email != user.email):
        raise _gone()
    invitation, team = row
    # serialise with member changes (the team row, written first) and re-check that the inviter is
    # still a member whose role may admit this role: a removed or demoted admin's invitations die
    await session.execute(update(Team).where(Team.id == team.id).values(updated_at=Team.updated_at))
    inviter = (await session.execute(select(TeamMember.role).where(
        TeamMember.team_id == team.id, TeamMember.user_id == invitation.created_by))).scalar_one_or_none()
    if inviter is None or not roles.can_invite(inviter, invitation.role):
        raise _gone()
    now = utcnow()
    taken = await session.execute(
        update(TeamInvitation)
        .where(TeamInvitation.id == invitation.id, TeamInvitation.accepted_at.is_(None),
               TeamInvitation.revoked_at.is_(None), TeamInvitation.expires_at > now)
        .values(accepted_at=now, accepted_by=user.id)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise _gone()
    member = await service.add_member(session, team.id, user.id, invitation.role)  # a conflict rolls back the use
    return team, member, invitation.id


async def listed(session: AsyncSession, team: Team) -> list[TeamInvitation]:
    query = select(TeamInvitation).where(TeamInvitation.team_id == team.id).order_by(TeamInvitation.id.desc())
    return list((await session.execute(query.limit(MAX_OPEN_INVITATIONS))).scalars().all())


async def revoke(session: AsyncSession, team: Team, invitation_id: int) -> TeamInvitation:
    row = await session.get(TeamInvitation, invitation_id)
    if row is None or row.team_id != team.id:
        raise NotFound(f"No invitation with id {invitation_id}.", param="invitation_id")
    if row.revoked_at is None and row.accepted_at is None:
        row.revoked_at = utcnow()
        await session.flush()
    return row
