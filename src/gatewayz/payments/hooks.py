"""Listeners of completed purchases, called in the transaction of the purchase's credit grant.

Referrals (promotions/referrals.py) reward a referred user's first qualifying purchase; trial
conversion (plans) records the first payment. A listener is `async (session, PurchaseCompleted) -> None`;
what it writes commits (or rolls back) with the grant, so it happens exactly once per purchase.

    from gatewayz.payments import hooks
    hooks.subscribe(on_purchase)

Refunds have listeners too (`subscribe_refund`): referrals take their rewards back when the
qualifying purchase is refunded.

Settings are at `webhooks.settings_of(session)` (the same session-bound settings webhook handlers get):
whoever emits outside a webhook binds the session first (`webhooks.bind(session, settings)`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class PurchaseCompleted:
    """`amount_nanos` is what the user paid (cents converted exactly); `credits_nanos` what was credited
    (the purchase plus any coupon bonus). `first_purchase`: the user's first paid purchase ever.
    `kind` is "credits" for credit purchases (this package); others (plans: "subscription") may emit too."""

    user_id: int
    payment_id: int | str
    amount_nanos: int
    first_purchase: bool
    credits_nanos: int = 0
    amount_cents: int = 0
    currency: str = "usd"
    kind: str = "credits"
    coupon_code: str | None = None


Listener = Callable[[AsyncSession, PurchaseCompleted], Awaitable[None]]
_LISTENERS: list[Listener] = []


def subscribe(listener: Listener) -> Listener:
    """Call `listener` for every completed purchase (in subscription order); idempotent."""
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)
    return listener


def listeners() -> tuple[Listener, ...]:
    return tuple(_LISTENERS)


async def emit(session: AsyncSession, purchase: PurchaseCompleted) -> None:
    """Tell every listener, in `session`'s transaction (an exception rolls the purchase back too)."""
    for listener in _LISTENERS:
        await listener(session, purchase)


@dataclass(frozen=True, slots=True)
class RefundCompleted:
    """A refund of credit purchase `payment_id` completed; `paid_left_nanos` is what the payment
    still counts as paid (its amount less all refunds reserved or made)."""

    user_id: int
    payment_id: int
    paid_left_nanos: int


RefundListener = Callable[[AsyncSession, RefundCompleted], Awaitable[None]]
_REFUND_LISTENERS: list[RefundListener] = []


def subscribe_refund(listener: RefundListener) -> RefundListener:
    if listener not in _REFUND_LISTENERS:
        _REFUND_LISTENERS.append(listener)
    return listener


async def emit_refund(session: AsyncSession, refund: RefundCompleted) -> None:
    for listener in _REFUND_LISTENERS:
        await listener(session, refund)
