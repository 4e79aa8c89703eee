"""Session-wide fixtures: a real database (SQLite or PostgreSQL), Redis, and a running gateway.

GATEWAYZ_TEST_BACKEND=sqlite (default; no Redis) or postgres (PostgreSQL + Redis) selects the
storage the whole suite runs against; `.ci/run` runs the suite once with each.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from gatewayz.settings import Settings
from tests.fakeprovider import FakeProvider
from tests.support.databases import REDIS_URL, backend, session_database
from tests.support.identity import ADMIN_KEY, UPSTREAM_KEY_A, UPSTREAM_KEY_B, GwUser
from tests.support.money import assert_ledgers_balance, grant
from tests.support.payments import LocalStripe, stripe_gateway
from tests.support.servers import ThreadedGateway


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gatewayz")


@pytest.fixture(scope="session")
def database_url(tmp_root: Path) -> Iterator[str]:
    with session_database(tmp_root) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str | None:
    return REDIS_URL if backend() == "postgres" else None


@pytest.fixture(scope="session")
def base_env(database_url: str, redis_url: str | None, tmp_root: Path) -> dict[str, str]:
    """The environment a gateway under test runs with (shared by threaded and child gateways)."""
    env = {
        "DATABASE_URL": database_url,
        "GATEWAYZ_DATA_DIR": str(tmp_root / "data"),
        "GATEWAYZ_ENVIRONMENT": "live",
        "GATEWAYZ_KEY_HASH_SECRET": secrets.token_urlsafe(32),
        "GATEWAYZ_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "GATEWAYZ_ADMIN_KEY": ADMIN_KEY,
        "GATEWAYZ_ADMIN_EMAIL": "admin@example.com",
        "GATEWAYZ_REDIS_PREFIX": f"gwtest-{secrets.token_hex(4)}",
        "GATEWAYZ_AUTH_POLL_INTERVAL_SECONDS": "0.1",
        "GATEWAYZ_LOG_LEVEL": "warning",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def settings_from_env(env: dict[str, str], **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": env["DATABASE_URL"],
        "redis_url": env.get("REDIS_URL"),
        "data_dir": Path(env["GATEWAYZ_DATA_DIR"]),
        "environment": env["GATEWAYZ_ENVIRONMENT"],
        "key_hash_secret": env["GATEWAYZ_KEY_HASH_SECRET"],
        "encryption_keys": env["GATEWAYZ_ENCRYPTION_KEYS"],
        "admin_key": env["GATEWAYZ_ADMIN_KEY"],
        "admin_email": env["GATEWAYZ_ADMIN_EMAIL"],
        "redis_prefix": env["GATEWAYZ_REDIS_PREFIX"],
        "auth_poll_interval_seconds": float(env["GATEWAYZ_AUTH_POLL_INTERVAL_SECONDS"]),
        "log_level": env["GATEWAYZ_LOG_LEVEL"],
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def upstream_a() -> Iterator[FakeProvider]:
    """Fake provider behind the test providers `fakeopenai`, `fakeanthropic` and `fakegemini`."""
    with FakeProvider(api_key=UPSTREAM_KEY_A) as provider:
        yield provider


@pytest.fixture(scope="session")
def upstream_b() -> Iterator[FakeProvider]:
    """A second, independent fake: `fakebackup` (same models as `fakeopenai`) and `groq`."""
    with FakeProvider(api_key=UPSTREAM_KEY_B) as provider:
        yield provider


@pytest.fixture
def fake_a(upstream_a: FakeProvider) -> Iterator[FakeProvider]:
    upstream_a.reset()
    yield upstream_a
    upstream_a.reset()


@pytest.fixture
def fake_b(upstream_b: FakeProvider) -> Iterator[FakeProvider]:
    upstream_b.reset()
    yield upstream_b
    upstream_b.reset()


def providers_config(a: FakeProvider, b: FakeProvider) -> dict[str, dict[str, Any]]:
    """The [providers.*] config the session gateway runs with, all pointing at loopback fakes."""
    return {
        "fakeopenai": {
            "protocol": "openai",
            "base_url": a.openai_base_url,
            "api_key": UPSTREAM_KEY_A,
            "models_path": "/models",
        },
        "fakebackup": {
            "protocol": "openai",
            "base_url": b.openai_base_url,
            "api_key": UPSTREAM_KEY_B,
            "models_path": "/models",
            "pricing": {"gpt-4o-mini": {"prompt": 1.0, "completion": 2.0}},
        },
        "fakeanthropic": {
            "protocol": "anthropic",
            "base_url": a.url + "/v1",
            "api_key": UPSTREAM_KEY_A,
            "auth": "header:x-api-key",
            "extra_headers": {"anthropic-version": "2023-06-01"},
            "models": ["claude-haiku-4-5"],
        },
        "fakegemini": {
            "protocol": "gemini",
            "base_url": a.gemini_base_url,
            "api_key": UPSTREAM_KEY_A,
            "auth": "header:x-goog-api-key",
            "models": ["gemini-2.0-flash"],
        },
        "fakeslow": {
            "protocol": "openai",
            "base_url": a.openai_base_url,
            "api_key": UPSTREAM_KEY_A,
            "models": ["slow-model"],
            "pricing": {"slow-model": {"prompt": 1.0, "completion": 2.0}},
            "first_byte_timeout": 1.0,
            "max_retries": 0,
        },
        "fakepriced": {
            "protocol": "openai",
            "base_url": b.openai_base_url,
            "api_key": UPSTREAM_KEY_B,
            "models": ["priced-model"],
            "pricing": {"priced-model": {"prompt": 0, "completion": 1000}},  # $0.001 per completion token
        },
        "fakevision": {
            "protocol": "openai",
            "base_url": b.openai_base_url,
            "api_key": UPSTREAM_KEY_B,
            "models": ["vision-model"],
            # $0.0001 per token either way, and $0.25 per input image
            "pricing": {"vision-model": {"prompt": 100, "completion": 100, "image": 0.25}},
        },
        "groq": {
            "base_url": b.openai_base_url,
            "api_key": UPSTREAM_KEY_B,
            "models": ["llama-3.1-8b"],
            "pricing": {"llama-3.1-8b": {"prompt": 0.05, "completion": 0.08}},
            "models_path": None,
        },
    }


@pytest.fixture(scope="session")
def gateway(base_env: dict[str, str], upstream_a: FakeProvider, upstream_b: FakeProvider) -> Iterator[ThreadedGateway]:
    import asyncio

    from gatewayz.accounts.bootstrap import ensure_admin
    from gatewayz.storage.db import Database
    from gatewayz.storage.migrate import migrate

    settings = settings_from_env(
        base_env,
        trusted_proxies=["127.0.0.2/32"],
        providers=providers_config(upstream_a, upstream_b),
        retry_base_delay_seconds=0.01,
        retry_max_delay_seconds=0.05,
        breaker_threshold=10_000,  # breaker behaviour has its own tests; keep it out of the others
        billing_job_interval_seconds=0.3,
        history_summary_model="fakebackup/gpt-4o-mini",
    )

    async def prepare() -> None:
        db = Database(settings)
        try:
            await migrate(db.engine, settings)
            await ensure_admin(settings, db)
        finally:
            await db.close()

    asyncio.run(prepare())
    server = ThreadedGateway(settings).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def admin(gateway: ThreadedGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        me = client.get("/admin/users", params={"email": "admin@example.com"}).json()["data"][0]
        granted = client.post("/admin/credits", json={"user_id": me["id"], "amount": "100000", "reason": "tests"})
        assert granted.status_code == 201, granted.text
        yield client


@pytest.fixture(autouse=True)
def money_is_never_wrong(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test that ran against the gateway: each ledger sums to its balance."""
    yield
    if "gateway" in request.fixturenames:
        assert_ledgers_balance(request.getfixturevalue("database_url"))


@pytest.fixture
def anon(gateway: ThreadedGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url) as client:
        yield client


@pytest.fixture
def make_user(admin: httpx.Client, gateway: ThreadedGateway) -> Iterator[Any]:
    clients: list[httpx.Client] = []

    def make(role: str = "user") -> GwUser:
        email = f"user-{secrets.token_hex(5)}@example.com"
        response = admin.post("/admin/users", json={"email": email, "role": role})
        assert response.status_code == 201, response.text
        body = response.json()
        client = httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {body['api_key']['key']}"})
        clients.append(client)
        return GwUser(body["user"]["id"], email, body["api_key"]["key"], body["api_key"]["id"], client)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def funded(make_user: Any, admin: httpx.Client, fake_a: FakeProvider, fake_b: FakeProvider) -> GwUser:
    """A fresh user with $10 of credit (and both fake providers reset)."""
    person: GwUser = make_user()
    grant(admin, person.id, "10")
    return person


@pytest.fixture
def user(make_user: Any) -> GwUser:
    return make_user()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    """localstripe (a fake Stripe API) on loopback, one per test process (tests/support/payments.py)."""
    server = LocalStripe().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stripe_gw(
    base_env: dict[str, str], localstripe: LocalStripe, gateway: ThreadedGateway
) -> Iterator[ThreadedGateway]:
    """A second gateway on the session database, configured for Stripe against localstripe (whose
    webhooks it receives); users made by `make_user` reach it with `on(stripe_gw, user)`."""
    with stripe_gateway(base_env, localstripe) as server:
        yield server


@pytest.fixture
def stripe_admin(stripe_gw: ThreadedGateway, admin: httpx.Client) -> Iterator[httpx.Client]:
    """The admin's client against `stripe_gw`."""
    with httpx.Client(base_url=stripe_gw.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30) as client:
        yield client
