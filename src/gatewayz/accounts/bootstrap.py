"""The first admin: created on first start when the database has none."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from gatewayz.accounts import service
from gatewayz.accounts.keys import MAX_KEY_LENGTH, MIN_KEY_LENGTH
from gatewayz.errors import Conflict
from gatewayz.settings import Settings, SettingsError
from gatewayz.storage.db import Database


@dataclass
class BootstrapResult:
    email: str
    key: str | None  # the generated key, to print once; None when it came from GATEWAYZ_ADMIN_KEY


async def ensure_admin(settings: Settings, db: Database) -> BootstrapResult | None:
    """Create the first admin and their key unless an admin exists. Safe to race: one wins."""
    given = settings.admin_key.get_secret_value() if settings.admin_key else None
    if given is not None and not (MIN_KEY_LENGTH <= len(given) <= MAX_KEY_LENGTH):
        raise SettingsError(f"GATEWAYZ_ADMIN_KEY must be {MIN_KEY_LENGTH}-{MAX_KEY_LENGTH} characters long")
    try:
        async with db.transaction() as session:
            if await service.has_admin(session):
                return None
            user = await service.create_user(session, email=settings.admin_email, name="Admin", role="admin")
            _, key = await service.create_key(
                session,
                settings.key_hash_secret_bytes,
                user,
                service.first_key_spec(user, "bootstrap admin"),
                default_environment=settings.environment,
                plaintext=given,
            )
    except (IntegrityError, Conflict):
        return None  # another process created it at the same moment
    return BootstrapResult(email=settings.admin_email, key=None if given else key)
