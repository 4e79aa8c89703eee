"""Teams and their members: the operations behind the HTTP API.

Someone who is not a member of a team (or a team that was deleted) gets a 404, never a 403: a
team's existence is not disclosed. A change that must stop team keys (a member removed or made a
viewer, a cap changed, the team deleted) bumps the auth change counter in its transaction and
returns an `Invalidation` naming the keys, published once the transaction has committed.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.accounts.cache import bump_auth_counter
from gatewayz.accounts.service import Invalidation
from gatewayz.accounts.tables import ApiKey, User
from gatewayz.billing import queries
from gatewayz.billing.money import to_nanos, usd
from gatewayz.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from gatewayz.storage.types import utcnow
from gatewayz.teams import roles
from gatewayz.teams.schemas import MemberOut, MemberUpdate, TeamOut
from gatewayz.teams.tables import Team, TeamInvitation, TeamKey, TeamMember

MAX_TEAMS_PER_USER = 100
MAX_MEMBERS = 10_000


def team_out(team: Team, role: str) -> TeamOut:
    return TeamOut(id=team.id, name=team.name, account_id=team.account_id, role=role,  # type: ignore[arg-type]
                   created_at=team.created_at, updated_at=team.updated_at)


def member_out(member: TeamMember, user: User, spend: dict[int, tuple[int, int]] | None = None) -> MemberOut:
    capped = member.spend_cap is not None
    spent = sum((spend or {}).get(member.id, (0, 0))) if capped and spend is not None else None
    return MemberOut(user_id=member.user_id, email=user.email, name=user.name, role=member.role,  # type: ignore[arg-type]
                     spend_cap=usd(member.spend_cap) if member.spend_cap is not None else None,
                     cap_period=member.cap_period, cap_spent=usd(spent) if spent is not None else None,
                     created_at=member.created_at)


async def cap_spend(session: AsyncSession, rows: list[TeamMember]) -> dict[int, tuple[int, int]]:
    """What each capped member spent (and holds) under their cap this period (the cap id is the
    membership id, see billing's cap_spend)."""
    return await queries.cap_spend(session, {m.id: m.cap_period for m in rows if m.spend_cap is not None})


def _not_found(team_id: int) -> NotFound:
    return NotFound(f"No team with id {team_id}.", param="team_id", code="team_not_found")


async def create_team(session: AsyncSession, owner_id: int, name: str) -> tuple[Team, TeamMember]:
    """The team, its pool's ledger account (a `users` row of kind 'team' with an unusable address:
    it has no password or identity, so it never signs in) and its first owner."""
    count = (await session.execute(
        select(func.count()).select_from(TeamMember).where(TeamMember.user_id == owner_id))).scalar_one()
    if count >= MAX_TEAMS_PER_USER:
        raise InvalidRequest(f"A user belongs to at most {MAX_TEAMS_PER_USER} teams.", code="too_many_teams")
    account = User(email=f"team-{secrets.token_hex(12)}@team.invalid", name=name, role="user", is_active=True,
                   kind="team")
    session.add(account)
    await session.flush()
    team = Team(name=name, account_id=account.id, created_by=owner_id)
    session.add(team)
    await session.flush()
    member = TeamMember(team_id=team.id, user_id=owner_id, role="owner")
    session.add(member)
    await session.flush()
    return team, member


async def membership(session: AsyncSession, team_id: int, user_id: int, needed: str = "viewer",
                     doing: str = "do this", *, lock: bool = False) -> tuple[Team, TeamMember]:
    """The team and the caller's membership; 404 for a non-member, 403 for a role below `needed`.
    `lock`: changes to a team's members serialise on its row, written first (the write lock, on
    SQLite as on PostgreSQL, before anything is read: two owners leaving at once cannot both see
    the other still there)."""
    if lock:
        await session.execute(update(Team).where(Team.id == team_id).values(updated_at=Team.updated_at))
    query = (select(Team, TeamMember).join(TeamMember, TeamMember.team_id == Team.id)
             .where(Team.id == team_id, Team.deleted_at.is_(None), TeamMember.user_id == user_id))
    row = (await session.execute(query)).first()
    if row is None:
        raise _not_found(team_id)
    team, member = row
    roles.require(member.role, needed, doing)
    return team, member


async def my_teams(session: AsyncSession, user_id: int) -> list[tuple[Team, str]]:
    rows = (await session.execute(
        select(Team, TeamMember.role).join(TeamMember, TeamMember.team_id == Team.id)
        .where(TeamMember.user_id == user_id, Team.deleted_at.is_(None)).order_by(Team.id)
    )).all()
    return [(team, role) for team, role in rows]


async def members(session: AsyncSession, team_id: int) -> list[tuple[TeamMember, User]]:
    rows = (await session.execute(
        select(TeamMember, User).join(User, User.id == TeamMember.user_id)
        .where(TeamMember.team_id == team_id).order_by(TeamMember.id).limit(MAX_MEMBERS)
    )).all()
    return [(m, u) for m, u in rows]


async def target_member(session: AsyncSession, team_id: int, user_id: int) -> tuple[TeamMember, User]:
    row = (await session.execute(
        select(TeamMember, User).join(User, User.id == TeamMember.user_id)
        .where(TeamMember.team_id == team_id, TeamMember.user_id == user_id)
    )).first()
    if row is None:
        raise NotFound(f"No member with user id {user_id} in this team.", param="user_id", code="member_not_found")
    return row[0], row[1]


async def _owners(session: AsyncSession, team_id: int) -> int:
    return int((await session.execute(select(func.count()).select_from(TeamMember).where(
        TeamMember.team_id == team_id, TeamMember.role == "owner"))).scalar_one())


async def _member_key_rows(session: AsyncSession, team_id: int, user_id: int | None) -> list[tuple[ApiKey, TeamKey]]:
    """The team's keys (`user_id` None), or the member's own and the team's own keys they created."""
    query = select(ApiKey, TeamKey).join(TeamKey, TeamKey.key_id == ApiKey.id).where(TeamKey.team_id == team_id)
    if user_id is not None:
        query = query.where(or_(TeamKey.member_user_id == user_id,
                                and_(TeamKey.member_user_id.is_(None), TeamKey.created_by == user_id)))
    return [(k, t) for k, t in (await session.execute(query)).all()]


async def stop_keys(session: AsyncSession, team_id: int, user_id: int | None, *, revoke: bool,
                    revoke_created: bool | None = None) -> Invalidation:
    """Make every process reload the member's team keys and the team's own keys they created (all
    the team's with `user_id` None) within a second. `revoke` also refuses the member's own keys
    from now on, `revoke_created` (default: as `revoke`) the team's own keys they created."""
    rows = await _member_key_rows(session, team_id, user_id)
    created = revoke if revoke_created is None else revoke_created
    now = utcnow()
    live = [k.id for k, link in rows if k.revoked_at is None
            and (revoke if link.member_user_id is not None or user_id is None else created)]
    if live:
        await session.execute(update(ApiKey).where(ApiKey.id.in_(live)).values(revoked_at=now, updated_at=now))
    hashes = [h for k, _ in rows for h in (k.key_hash, k.previous_key_hash) if h]
    return Invalidation(await bump_auth_counter(session), hashes=hashes)


async def revoke_invitations(session: AsyncSession, team_id: int, user_id: int, role: str | None) -> None:
    """Close the open invitations `user_id` made that their (new) `role` could no longer make
    (all of them when they left: `role` None)."""
    gone = [r for r in roles.ROLES if role is None or not roles.can_invite(role, r)]
    now = utcnow()
    await session.execute(update(TeamInvitation).where(
        TeamInvitation.team_id == team_id, TeamInvitation.created_by == user_id, TeamInvitation.role.in_(gone),
        TeamInvitation.accepted_at.is_(None), TeamInvitation.revoked_at.is_(None)).values(revoked_at=now))


def _outranks(caller: TeamMember, target: TeamMember, doing: str) -> None:
    """Someone else's role, cap or membership: an owner acts on anyone, an admin only on members
    and viewers (roles strictly below their own)."""
    roles.require(caller.role, "admin", doing)
    if caller.role != "owner" and roles.RANK[target.role] >= roles.RANK[caller.role]:
        raise PermissionDenied(f"Your team role ({caller.role}) cannot {doing} of a {target.role}.",
                               code="team_role_insufficient")


async def update_member(session: AsyncSession, caller: TeamMember, target: TeamMember,
                        body: MemberUpdate) -> Invalidation | None:
    """Role and cap changes. An admin changes members and viewers (never other admins nor owners,
    nor anyone into an owner); nobody changes their own cap or raises their own role; the last
    owner stays one. Losing rank revokes the team keys and invitations the new role could not make."""
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        return None
    own = caller.user_id == target.user_id
    if not own:
        _outranks(caller, target, "change the role or cap")
    role = changes.get("role")
    if role is not None:
        roles.may_grant(caller.role, role)  # never above the caller's own role (their own included)
        if target.role == "owner" and role != "owner" and await _owners(session, target.team_id) <= 1:
            raise Conflict("A team keeps at least one owner: make someone else owner first.", param="role",
                           code="last_owner")
    if ("spend_cap" in changes or "cap_period" in changes) and own and caller.role != "owner":
        raise PermissionDenied("Only an owner changes their own spending cap.", param="spend_cap",
                               code="team_role_insufficient")
    if "spend_cap" in changes:
        target.spend_cap = to_nanos(changes["spend_cap"]) if changes["spend_cap"] is not None else None
    if "cap_period" in changes:
        target.cap_period = changes["cap_period"]
    was = target.role
    if role is not None:
        target.role = role
        if roles.RANK[role] < roles.RANK[was]:
            await revoke_invitations(session, target.team_id, target.user_id, role)
    target.updated_at = utcnow()
    await session.flush()
    # a viewer spends nothing: their team keys are revoked; below admin, the team's own keys they
    # created are; any other change reloads them
    demoted = role == "viewer" and was != "viewer"
    unadmined = role is not None and roles.at_least(was, "admin") and not roles.at_least(role, "admin")
    return await stop_keys(session, target.team_id, target.user_id, revoke=demoted, revoke_created=unadmined)


async def remove_member(session: AsyncSession, caller: TeamMember, target: TeamMember) -> Invalidation:
    """Removing someone else needs admin (an owner or admin only by an owner); anyone may leave.
    Their team keys, the team's own keys they created and their open invitations are revoked in
    the same transaction."""
    if caller.user_id != target.user_id:
        _outranks(caller, target, "remove the membership")
    if target.role == "owner" and await _owners(session, target.team_id) <= 1:
        raise Conflict("The last owner cannot leave: make someone else owner, or delete the team.",
                       code="last_owner")
    invalidation = await stop_keys(session, target.team_id, target.user_id, revoke=True)
    await revoke_invitations(session, target.team_id, target.user_id, None)
    await session.delete(target)
    await session.flush()
    return invalidation


async def add_member(session: AsyncSession, team_id: int, user_id: int, role: str) -> TeamMember:
    existing = (await session.execute(select(TeamMember.id).where(
        TeamMember.team_id == team_id, TeamMember.user_id == user_id))).first()
    if existing is not None:
        raise Conflict("You are already a member of this team.", code="already_member")
    count = (await session.execute(select(func.count()).select_from(TeamMember).where(
        TeamMember.user_id == user_id))).scalar_one()
    if count >= MAX_TEAMS_PER_USER:
        raise InvalidRequest(f"A user belongs to at most {MAX_TEAMS_PER_USER} teams.", code="too_many_teams")
    member = TeamMember(team_id=team_id, user_id=user_id, role=role)
    session.add(member)
    try:
        await session.flush()
    except IntegrityError as exc:  # joined at the same moment through another invitation
        raise Conflict("You are already a member of this team.", code="already_member") from exc
    return member


async def delete_team(session: AsyncSession, team: Team) -> tuple[Invalidation, int]:
    """Mark the team deleted, revoke its keys, deactivate its account. The pool's money stays in
    its ledger (the caller moves it first, see routes_billing); returns (invalidation, members)."""
    invalidation = await stop_keys(session, team.id, None, revoke=True)
    now = utcnow()
    team.deleted_at = now
    team.updated_at = now
    account = await session.get(User, team.account_id)
    assert account is not None
    account.is_active = False
    account.updated_at = now
    gone = (await session.execute(select(func.count()).select_from(TeamMember).where(
        TeamMember.team_id == team.id))).scalar_one()
    await session.execute(TeamMember.__table__.delete().where(TeamMember.team_id == team.id))
    await session.flush()
    return invalidation, int(gone)


def fields(model: Any) -> dict[str, Any]:
    return dict(model.model_dump(mode="json"))
