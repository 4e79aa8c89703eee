"""The `gatewayz` command: serve, migrate, and user/key administration from a shell."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import typer
from sqlalchemy import select

from gatewayz import __version__
from gatewayz.accounts import service
from gatewayz.accounts.bootstrap import ensure_admin
from gatewayz.accounts.cache import broadcast, invalidation_channel
from gatewayz.accounts.schemas import KeyCreate
from gatewayz.accounts.tables import User
from gatewayz.errors import GatewayError
from gatewayz.settings import Settings, SettingsError, load_settings
from gatewayz.storage.db import Database
from gatewayz.storage.migrate import migrate as run_migrations
from gatewayz.storage.redis_client import create_redis

# Pretty (rich) tracebacks cost start-up time on every `gatewayz serve`; plain ones are fine here.
app = typer.Typer(help="Gatewayz: a self-hostable AI gateway.", no_args_is_help=True, pretty_exceptions_enable=False)
users_app = typer.Typer(help="Manage users.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
catalog_app = typer.Typer(help="The model catalog.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")


class _LazyConsole:
    """rich, imported when something is printed: `serve` should not pay for it at start-up."""

    def print(self, *objects: Any) -> None:
        from rich.console import Console

        Console().print(*objects)


console = _LazyConsole()
T = TypeVar("T")


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        console.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _run(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        db = Database(settings)
        try:
            await run_migrations(db.engine, settings)
            return await work(db)
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except GatewayError as exc:
        console.print(f"[red]Error:[/red] {exc.message}")
        raise typer.Exit(1) from exc


def _print_key(title: str, key: str) -> None:
    from rich.panel import Panel

    console.print(Panel(f"[bold]{key}[/bold]\n\nStore it now: it is not shown again.", title=title))


def banner(settings: Settings, existing_admin: str | None) -> str:
    """What an operator needs on every start: where it listens, what it stores where, how to get in."""
    base = f"http://{_url_host(settings.host)}:{settings.port}"
    lines = [f"Gatewayz {__version__} serving on {base} ({settings.workers} worker(s))"]
    if settings.host in ("0.0.0.0", "::", ""):
        lines[0] += f", all interfaces; on this machine: http://127.0.0.1:{settings.port}"
    database = settings.database_url or f"sqlite:///{settings.data_dir / 'gatewayz.db'}"
    lines.append(f"  API docs:  {base}/docs  (and {base}/redoc)")
    lines.append(f"  Database:  {redact_url(database)}")
    if settings.redis_url:
        lines.append(f"  Redis:     {redact_url(settings.redis_url)}")
    else:
        lines.append("  Redis:     not used (rate limits and revocation checks per process; REDIS_URL shares them)")
    if existing_admin is not None:
        hint = f"gatewayz keys create {existing_admin} --scope admin"
        lines.append(f"  Admin:     {existing_admin} exists; to get a new admin key: {hint}")
    return "\n".join(lines)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def redact_url(url: str) -> str:
    """The URL without its password (in the user info or a `password=` query parameter)."""
    parts = urlsplit(url)
    if parts.password is not None:
        userinfo, _, hostinfo = parts.netloc.rpartition("@")
        url = url.replace(parts.netloc, f"{userinfo.split(':', 1)[0]}:***@{hostinfo}", 1)
    if parts.query and ("pass" in parts.query.lower() or "secret" in parts.query.lower()):
        query = "&".join(
            f"{name}=***" if "pass" in name.lower() or "secret" in name.lower() else f"{name}={value}"
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        )
        url = url.replace("?" + parts.query, "?" + query, 1)
    return url


@app.command()
def serve(
    host: str = typer.Option(None, help="Interface to bind (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default 8000)."),
    workers: int = typer.Option(None, help="Worker processes (default 1)."),
) -> None:
    """Apply pending migrations, make sure an admin exists, and serve the API."""
    import uvicorn

    settings = _settings(host=host, port=port, workers=workers)

    async def prepare(db: Database) -> str | None:
        result = await ensure_admin(settings, db)
        if result is not None and result.key is not None:
            _print_key(f"First admin created ({result.email})", result.key)
            return None
        if result is not None:
            typer.echo(f"First admin created ({result.email}) with the key from GATEWAYZ_ADMIN_KEY.")
            return None
        async with db.session() as session:
            found = await session.execute(select(User.email).where(User.role == "admin").order_by(User.id).limit(1))
            return found.scalar_one_or_none()

    existing_admin = _run(settings, prepare)
    typer.echo(banner(settings, existing_admin))
    uvicorn.run(
        "gatewayz.app:app_factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        proxy_headers=False,  # X-Forwarded-For is honoured only from GATEWAYZ_TRUSTED_PROXIES
        log_level="warning",
        timeout_graceful_shutdown=10,
    )


@app.command()
def migrate() -> None:
    """Apply pending database migrations."""
    settings = _settings()
    applied = _run(settings, lambda db: asyncio.sleep(0, result=True))
    console.print("Database schema is up to date." if applied else "Nothing to do.")


@users_app.command("create")
def users_create(
    email: str,
    name: str = typer.Option(None, help="Display name."),
    role: str = typer.Option("user", help="admin or user."),
) -> None:
    """Create a user and their first API key."""
    if role not in ("admin", "user"):
        raise typer.BadParameter("role must be admin or user")
    settings = _settings()

    async def work(db: Database) -> tuple[int, str]:
        async with db.transaction() as session:
            user = await service.create_user(session, email=email, name=name, role=role)
            _, key = await service.create_key(
                session,
                settings.key_hash_secret_bytes,
                user,
                service.first_key_spec(user),
                default_environment=settings.environment,
            )
            return user.id, key

    user_id, key = _run(settings, work)
    console.print(f"Created user {user_id} ({email}, {role}).")
    _print_key("API key", key)


@users_app.command("list")
def users_list() -> None:
    """List users."""
    settings = _settings()

    async def work(db: Database) -> list[Any]:
        async with db.session() as session:
            users, _ = await service.list_users(session, limit=1000, offset=0)
            return users

    from rich.table import Table

    table = Table("id", "email", "name", "role", "active", "created")
    for user in _run(settings, work):
        table.add_row(
            str(user.id),
            user.email,
            user.name or "",
            user.role,
            str(user.is_active),
            user.created_at.isoformat(timespec="seconds"),
        )
    console.print(table)


@keys_app.command("create")
def keys_create(
    user: str = typer.Argument(..., help="User id or email."),
    name: str = typer.Option("default", help="Key name."),
    environment: str = typer.Option(None, "--env", help="live, test, staging or dev."),
    scope: list[str] = typer.Option(None, help="Scope (repeatable): inference, keys, billing, admin."),
) -> None:
    """Create an API key for a user."""
    settings = _settings()
    try:
        spec = KeyCreate(name=name, environment=environment, scopes=scope or None)  # type: ignore[arg-type]
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

    async def work(db: Database) -> tuple[int, str]:
        async with db.transaction() as session:
            owner = await service.find_user(session, user)
            row, key = await service.create_key(
                session,
                settings.key_hash_secret_bytes,
                owner,
                spec,
                default_environment=settings.environment,
            )
            return row.id, key

    key_id, key = _run(settings, work)
    console.print(f"Created key {key_id}.")
    _print_key("API key", key)


@keys_app.command("list")
def keys_list(
    user: str = typer.Argument(..., help="User id or email."),
    include_revoked: bool = typer.Option(False, help="Show revoked keys too."),
) -> None:
    """List a user's keys (never their secrets)."""
    settings = _settings()

    async def work(db: Database) -> list[Any]:
        async with db.session() as session:
            owner = await service.find_user(session, user)
            return await service.list_keys(session, owner.id, include_revoked=include_revoked)

    from rich.table import Table

    table = Table("id", "name", "key", "env", "scopes", "created", "last used", "revoked")
    for key in _run(settings, work):
        table.add_row(
            str(key.id),
            key.name,
            f"{key.prefix}...{key.last4}",
            key.environment,
            ",".join(key.scopes),
            key.created_at.isoformat(timespec="seconds"),
            key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "",
            "yes" if key.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: int) -> None:
    """Revoke a key: it stops working in every running gateway process within a second."""
    settings = _settings()

    async def work(db: Database) -> None:
        async with db.transaction() as session:
            key = await session.get(service.ApiKey, key_id)
            if key is None:
                raise GatewayError(f"No API key with id {key_id}.")
            invalidation = await service.revoke_key(session, key)
        redis = create_redis(settings)
        if redis is not None:
            try:
                await broadcast(
                    redis,
                    invalidation_channel(settings),
                    invalidation.version,
                    hashes=invalidation.hashes,
                    user_id=None,
                )
            finally:
                await redis.aclose()

    _run(settings, work)
    console.print(f"Revoked key {key_id}.")


@catalog_app.command("sync")
def catalog_sync(
    provider: list[str] | None = typer.Option(None, "--provider", "-p", help="Only this provider (repeatable)."),
) -> None:
    """Fetch every configured provider's model list now, store it, and print what changed."""
    from gatewayz.catalog.command import run_sync

    settings = _settings()
    outcomes = _run(settings, lambda db: run_sync(settings, db, provider, console.print))
    if any(outcome.error is not None for outcome in outcomes):
        raise typer.Exit(1)


def main() -> None:
    app()
