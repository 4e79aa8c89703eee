"""The registry of Stripe webhook event handlers.

A handler is `async (session, event) -> None` and runs inside the event's transaction: the
transaction that also records the event id (payments/tables.StripeEvent), so an event's effects
happen exactly once, and a handler that raises rolls everything back (the webhook answers 500 and
Stripe delivers the event again). Other domains add event types without editing this package:

    from gatewayz.payments import webhooks
    webhooks.register("invoice.paid", on_invoice_paid)

Handlers read the settings with `settings_of(session)`, and may queue work for after the commit
(cache invalidation, say) with `after_commit(session, callback)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.settings import Settings


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified Stripe event: `object` is `data.object` (a plain dict, as Stripe sent it)."""

    id: str
    type: str
    created: datetime | None
    object: dict[str, Any]
    livemode: bool = False
    previous_attributes: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[AsyncSession, WebhookEvent], Awaitable[None]]
AfterCommit = Callable[[], Awaitable[None]]

_REGISTRY: dict[str, list[Handler]] = {}
_SETTINGS_KEY = "gatewayz.settings"
_SERVICES_KEY = "gatewayz.services"
_AFTER_COMMIT_KEY = "gatewayz.after_commit"


def register(event_type: str, handler: Handler) -> Handler:
    """Handle `event_type` with `handler` (after those registered before it); registering the same
    handler twice is a no-op. Returns the handler, so it works as a decorator's body too."""
    if not event_type or len(event_type) > 128:
        raise ValueError(f"not a Stripe event type: {event_type!r}")
    handlers = _REGISTRY.setdefault(event_type, [])
    if handler not in handlers:
        handlers.append(handler)
    return handler


def handles(event_type: str) -> Callable[[Handler], Handler]:
    """`@handles("invoice.paid")`: the decorator form of `register`."""
    return lambda handler: register(event_type, handler)


def handlers_for(event_type: str) -> tuple[Handler, ...]:
    return tuple(_REGISTRY.get(event_type, ()))


def registered_types() -> frozenset[str]:
    return frozenset(t for t, handlers in _REGISTRY.items() if handlers)


def bind(session: AsyncSession, settings: Settings, services: Any = None) -> None:
    """Called by the webhook route (and tests) before handlers run in `session`; `services` is
    the process's Services (handlers that change cached state publish through it after the commit)."""
    session.info[_SETTINGS_KEY] = settings
    session.info[_SERVICES_KEY] = services
    session.info[_AFTER_COMMIT_KEY] = []


def services_of(session: AsyncSession) -> Any:
    """The Services the session was bound with (None in tests that bind settings only)."""
    return session.info.get(_SERVICES_KEY)


def settings_of(session: AsyncSession) -> Settings:
    settings = session.info.get(_SETTINGS_KEY)
    if settings is None:
        raise RuntimeError("this session is not bound to the gateway's settings (webhooks.bind)")
    return settings  # type: ignore[no-any-return]


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the event's transaction has committed (never if it rolls back)."""
    session.info.setdefault(_AFTER_COMMIT_KEY, []).append(callback)


def take_after_commit(session: AsyncSession) -> list[AfterCommit]:
    return list(session.info.pop(_AFTER_COMMIT_KEY, []))


async def dispatch(session: AsyncSession, event: WebhookEvent) -> bool:
    """Run the event's handlers; False when no handler knows its type (the event is acknowledged)."""
    handlers = handlers_for(event.type)
    for handler in handlers:
        await handler(session, event)
    return bool(handlers)
