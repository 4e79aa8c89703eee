"""Run localstripe (a fake of the Stripe API, from PyPI) as a real HTTP server on loopback.

`python -m tests.support.localstripe_server` binds 127.0.0.1 on a free port, prints the port on
its first line and serves until killed. localstripe itself listens on every interface and saves
its objects to one fixed file in /tmp after every change; here it keeps them in memory only, so
several test processes (pytest-xdist workers) each run their own without sharing anything.

localstripe has no Checkout: a minimal `checkout.session` (payment mode: line items with
`price_data`, metadata, `payment_intent_data.metadata`) is added here, with one test-only route that
plays the customer paying it, `POST /_config/checkout/sessions/{id}/pay`: it creates and confirms a
card PaymentIntent with localstripe (which sends `payment_intent.succeeded`) and sends
`checkout.session.completed`, both signed to the registered webhooks, as Stripe does.
"""

from __future__ import annotations

import socket
import sys
from typing import Any


def _checkout_session_class(resources: Any) -> Any:
    from localstripe.errors import UserError

    class CheckoutSession(resources.StripeObject):  # type: ignore[misc,name-defined]
        object = "checkout.session"
        _id_prefix = "cs_test_"

        def __init__(self, mode: Any = None, line_items: Any = None, success_url: Any = None,
                     cancel_url: Any = None, metadata: Any = None, client_reference_id: Any = None,
                     payment_intent_data: Any = None, customer: Any = None, customer_email: Any = None,
                     subscription_data: Any = None, **kwargs: Any) -> None:
            if kwargs:
                raise UserError(400, "Unexpected " + ", ".join(kwargs))
            items = list(line_items.values()) if isinstance(line_items, dict) else line_items
            try:
                assert mode in ("payment", "subscription")
                assert mode == "subscription" or subscription_data is None
                assert isinstance(success_url, str) and isinstance(cancel_url, str)
                assert isinstance(items, list) and items
                total, currency = 0, None
                for item in items:
                    if mode == "subscription" and isinstance(item.get("price"), str):
                        continue  # a price of the account (not checked here)
                    data = item["price_data"]
                    if mode == "subscription":
                        assert data["recurring"]["interval"] in ("day", "week", "month", "year")
                    amount = resources.try_convert_to_int(data["unit_amount"])
                    quantity = resources.try_convert_to_int(item.get("quantity", 1))
                    assert isinstance(amount, int) and amount > 0 and isinstance(quantity, int) and quantity > 0
                    assert isinstance(data["product_data"]["name"], str)
                    currency = data["currency"]
                    total += amount * quantity
            except (AssertionError, KeyError, TypeError) as exc:
                raise UserError(400, "Bad request") from exc
            super().__init__()
            self.mode = mode
            self.amount_subtotal = self.amount_total = total
            self.currency = currency
            self.line_items_data = items
            self.success_url, self.cancel_url = success_url, cancel_url
            self.metadata = metadata or {}
            self.client_reference_id = client_reference_id
            self.customer = customer
            self.customer_email = customer_email
            self.payment_status, self.status = "unpaid", "open"
            self.payment_intent = None
            self.subscription_data = subscription_data
            self.url = f"http://127.0.0.1/checkout/{self.id}"  # a page nobody opens: tests pay through /_config
            self._intent_metadata = (payment_intent_data or {}).get("metadata") or {}

        def _pay(self) -> Any:
            if self.status != "open" or self.mode != "payment":  # subscriptions: tests sign their events
                raise UserError(400, "Bad request")
            method = resources.PaymentMethod(type="card", card={
                "number": "4242424242424242", "exp_month": "12", "exp_year": "2040", "cvc": "123"})
            intent = resources.PaymentIntent(amount=self.amount_total, currency=self.currency,
                                             metadata=dict(self._intent_metadata), payment_method=method.id)
            intent._confirm(on_failure_now=intent._report_failure)
            self.payment_intent = intent.id
            self.payment_status, self.status = "paid", "complete"
            resources.schedule_webhook(resources.Event("checkout.session.completed", self))
            return self

    return CheckoutSession


def _subscription_updates(resources: Any) -> None:
    """localstripe's subscription update knows the legacy `items[][plan]` only: take a `price` for
    it (a plan id is a price id), and accept `proration_behavior` and `payment_behavior` (it
    prorates, and applies the change at once, as Stripe does once the proration is paid)."""
    update = resources.Subscription._update

    def _update(self: Any, items: Any = None, proration_behavior: Any = None, payment_behavior: Any = None,
                **data: Any) -> Any:
        if proration_behavior not in (None, "create_prorations", "always_invoice", "none") or payment_behavior \
                not in (None, "allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete"):
            raise resources.UserError(400, "Bad request")
        if isinstance(items, list):
            items = [{**({"plan": i["price"]} if "price" in i else {}), **{k: v for k, v in i.items() if k != "price"}}
                     for i in items]
        return update(self, items=items, **data)

    resources.Subscription._update = _update


def main() -> None:
    from aiohttp import web
    from localstripe import resources, server

    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    _subscription_updates(resources)
    resources.Store.try_load_from_disk = lambda self: None  # type: ignore[method-assign]
    session_class = _checkout_session_class(resources)

    async def pay(request: web.Request) -> web.Response:
        found = session_class._api_retrieve(request.match_info["id"])
        return server.json_response(found._pay()._export())

    async def portal(request: web.Request) -> web.Response:
        """Stripe's customer portal session (not in localstripe): its customer and a link."""
        form = await request.post()
        customer = form.get("customer")
        if not isinstance(customer, str) or not customer.startswith("cus_"):
            return server.json_response({"error": {"message": "customer required", "type": "invalid_request_error"}},
                                        status=400)
        resources.Customer._api_retrieve(customer)  # 404 if it does not exist
        return server.json_response({"id": "bps_" + customer[4:], "object": "billing_portal.session",
                                     "customer": customer, "return_url": form.get("return_url"),
                                     "url": f"https://billing.invalid/session/{customer}"})

    server.app.router.add_post("/v1/billing_portal/sessions", portal)
    server.app.router.add_post("/_config/checkout/sessions/{id}/pay", pay)
    server.app.router.add_post("/v1/checkout/sessions", server.api_create(session_class, "/v1/checkout/sessions"))
    server.app.router.add_get("/v1/checkout/sessions/{id}",
                              server.api_retrieve(session_class, "/v1/checkout/sessions/{id}"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    web.run_app(server.app, sock=sock, print=None, access_log=None)


if __name__ == "__main__":
    sys.exit(main())
