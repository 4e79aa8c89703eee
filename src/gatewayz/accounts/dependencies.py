"""FastAPI dependencies that authenticate a request and require a scope or a permission."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from gatewayz.accounts.auth import extract_key
from gatewayz.accounts.permissions import ALL
from gatewayz.accounts.principal import Principal
from gatewayz.errors import GatewayError, PermissionDenied
from gatewayz.services import services

PermissionCheck = Callable[[Request], Awaitable[Principal]]


def require_scope(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        principal = await services(request).auth.authenticate(request, scope)
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{scope}"
    return dependency


def held_permissions(request: Request, principal: Principal) -> frozenset[str]:
    """What the caller's roles allow, from the in-memory role book (no database read)."""
    return services(request).roles.permissions(principal.roles)


def require_permission(*needed: str) -> PermissionCheck:
    """An admin route: the key's `admin` scope, a live (not sandbox) key, and an owner whose roles
    hold one of `needed`. The names stay on the dependency (`gw_permissions`) so that a test can
    prove every admin route declares one."""
    unknown = set(needed) - ALL
    if not needed or unknown:
        raise ValueError(f"require_permission needs known permissions, not {sorted(unknown) or 'none'}")

    async def dependency(request: Request) -> Principal:
        svc = services(request)
        principal = await svc.auth.authenticate(request, "admin")
        if principal.is_sandbox:
            svc.auth.refuse(
                request, svc.auth.client_ip(request), None, principal,
                PermissionDenied("Sandbox (test) keys cannot use admin endpoints.", code="sandbox_key"),
                "sandbox_admin",
            )
        held = svc.roles.permissions(principal.roles)
        if not any(name in held for name in needed):
            svc.auth.refuse(
                request, svc.auth.client_ip(request), None, principal,
                PermissionDenied(f"This needs the '{' or '.join(needed)}' permission.", code="missing_permission"),
                "missing_permission",
            )
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{'_or_'.join(needed).replace('.', '_')}"
    dependency.gw_permissions = needed  # type: ignore[attr-defined]
    return dependency


_may_see_details = require_permission("health.read")


async def is_admin_request(request: Request) -> bool:
    """Whether the caller may see details (error texts, internal figures) in a public answer
    (`health.read`); never raises."""
    if extract_key(request) is None:
        return False
    try:
        await _may_see_details(request)
    except GatewayError:
        return False
    return True
