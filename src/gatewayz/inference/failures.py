"""What the client sees when no provider produced an answer."""

from __future__ import annotations

from gatewayz.errors import GatewayError
from gatewayz.providers.upstream import UpstreamFailure

CLIENT_FAULT_STATUSES = frozenset({400, 413, 422})


class NoRoute(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


def client_fault(failure: UpstreamFailure) -> GatewayError:
    """The provider refused the request itself: its own validation message, as a 400."""
    return GatewayError(
        failure.message,
        status=400,
        type="invalid_request_error",
        code=failure.upstream_type or "upstream_invalid_request",
    )


def final_error(model: str, failure: UpstreamFailure | None) -> GatewayError:
    if failure is None:
        return NoRoute(f"The model '{model}' does not exist or no configured provider serves it.", param="model")
    provider = failure.provider
    if failure.kind == "unsupported":
        return GatewayError(
            failure.message, status=400, type="invalid_request_error", param=None, code="unsupported_by_provider"
        )
    if failure.kind == "timeout":
        return GatewayError(
            f"Upstream provider {provider} timed out.", status=504, type="server_error", code="upstream_timeout"
        )
    if failure.kind == "redirect":
        return GatewayError(
            f"Upstream provider {provider} answered with a redirect ({failure.status}); the gateway does not follow "
            "redirects to providers, the operator must fix its base URL.",
            status=502,
            type="server_error",
            code="upstream_error",
        )
    if failure.kind in ("connect", "protocol"):
        return GatewayError(
            f"Upstream provider {provider} failed: {failure.message}",
            status=502,
            type="server_error",
            code="upstream_error",
        )
    status = failure.status or 502
    if status == 429:
        headers = {}
        if failure.retry_after is not None:
            headers = {
                "retry-after": str(max(1, round(failure.retry_after))),
                "retry-after-ms": str(int(failure.retry_after * 1000)),
            }
        return GatewayError(
            f"Upstream provider {provider} is rate limiting requests: {failure.message}",
            status=429,
            type="rate_limit_error",
            code="upstream_rate_limited",
            headers=headers,
        )
    if status in (401, 403):
        return GatewayError(
            f"Upstream provider {provider} rejected the gateway's credentials; the operator must fix its API key.",
            status=502,
            type="server_error",
            code="upstream_auth_failed",
        )
    if status == 404:
        return NoRoute(f"The model '{model}' was not found at {provider}: {failure.message}", param="model")
    if status in CLIENT_FAULT_STATUSES:
        return client_fault(failure)
    return GatewayError(
        f"Upstream provider {provider} returned an error ({status}): {failure.message}",
        status=502,
        type="server_error",
        code="upstream_error",
    )
