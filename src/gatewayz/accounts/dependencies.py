"""FastAPI dependencies that authenticate a request and require a scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from gatewayz.accounts.auth import extract_key
from gatewayz.accounts.principal import Principal
from gatewayz.errors import GatewayError, PermissionDenied
from gatewayz.services import services


def require_scope(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        principal = await services(request).auth.authenticate(request, scope)
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{scope}"
    return dependency


async def require_admin(request: Request) -> Principal:
    """The `admin` scope, an admin owner, and a live key: a sandbox key never administers (nor
    grants credits), whatever its scopes."""
    svc = services(request)
    principal = await svc.auth.authenticate(request, "admin")
    for refused, message, code in (
        (principal.is_sandbox, "Sandbox (test) keys cannot use admin endpoints.", "sandbox_key"),
        (not principal.is_admin, "Admin role required.", "admin_required"),
    ):
        if refused:
            svc.auth.refuse(
                request, svc.auth.client_ip(request), None, principal, PermissionDenied(message, code=code),
                "sandbox_admin" if code == "sandbox_key" else "not_admin",
            )
    request.state.principal = principal
    return principal


async def is_admin_request(request: Request) -> bool:
    """Whether the caller presented an admin key (answers then carry error details); never raises."""
    if extract_key(request) is None:
        return False
    try:
        await require_admin(request)
    except GatewayError:
        return False
    return True
