"""Team keys: API keys of a team's pool account (billed to the pool), each the team's own or a
member's (that member's spending cap applies), and how the authenticator completes them. A team's
own key lives only while its creator is an admin or owner of the team, and the creator's cap
applies to it.

They carry only the `inference` scope: a team key can spend, never manage keys or read the
ledger through /user/... (those are the team API's, under team roles).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.accounts import service as accounts
from gatewayz.accounts.delegation import Rights
from gatewayz.accounts.principal import Principal
from gatewayz.accounts.schemas import KeyCreate
from gatewayz.accounts.tables import ApiKey, User
from gatewayz.billing.money import MAX_NANOS
from gatewayz.errors import InvalidRequest, NotFound
from gatewayz.plans.book import PlanBook, current_assignment
from gatewayz.plans.entitlements import check_key_allowance
from gatewayz.teams import roles
from gatewayz.teams.schemas import TeamKeyCreate, TeamKeyOut
from gatewayz.teams.tables import Team, TeamKey, TeamMember

TEAM_KEY_SCOPES = ["inference"]


class TeamKeys:
    """The authenticator's hook (accounts/auth.py TeamKeyHook): runs only on a cache miss of a key
    whose owner row is a team account."""

    async def complete(self, session: Any, principal: Principal) -> Principal:
        row = (await session.execute(
            select(TeamKey, Team).join(Team, Team.id == TeamKey.team_id).where(TeamKey.key_id == principal.key_id)
        )).first()
        if row is None or row[1].deleted_at is not None:
            return replace(principal, revoked=True)
        link, team = row
        principal = replace(principal, team_id=team.id)
        # a member's key needs its member (member and above); the team's own key needs its creator
        # still an admin or owner, and carries the creator's cap (F2: no escaping a cap through it)
        subject, needed = (link.member_user_id, "member") if link.member_user_id is not None else \
            (link.created_by, "admin")
        if subject is None:
            return principal
        found = (await session.execute(
            select(TeamMember, User.is_active).join(User, User.id == TeamMember.user_id)
            .where(TeamMember.team_id == team.id, TeamMember.user_id == subject)
        )).first()
        if found is None or not roles.at_least(found[0].role, needed):
            return replace(principal, revoked=True, member_user_id=link.member_user_id)
        member, active = found
        capped = member.spend_cap is not None
        return replace(
            principal,
            member_user_id=link.member_user_id,
            active=principal.active and bool(active),
            cap_id=member.id if capped else None,
            cap_limit=min(member.spend_cap, MAX_NANOS) if capped else None,
            cap_period=member.cap_period if capped else None,
        )


async def check_allowance(session: AsyncSession, book: PlanBook, caller: Principal, team: Team) -> None:
    """The team's plan (its account's: POST /plans/assign with the account id) bounds its keys."""
    plan_id, ends_at = await current_assignment(session, team.account_id)
    plan = book.effective(replace(caller, plan_id=plan_id, plan_ends_at=ends_at))
    await check_key_allowance(session, team.account_id, plan.max_keys)


def check_scopes(scopes: list[str]) -> None:
    if set(scopes) - set(TEAM_KEY_SCOPES):
        raise InvalidRequest("A team key has the 'inference' scope only.", param="scopes", code="team_key_scope")


def team_key_out(key: ApiKey, link: TeamKey) -> TeamKeyOut:
    return TeamKeyOut(**accounts.key_out(key).model_dump(), team_id=link.team_id, member_user_id=link.member_user_id,
                      created_by=link.created_by)


async def create(session: AsyncSession, secret: bytes, team: Team, caller: TeamMember, body: TeamKeyCreate, *,
                 default_environment: str, rights: Rights | None) -> tuple[ApiKey, TeamKey, str]:
    if body.owner == "team":
        roles.require(caller.role, "admin", "create the team's own keys")
    else:
        roles.require(caller.role, "member", "hold team keys (spend from the pool)")
    if body.scopes is not None:
        check_scopes(body.scopes)
    account = await session.get(User, team.account_id)
    assert account is not None
    spec = KeyCreate(**{**body.model_dump(exclude={"owner"}, exclude_unset=True), "scopes": TEAM_KEY_SCOPES})
    key, plaintext = await accounts.create_key(session, secret, account, spec,
                                               default_environment=default_environment, caller=rights)
    link = TeamKey(key_id=key.id, team_id=team.id, created_by=caller.user_id,
                   member_user_id=caller.user_id if body.owner == "member" else None)
    session.add(link)
    await session.flush()
    return key, link, plaintext


async def listed(session: AsyncSession, team: Team, *, include_revoked: bool) -> list[tuple[ApiKey, TeamKey]]:
    query = (select(ApiKey, TeamKey).join(TeamKey, TeamKey.key_id == ApiKey.id)
             .where(TeamKey.team_id == team.id, ApiKey.user_id == team.account_id))
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return [(k, t) for k, t in (await session.execute(query.order_by(ApiKey.id))).all()]


async def owners(session: AsyncSession, team: Team) -> dict[int, int | None]:
    """Every key the team ever had -> the member whose key it is (None: the team's own)."""
    rows = await session.execute(select(TeamKey.key_id, TeamKey.member_user_id).where(TeamKey.team_id == team.id))
    return {int(k): m for k, m in rows.all()}


async def of_team(session: AsyncSession, team: Team, key_id: int) -> tuple[ApiKey, TeamKey]:
    """One of the team's keys (any member may see it); another team's or a personal key is a 404."""
    row = (await session.execute(
        select(ApiKey, TeamKey).join(TeamKey, TeamKey.key_id == ApiKey.id)
        .where(ApiKey.id == key_id, TeamKey.team_id == team.id, ApiKey.user_id == team.account_id)
    )).first()
    if row is None:
        raise NotFound(f"No team API key with id {key_id}.", param="key_id")
    return row[0], row[1]


async def managed(session: AsyncSession, team: Team, caller: TeamMember, key_id: int) -> tuple[ApiKey, TeamKey]:
    """A team key the caller may change: their own (member and above), any (admin and above).
    A key of another team, or another member's for a member, is a 404."""
    key, link = await of_team(session, team, key_id)
    mine = link.member_user_id == caller.user_id
    if not (roles.at_least(caller.role, "admin") or (mine and roles.at_least(caller.role, "member"))):
        raise NotFound(f"No team API key with id {key_id}.", param="key_id")
    return key, link
