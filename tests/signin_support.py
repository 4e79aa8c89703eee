"""A gateway configured for sign-in (Privy through a loopback JWKS server, a loopback OpenID
provider, plain-HTTP cookies, small brute-force limits), and clients that each come from their own
client IP (X-Forwarded-For through a trusted loopback proxy) so the per-IP limits of one test never
touch another's."""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.conftest import settings_from_env
from tests.signin_fakes import FakeOidc, JwksServer, SigningKey
from tests.support.servers import ThreadedGateway

PRIVY_APP_ID = "app-" + secrets.token_hex(6)
FAILURES_PER_ACCOUNT = 5
FAILURES_PER_IP = 12


@contextmanager
def signin_gateway(base_env: dict[str, str], jwks: JwksServer | None = None, oidc: FakeOidc | None = None,
                   **overrides: Any) -> Iterator[ThreadedGateway]:
    values: dict[str, Any] = {
        "environment": "dev",
        "trusted_proxies": ["127.0.0.1/32"],
        "session_cookie_secure": False,
        "signin_failures_per_account": FAILURES_PER_ACCOUNT,
        "signin_failures_per_ip": FAILURES_PER_IP,
        "signin_redirect_url": "/dashboard",
    }
    if jwks is not None:
        values.update(privy_app_id=PRIVY_APP_ID, privy_jwks_url=jwks.jwks_url)
    if oidc is not None:
        values["oidc_providers"] = {"fake": {"issuer": oidc.issuer, "client_id": oidc.client_id,
                                             "client_secret": oidc.client_secret, "algorithms": ["RS256"]}}
    values.update(overrides)
    server = ThreadedGateway(settings_from_env(base_env, **values)).start()
    try:
        yield server
    finally:
        server.stop()


def new_ip() -> str:
    return f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"


def client(gateway: ThreadedGateway, *, ip: str | None = None, **options: Any) -> httpx.Client:
    headers = {"x-forwarded-for": ip or new_ip(), **options.pop("headers", {})}
    return httpx.Client(base_url=gateway.url, headers=headers, **options)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def new_email() -> str:
    return f"signin-{secrets.token_hex(5)}@example.com"


def privy_fixtures(key: SigningKey) -> tuple[Any, Any]:
    """A module's `jwks` (a loopback JWKS server publishing `key`) and `gw` (a sign-in gateway
    verifying Privy tokens against it) fixtures: `jwks, gw = privy_fixtures(KEY)`."""

    @pytest.fixture(scope="module", name="jwks")
    def jwks_fixture() -> Iterator[JwksServer]:
        with JwksServer(key) as server:
            yield server

    @pytest.fixture(scope="module", name="gw")
    def gw_fixture(base_env: dict[str, str], jwks: JwksServer, gateway: ThreadedGateway) -> Iterator[ThreadedGateway]:
        with signin_gateway(base_env, jwks=jwks) as server:
            yield server

    return jwks_fixture, gw_fixture
