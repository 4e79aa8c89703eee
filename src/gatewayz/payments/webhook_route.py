"""`POST /api/stripe/webhook`: Stripe's signed events, each processed exactly once.

The signature is checked by the `stripe` library's verifier (HMAC-SHA256 with the webhook secret,
timestamps within GATEWAYZ_STRIPE_WEBHOOK_TOLERANCE_SECONDS): anything else is a 400 and changes
nothing. A verified event's id is inserted into `stripe_events` in the same transaction as its
handlers' effects (webhooks.py): a replay, or the same event delivered twice at once, finds the id
taken and is acknowledged without effect. Events nobody handles are acknowledged (200) and recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Request
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.billing.ledger import dialect_name
from gatewayz.errors import GatewayError, InvalidRequest, NotFound
from gatewayz.payments import handlers as _handlers  # noqa: F401 -- registers the purchase handlers
from gatewayz.payments import webhooks
from gatewayz.payments.responses import errors
from gatewayz.payments.tables import StripeEvent
from gatewayz.payments.webhooks import WebhookEvent
from gatewayz.services import services
from gatewayz.storage.types import utcnow

router = APIRouter(tags=["Payments"])
log = structlog.get_logger("gatewayz.payments")
MAX_EVENT_BYTES = 512 * 1024  # Stripe's events are a few KB; the body cap applies before this


def _bad(message: str) -> InvalidRequest:
    return InvalidRequest(message, code="invalid_webhook")


def parse_event(payload: bytes) -> WebhookEvent:
    try:
        raw: Any = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise _bad("The event is not JSON.") from exc
    data = raw.get("data") if isinstance(raw, dict) else None
    obj = data.get("object") if isinstance(data, dict) else None
    event_id, type_ = (raw.get("id"), raw.get("type")) if isinstance(raw, dict) else (None, None)
    if not (isinstance(event_id, str) and 0 < len(event_id) <= 255 and isinstance(type_, str)
            and 0 < len(type_) <= 128 and isinstance(obj, dict)):
        raise _bad("The event lacks an id, a type or data.object.")
    created = raw.get("created")
    when = None
    if isinstance(created, int) and not isinstance(created, bool) and 0 <= created < 2**33:
        when = datetime.fromtimestamp(created, UTC)
    previous = data.get("previous_attributes") if isinstance(data, dict) else None
    return WebhookEvent(id=event_id, type=type_, created=when, object=obj, livemode=raw.get("livemode") is True,
                        previous_attributes=previous if isinstance(previous, dict) else {}, raw=raw)


def verify(payload: bytes, header: str | None, secret: str, tolerance: int) -> None:
    if not header or len(header) > 4096:
        raise _bad("The Stripe-Signature header is missing.")
    import stripe  # on first use (start-up time)

    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), header, secret, tolerance)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("The Stripe-Signature does not verify.", code="invalid_signature") from exc


async def _claim(session: AsyncSession, event: WebhookEvent) -> bool:
    """Insert the event id; False if it is already there (processed, or being processed right now:
    the insert waits for that transaction and then finds the id taken)."""
    dialect = postgresql if dialect_name(session) == "postgresql" else sqlite
    statement = dialect.insert(StripeEvent).values(
        event_id=event.id, type=event.type, object_id=str(event.object.get("id"))[:255] if event.object.get("id")
        else None, stripe_created=event.created, received_at=utcnow(),
    ).on_conflict_do_nothing().returning(StripeEvent.event_id)
    return (await session.execute(statement)).first() is not None


@router.post("/api/stripe/webhook", responses=errors(404))
async def stripe_webhook(request: Request) -> dict[str, Any]:
    """Stripe's events (configure this URL and its signing secret in Stripe's dashboard)."""
    svc = services(request)
    secret = svc.settings.stripe_webhook_secret
    if secret is None:
        raise NotFound("Stripe webhooks are not configured on this gateway (GATEWAYZ_STRIPE_WEBHOOK_SECRET).",
                       code="payments_not_configured")
    payload = await request.body()
    if len(payload) > MAX_EVENT_BYTES:
        raise _bad("The event is too large.")
    verify(payload, request.headers.get("stripe-signature"), secret.get_secret_value(),
           svc.settings.stripe_webhook_tolerance_seconds)
    event = parse_event(payload)
    try:
        async with svc.db.transaction() as session:
            webhooks.bind(session, svc.settings, svc)
            fresh = await _claim(session, event)
            handled = fresh and await webhooks.dispatch(session, event)
            later = webhooks.take_after_commit(session)
    except Exception as exc:  # rolled back, event id included: Stripe's next delivery tries again
        log.exception("stripe_event_failed", event_id=event.id, type=event.type)
        raise GatewayError("The event could not be processed; it will be processed when Stripe sends it again.",
                           code="webhook_failed") from exc
    for callback in later:
        try:
            await callback()
        except Exception:  # the event is processed; what follows it must not make Stripe resend it
            log.exception("stripe_after_commit_failed", event_id=event.id, type=event.type)
    if not fresh:
        log.info("stripe_event_replayed", event_id=event.id, type=event.type)
    return {"received": True, "duplicate": not fresh, "handled": bool(handled)}
