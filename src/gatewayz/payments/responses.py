"""The error answers of the payment, coupon and referral routes, for the OpenAPI document
(http/openapi.py adds the usual ones: 400, 401, 403, 413, 415, 429)."""

from __future__ import annotations

from typing import Any

TEXT = {
    404: "Not found, or payments are not configured on this gateway (`payments_not_configured`)",
    409: "Conflict with the current state (a code taken, a referrer already set)",
    502: "Stripe refused the request or could not be reached (`payment_provider_error`)",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"description": TEXT[status],
                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            for status in statuses}
