"""Team roles: each includes the one below it (viewer < member < admin < owner).

viewer reads (the team, members, balance, ledger, usage, keys); member also spends (keeps team keys
of their own, billed to the pool, under their cap); admin manages members, invitations, caps and
every team key; owner everything, the team's deletion and other owners included.
"""

from __future__ import annotations

from typing import Literal

from gatewayz.errors import PermissionDenied

TeamRole = Literal["owner", "admin", "member", "viewer"]
RANK: dict[str, int] = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}
ROLES = tuple(RANK)


def at_least(role: str, needed: str) -> bool:
    return RANK.get(role, -1) >= RANK[needed]


def require(role: str, needed: str, doing: str) -> None:
    if not at_least(role, needed):
        raise PermissionDenied(f"Your team role ({role}) cannot {doing}; it needs {needed} or above.",
                               code="team_role_insufficient")


def can_invite(inviter_role: str, role: str) -> bool:
    """Whether a member of `inviter_role` may (still) admit someone as `role`."""
    return at_least(inviter_role, "admin") and RANK[role] <= RANK[inviter_role] and \
        (role != "owner" or inviter_role == "owner")


def may_grant(caller_role: str, role: str) -> None:
    """Nobody gives a role above their own; only an owner makes owners."""
    if RANK[role] > RANK[caller_role] or (role == "owner" and caller_role != "owner"):
        raise PermissionDenied(f"Your team role ({caller_role}) cannot give the role {role}.",
                               param="role", code="team_role_not_grantable")
