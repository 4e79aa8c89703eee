"""FastAPI dependencies that authenticate a request and require a scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from gatewayz.accounts.principal import Principal
from gatewayz.errors import PermissionDenied
from gatewayz.services import services


def require_scope(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        principal = await services(request).auth.authenticate(request, scope)
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{scope}"
    return dependency


async def require_admin(request: Request) -> Principal:
    svc = services(request)
    principal = await svc.auth.authenticate(request, "admin")
    if principal.is_sandbox:  # a sandbox key never administers (nor grants credits), whatever its scopes
        svc.auth.refuse(
            request,
            svc.auth.client_ip(request),
            None,
            principal,
            PermissionDenied("Sandbox (test) keys cannot use admin endpoints.", code="sandbox_key"),
            "sandbox_admin",
        )
    if not principal.is_admin:
        svc.auth.refuse(
            request,
            svc.auth.client_ip(request),
            None,
            principal,
            PermissionDenied("Admin role required.", code="admin_required"),
            "not_admin",
        )
    request.state.principal = principal
    return principal
