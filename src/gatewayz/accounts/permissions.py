"""Permissions (named capabilities), the built-in roles, and role hierarchies.

Every admin route declares the permission it needs (accounts/dependencies.py `require_permission`);
this module is the one list of them. Some (marked reserved) are for features still to come:
roles can already hold them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gatewayz.errors import InvalidRequest

PERMISSIONS: dict[str, str] = {
    "users.read": "List and read users and their roles (GET /admin/users...)",
    "users.write": "Create users, rename, (de)activate them (POST/PATCH /admin/users)",
    "credits.grant": "Grant or deduct any amount of credits (POST /admin/credits)",
    "credits.grant_small": "Grant credits up to GATEWAYZ_SUPPORT_MAX_CREDIT_GRANT_USD per grant",
    "credits.refund": "Refund usage charges (POST /admin/refunds)",
    "limits.write": "Set a user's rate limits (PUT /admin/users/{id}/rate-limits)",
    "audit.read": "Read security events and the audit trail (GET /admin/security-events)",
    "health.read": "See component errors and figures in /health/ready and provider sync errors",
    "roles.read": "List roles and permissions (GET /admin/roles, /admin/permissions)",
    "roles.write": "Create, change and delete roles (POST/PATCH/DELETE /admin/roles)",
    "roles.assign": "Set a user's roles (PUT /admin/users/{id}/roles)",
    "keys.manage_any": "Manage any user's API keys (reserved)",
    "plans.read": "List and read every plan, custom ones included (GET /admin/plans)",
    "plans.write": "Create, change and delete plans; assign users to plans (/admin/plans, POST /plans/assign)",
    "coupons.read": "List coupons and their analytics (GET /admin/coupons...)",
    "coupons.write": "Create, change and disable coupons (POST/PATCH/DELETE /admin/coupons)",
    "payments.refund": "Refund Stripe payments and take their credits back (POST /api/stripe/refund)",
    "analytics.read": "Read gateway-wide analytics (GET /admin/referrals/analytics)",
    "providers.manage": "Configure providers and models (reserved)",
    "compliance.read": "Read compliance reports (GET /admin/compliance/report)",
    "users.erase": "Erase a user's personal data (DELETE /admin/users/{id})",
}
ALL = frozenset(PERMISSIONS)
ADMIN, SUPPORT, USER = "admin", "support", "user"
BUILTIN_ROLES = (ADMIN, SUPPORT, USER)
MAX_ROLES = 1000
MAX_INHERITS = 16
ROLE_NAME_PATTERN = r"^[a-z][a-z0-9_.-]{1,63}$"


@dataclass(frozen=True, slots=True)
class RoleDef:
    name: str
    description: str
    permissions: frozenset[str]
    inherits: tuple[str, ...] = ()
    builtin: bool = False


BUILTIN_DEFS: dict[str, RoleDef] = {
    ADMIN: RoleDef(ADMIN, "Every permission, present and future", ALL, builtin=True),
    SUPPORT: RoleDef(
        SUPPORT, "Reads everything; grants small credits",
        frozenset({p for p in PERMISSIONS if p.endswith(".read")} | {"credits.grant_small"}), builtin=True,
    ),
    USER: RoleDef(USER, "Every user: no admin permission", frozenset(), builtin=True),
}
FIXED_ROLES = frozenset({ADMIN, USER})  # their permissions never change; support's may (never emptied)


def check_known(permissions: Iterable[str]) -> None:
    unknown = sorted(set(permissions) - ALL)
    if unknown:
        raise InvalidRequest(f"Unknown permission(s): {', '.join(unknown)}.", param="permissions",
                             code="unknown_permission")


def resolve_all(roles: Mapping[str, RoleDef]) -> dict[str, frozenset[str]]:
    """Every role's permissions, its inherited roles' included. Refuses a cycle (400) and an
    inherited role that does not exist."""
    resolved: dict[str, frozenset[str]] = {}

    def visit(name: str, path: tuple[str, ...]) -> frozenset[str]:
        if name in resolved:
            return resolved[name]
        if name in path:
            cycle = " -> ".join((*path[path.index(name):], name))
            raise InvalidRequest(f"Roles cannot inherit in a cycle: {cycle}.", param="inherits", code="role_cycle")
        role = roles.get(name)
        if role is None:
            raise InvalidRequest(f"No role named {name!r} to inherit.", param="inherits", code="unknown_role")
        held = set(role.permissions)
        for parent in role.inherits:
            held |= visit(parent, (*path, name))
        resolved[name] = frozenset(ALL if name == ADMIN else held)
        return resolved[name]

    for name in roles:
        visit(name, ())
    return resolved
