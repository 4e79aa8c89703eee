"""In-process cache of key lookups, and its invalidation across gateway processes.

Every change that must stop a key (revoke, rotate, edit, user deactivation) bumps the `auth`
change counter in the same transaction and, with Redis, publishes the affected hashes. Each process:
- with Redis: evicts on the pub/sub message at once, and polls the counter slowly as a backstop;
- without Redis (or while Redis is down): polls the counter every `auth_poll_interval_seconds`
  and clears the cache when it moved.
A change to a role's definition (`roles`) clears the cache and reloads the roles (`on_roles`).
A lookup that raced with an invalidation is not cached (the epoch check in `put`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from redis.asyncio import Redis

from gatewayz.accounts.principal import Principal
from gatewayz.settings import Settings
from gatewayz.storage.db import Database
from gatewayz.storage.fastsql import FastSQL
from gatewayz.storage.redis_client import redis_key
from gatewayz.storage.tables import ChangeCounter

log = structlog.get_logger("gatewayz.accounts.cache")

AUTH_COUNTER = "auth"
MAX_ENTRIES = 200_000
MAX_NEGATIVE_ENTRIES = 20_000
NEGATIVE_TTL_SECONDS = 5.0
REDIS_BACKSTOP_POLL_SECONDS = 5.0
_VERSION_SQL = "SELECT version FROM change_counters WHERE name = :name"


@dataclass(slots=True)
class _Entry:
    principal: Principal | None  # None: no such key (negative entry)
    expires: float


class KeyCache:
    """Known keys and unknown ones are cached apart: a flood of random invalid keys fills only the
    small, short-lived negative side (oldest out first) and never evicts a real key's entry."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self.negative_ttl = min(ttl_seconds, NEGATIVE_TTL_SECONDS)
        self.epoch = 0
        self._entries: dict[str, _Entry] = {}
        self._negative: dict[str, _Entry] = {}

    def get(self, key_hash: str) -> _Entry | None:
        entry = self._entries.get(key_hash) or self._negative.get(key_hash)
        if entry is None:
            return None
        if entry.expires < time.monotonic():
            self._entries.pop(key_hash, None)
            self._negative.pop(key_hash, None)
            return None
        return entry

    def put(self, key_hash: str, principal: Principal | None, epoch: int) -> None:
        if epoch != self.epoch or self.ttl <= 0:
            return
        side, limit, ttl = (
            (self._entries, MAX_ENTRIES, self.ttl) if principal is not None
            else (self._negative, MAX_NEGATIVE_ENTRIES, self.negative_ttl)
        )
        if len(side) >= limit:
            side.pop(next(iter(side)))  # dicts keep insertion order: the oldest entry goes
        expires = time.monotonic() + ttl
        if principal is not None and principal.plan_ends_at is not None:  # a plan that ends is reloaded then
            expires = min(expires, time.monotonic() + max(0.0, principal.plan_ends_at - time.time()))
        side[key_hash] = _Entry(principal, expires)

    def evict_hashes(self, hashes: list[str]) -> None:
        self.epoch += 1
        for key_hash in hashes:
            self._entries.pop(key_hash, None)
            self._negative.pop(key_hash, None)

    def evict_user(self, user_id: int) -> None:
        self.epoch += 1
        stale = [h for h, e in self._entries.items()  # a member's team keys go with the member
                 if e.principal and user_id in (e.principal.user_id, e.principal.member_user_id)]
        for key_hash in stale:
            self._entries.pop(key_hash, None)

    def clear(self) -> None:
        self.epoch += 1
        self._entries.clear()
        self._negative.clear()

    def __len__(self) -> int:
        return len(self._entries)


async def bump_auth_counter(session: AsyncSession) -> int:
    """Call inside the transaction that makes the change; returns the new version."""
    result = await session.execute(
        update(ChangeCounter)
        .where(ChangeCounter.name == AUTH_COUNTER)
        .values(version=ChangeCounter.version + 1)
        .returning(ChangeCounter.version)
    )
    return int(result.scalar_one())


def invalidation_channel(settings: Settings) -> str:
    return redis_key(settings, "auth", "invalidate")


async def broadcast(redis: Redis, channel: str, version: int, *, hashes: list[str] | None, user_id: int | None,
                    roles: bool = False) -> None:
    """Tell every process at once; if Redis fails, the counter poll still carries the change."""
    message = orjson.dumps({"v": version, "hashes": hashes or [], "user_id": user_id, "roles": roles})
    try:
        await redis.publish(channel, message)
    except Exception as exc:
        log.warning("auth_invalidation_publish_failed", error=str(exc))


class AuthInvalidation:
    """Publishes invalidations and keeps this process's KeyCache in step with everyone's."""

    def __init__(self, settings: Settings, db: Database, redis: Redis | None, cache: KeyCache,
                 sql: FastSQL | None = None) -> None:
        self.settings = settings
        self.db = db
        self.sql = sql  # the lean path for the poll (no thread hop, no ORM): used once it is open
        self.redis = redis
        self.cache = cache
        self.channel = invalidation_channel(settings)
        self.known_version: int | None = None
        self.subscribed = False
        self._lost = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.on_roles: Callable[[], None] | None = None  # set by Services: reloads the role book

    # -- publishing (after the change committed) -----------------------------------------------

    async def publish(self, version: int, *, hashes: list[str] | None = None, user_id: int | None = None,
                      roles: bool = False) -> None:
        self._apply(version, hashes, user_id, roles)
        if self.redis is not None:
            await broadcast(self.redis, self.channel, version, hashes=hashes, user_id=user_id, roles=roles)

    def _roles_changed(self) -> None:
        self.cache.clear()
        if self.on_roles is not None:
            self.on_roles()

    def _apply(self, version: int, hashes: list[str] | None, user_id: int | None, roles: bool = False) -> None:
        if roles:
            self._roles_changed()
        if hashes:
            self.cache.evict_hashes(hashes)
        if user_id is not None:
            self.cache.evict_user(user_id)
        if self.known_version is None or version > self.known_version:
            self.known_version = version

    # -- background listening --------------------------------------------------------------------

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._poll_loop(), name="auth-poll"))
        if self.redis is not None:
            self._tasks.append(asyncio.create_task(self._listen_loop(), name="auth-listen"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _read_version(self) -> int:
        if self.sql is not None and self.sql.is_open:
            row = await self.sql.read_one(_VERSION_SQL, {"name": AUTH_COUNTER})
            return int(row[0]) if row and row[0] is not None else 0
        async with self.db.session() as session:
            result = await session.execute(select(ChangeCounter.version).where(ChangeCounter.name == AUTH_COUNTER))
            return int(result.scalar_one_or_none() or 0)

    async def _poll_loop(self) -> None:
        fast = self.settings.auth_poll_interval_seconds
        while True:
            try:
                version = await self._read_version()
                if self.known_version is None:
                    self.known_version = version
                elif version > self.known_version:
                    self.known_version = version
                    self._roles_changed()  # what moved is unknown: a role may have changed too
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("auth_poll_failed", error=str(exc))
            if self.subscribed:
                # Slow backstop while pub/sub works; wake at once when it is lost.
                self._lost.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._lost.wait(), REDIS_BACKSTOP_POLL_SECONDS)
            else:
                await asyncio.sleep(fast)

    async def _listen_loop(self) -> None:
        assert self.redis is not None
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.subscribed = True
                async for message in pubsub.listen():
                    data = orjson.loads(message["data"])
                    self._apply(int(data["v"]), data.get("hashes"), data.get("user_id"), bool(data.get("roles")))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.subscribed:
                    log.warning("auth_pubsub_lost", error=str(exc))
                # Messages may have been missed: forget everything, poll fast until back.
                self.subscribed = False
                self._lost.set()
                self._roles_changed()
                await asyncio.sleep(1.0)
            finally:
                self.subscribed = False
                self._lost.set()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
