"""The optional Redis client: present only when REDIS_URL is set."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gatewayz.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis


def create_redis(settings: Settings) -> Redis | None:
    if not settings.redis_url:
        return None
    from redis.asyncio import Redis

    return Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        health_check_interval=15,
        decode_responses=False,
    )


def redis_key(settings: Settings, *parts: str) -> str:
    """Namespaced key/channel names, so several deployments (or test runs) can share one Redis."""
    return ":".join((settings.redis_prefix, *parts))
