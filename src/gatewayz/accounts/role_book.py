"""Every role's resolved permissions, in memory: a permission check is a dict lookup, never a
database read. Reloaded at start and whenever a role changes anywhere (accounts/cache.py carries
the signal between processes the way it carries key revocations)."""

from __future__ import annotations

from dataclasses import replace

import structlog
from sqlalchemy import select

from gatewayz.accounts.permissions import BUILTIN_DEFS, FIXED_ROLES, RoleDef, resolve_all
from gatewayz.accounts.tables import Role
from gatewayz.storage.db import Database
from gatewayz.storage.reloading import SignalledReload

log = structlog.get_logger("gatewayz.accounts.roles")


def role_def(row: Role) -> RoleDef:
    return RoleDef(row.name, row.description or "", frozenset(row.permissions or ()), tuple(row.inherits or ()),
                   builtin=row.name in BUILTIN_DEFS)


def definitions(rows: list[Role]) -> dict[str, RoleDef]:
    """The built-ins, overlaid with the stored rows: a stored `support` is its changed version; of
    `admin` and `user`, only a changed description is kept."""
    defs = dict(BUILTIN_DEFS)
    for row in rows:
        if row.name in FIXED_ROLES:
            defs[row.name] = replace(defs[row.name], description=row.description or defs[row.name].description)
        else:
            defs[row.name] = role_def(row)
    return defs


class RoleBook(SignalledReload):
    reload_name = "roles"

    def __init__(self, db: Database) -> None:
        self.db = db
        self.defs: dict[str, RoleDef] = dict(BUILTIN_DEFS)
        self.resolved: dict[str, frozenset[str]] = resolve_all(self.defs)
        self._memo: dict[frozenset[str], frozenset[str]] = {}
        super().__init__()

    def permissions(self, roles: frozenset[str]) -> frozenset[str]:
        """The union of the roles' permissions (a role that no longer exists grants nothing)."""
        held = self._memo.get(roles)
        if held is None:
            held = frozenset().union(*(self.resolved.get(name, frozenset()) for name in roles))
            self._memo[roles] = held
        return held

    def apply(self, rows: list[Role]) -> None:
        defs = definitions(rows)
        try:
            resolved = resolve_all(defs)
        except Exception as exc:  # the writes refuse cycles; a hand-edited table must not stop the gateway
            log.error("roles_unresolvable", error=str(exc))
            return
        self.defs, self.resolved, self._memo = defs, resolved, {}

    async def reload(self) -> None:
        async with self.db.session() as session:
            rows = list((await session.execute(select(Role))).scalars().all())
        self.apply(rows)
