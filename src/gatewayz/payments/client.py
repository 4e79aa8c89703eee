"""The Stripe API client: the official `stripe` library over aiohttp (no blocking I/O in the event loop).

One per process (Services.stripe), created on first use. GATEWAYZ_STRIPE_API_BASE points it at
another API base (localstripe in the tests). Stripe's failures become a 502 in our error shape; a
gateway without GATEWAYZ_STRIPE_SECRET_KEY answers 404 `payments_not_configured` to anything that
needs Stripe (as sign-in methods that are not configured do).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from gatewayz.errors import GatewayError, NotFound
from gatewayz.settings import Settings

if TYPE_CHECKING:
    import stripe  # imported on first use: it takes a noticeable part of the start-up otherwise

log = structlog.get_logger("gatewayz.payments")


class PaymentProviderError(GatewayError):
    status = 502
    type = "api_error"
    code = "payment_provider_error"

    @property
    def outcome_unknown(self) -> bool:
        """Stripe could not be reached or did not answer: the request may have been carried out."""
        import stripe

        return isinstance(self.__cause__, stripe.APIConnectionError)


class StripeApi:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._http: stripe.AIOHTTPClient | None = None
        self._client: stripe.StripeClient | None = None

    @property
    def configured(self) -> bool:
        return self.settings.stripe_secret_key is not None

    @property
    def client(self) -> stripe.StripeClient:
        if self._client is None:
            key = self.settings.stripe_secret_key
            if key is None:
                raise NotFound("Payments are not configured on this gateway (GATEWAYZ_STRIPE_SECRET_KEY).",
                               code="payments_not_configured")
            import stripe

            self._http = stripe.AIOHTTPClient(timeout=self.settings.stripe_timeout_seconds)
            base = {"api": self.settings.stripe_api_base.rstrip("/")} if self.settings.stripe_api_base else None
            self._client = stripe.StripeClient(key.get_secret_value(), base_addresses=base,  # type: ignore[arg-type]
                                               http_client=self._http, max_network_retries=2)
        return self._client

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close_async()
            self._http = self._client = None

    async def call(self, what: str, operation: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Run one `*_async` method of the client: its answer as a plain dict; Stripe's errors become a
        PaymentProviderError."""
        import stripe

        try:
            result = await operation(*args, **kwargs)
            return result.to_dict() if hasattr(result, "to_dict") else result
        except stripe.StripeError as exc:
            log.warning("stripe_error", what=what, status=exc.http_status, code=exc.code,
                        message=exc.user_message or str(exc)[:300])
            message = exc.user_message or "The payment provider refused the request."
            raise PaymentProviderError(f"Stripe could not {what}: {message}", code=exc.code or None) from exc

    async def create_checkout_session(self, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return await self.call("create the checkout session", self.client.v1.checkout.sessions.create_async,
                               params=params, options={"idempotency_key": idempotency_key})

    async def create_payment_intent(self, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return await self.call("create the payment intent", self.client.v1.payment_intents.create_async,
                               params=params, options={"idempotency_key": idempotency_key})

    async def cancel_payment_intent(self, intent_id: str) -> dict[str, Any]:
        return await self.call("cancel the payment intent", self.client.v1.payment_intents.cancel_async, intent_id)

    async def expire_checkout_session(self, session_id: str) -> dict[str, Any]:
        return await self.call("expire the checkout session", self.client.v1.checkout.sessions.expire_async,
                               session_id)

    async def create_refund(self, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return await self.call("refund the payment", self.client.v1.refunds.create_async,
                               params=params, options={"idempotency_key": idempotency_key})
