"""Stripe for the tests: localstripe on loopback, signed webhook events, a gateway configured for both.

`LocalStripe` runs tests/support/localstripe_server.py in a child process (one per test process:
pytest-xdist workers each start their own). `post_event` signs an event the way Stripe does
(`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<payload>" with the webhook secret>`)
for what localstripe cannot send.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.servers import ThreadedGateway

STRIPE_SECRET_KEY = "sk_test_" + secrets.token_hex(12)
WEBHOOK_SECRET = "whsec_" + secrets.token_hex(16)
ROOT = Path(__file__).resolve().parents[2]


class LocalStripe:
    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 20.0) -> LocalStripe:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.support.localstripe_server"], cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.process.stdout is not None
        port = self.process.stdout.readline().strip()
        if not port.isdigit():
            self.stop()
            raise RuntimeError("localstripe did not start")
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.get("/v1/balance").status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("localstripe did not answer")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(self.url + path, params=params, auth=(STRIPE_SECRET_KEY, ""), timeout=10)

    def post(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.post(self.url + path, data=data or {}, auth=(STRIPE_SECRET_KEY, ""), timeout=10)

    def register_webhook(self, name: str, url: str, secret: str = WEBHOOK_SECRET) -> None:
        response = httpx.post(f"{self.url}/_config/webhooks/{name}", data={"url": url, "secret": secret}, timeout=10)
        assert response.status_code == 200, response.text

    def pay_intent(self, intent_id: str, card: str = "4242424242424242") -> dict[str, Any]:
        """The customer's side of a PaymentIntent (what Stripe.js does): a card, then confirm."""
        method = self.post("/v1/payment_methods", {"type": "card", "card[number]": card, "card[exp_month]": "12",
                                                   "card[exp_year]": "2040", "card[cvc]": "123"})
        assert method.status_code == 200, method.text
        updated = self.post(f"/v1/payment_intents/{intent_id}", {"payment_method": method.json()["id"]})
        assert updated.status_code == 200, updated.text
        confirmed = self.post(f"/v1/payment_intents/{intent_id}/confirm")
        assert confirmed.status_code == 200, confirmed.text
        return confirmed.json()  # type: ignore[no-any-return]

    def pay_checkout(self, session_id: str) -> dict[str, Any]:
        """The customer paying a Checkout session (tests/support/localstripe_server.py)."""
        paid = httpx.post(f"{self.url}/_config/checkout/sessions/{session_id}/pay", timeout=10)
        assert paid.status_code == 200, paid.text
        return paid.json()  # type: ignore[no-any-return]


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def event(type_: str, obj: dict[str, Any], *, event_id: str | None = None,
          created: int | None = None) -> dict[str, Any]:
    """A Stripe event as the API sends it (the fields our webhook reads, and the usual others)."""
    return {"id": event_id or "evt_" + secrets.token_hex(12), "object": "event", "api_version": "2026-10-28.endive",
            "created": int(time.time()) if created is None else created, "livemode": False, "pending_webhooks": 1,
            "type": type_, "data": {"object": obj}}


def post_event(client: httpx.Client, body: dict[str, Any] | bytes, *, secret: str = WEBHOOK_SECRET,
               timestamp: int | None = None, signature: str | None = None) -> httpx.Response:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    header = signature if signature is not None else sign(payload, secret, timestamp)
    return client.post("/api/stripe/webhook", content=payload,
                       headers={"stripe-signature": header, "content-type": "application/json"})


def stripe_settings(localstripe: LocalStripe) -> dict[str, Any]:
    return {"stripe_secret_key": STRIPE_SECRET_KEY, "stripe_webhook_secret": WEBHOOK_SECRET,
            "stripe_api_base": localstripe.url, "public_url": "http://127.0.0.1"}


@contextmanager
def stripe_gateway(base_env: dict[str, str], localstripe: LocalStripe, **overrides: Any) -> Iterator[ThreadedGateway]:
    """A gateway on the session database that talks to `localstripe`, whose webhooks it receives."""
    from tests.conftest import settings_from_env

    server = ThreadedGateway(settings_from_env(base_env, **{**stripe_settings(localstripe), **overrides})).start()
    localstripe.register_webhook(f"gw{server.port}", f"{server.url}/api/stripe/webhook")
    try:
        yield server
    finally:
        server.stop()


def wait_for(check: Any, timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll `check()` until it returns something truthy (localstripe sends webhooks after a second)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def on(server: ThreadedGateway, user: Any) -> httpx.Client:
    """A client of `user` (a GwUser) against another gateway of the same database."""
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {user.key}"}, timeout=30)


def intent_succeeded(purchase: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The `payment_intent.succeeded` event of a purchase made with POST /api/stripe/payment-intent."""
    obj = {"id": purchase["payment_intent_id"], "object": "payment_intent", "amount": purchase["amount_cents"],
           "amount_received": purchase["amount_cents"], "currency": "usd", "status": "succeeded",
           "metadata": {"gatewayz_payment_id": str(purchase["payment_id"])}, **changes}
    return event("payment_intent.succeeded", obj)


def buy(client: httpx.Client, localstripe: LocalStripe, **body: Any) -> dict[str, Any]:
    """A paid purchase: a payment intent through the gateway, paid on localstripe, and its signed
    `payment_intent.succeeded` posted at once (localstripe's own copy arrives a second later, a no-op)."""
    created = client.post("/api/stripe/payment-intent", json=body or {"package": "starter"})
    assert created.status_code == 201, created.text
    purchase: dict[str, Any] = created.json()
    localstripe.pay_intent(purchase["payment_intent_id"])
    assert post_event(client, intent_succeeded(purchase)).status_code == 200
    return purchase
