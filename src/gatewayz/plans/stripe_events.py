"""Stripe's subscription events (registered with payments/webhooks.py; each runs in the event's
own transaction, once per event id):

- `customer.subscription.created|updated|deleted`, `checkout.session.completed` (subscription
  mode): the user's plan row follows the subscription (plan, status, period, cancellation);
- `invoice.paid` (and the older `invoice.payment_succeeded`): the period's credits, once per
  invoice (plan_credit_grants.reference = the invoice id), expiring at the period's end when the
  plan says so; the row is active again; a completed purchase for the purchase listeners;
- `invoice.payment_failed`: the row is `past_due` (the plan stays for the grace period, then the
  plan jobs move the user to the default plan), and a `payment_failed` billing event.

A plan change reaches the cached principals of every process after the commit.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.accounts.service import Invalidation
from gatewayz.audit.records import write_audit
from gatewayz.billing.money import usd
from gatewayz.billing.tables import BillingEvent
from gatewayz.payments import hooks, webhooks
from gatewayz.payments.config import cents_to_nanos
from gatewayz.payments.tables import Payment
from gatewayz.payments.webhooks import WebhookEvent
from gatewayz.plans.service import grant_period_credits
from gatewayz.plans.stripe_sync import apply_subscription, first_item, plan_for, price_of, ref, tagged_user, when
from gatewayz.plans.tables import Plan, PlanCreditGrant, PlanSubscription
from gatewayz.plans.trials import record_conversion
from gatewayz.storage.types import utcnow

log = structlog.get_logger("gatewayz.plans.stripe")
# The invoices that pay for a period (None: an older API or localstripe, which do not say).
PERIOD_INVOICES = frozenset({"subscription_create", "subscription_cycle", None})


def _secret(session: AsyncSession) -> bytes:
    return webhooks.settings_of(session).key_hash_secret_bytes


def _publish_later(session: AsyncSession, invalidation: Invalidation | None) -> None:
    svc = webhooks.services_of(session)
    if invalidation is None or svc is None:
        return

    async def publish() -> None:
        await svc.publish(invalidation)

    webhooks.after_commit(session, publish)


async def _audit(session: AsyncSession, action: str, user_id: int, after: dict[str, Any]) -> None:
    await write_audit(session, None, actor_user_id=None, actor_key_id=None, action=action, target_type="user",
                      target_id=user_id, before=None, after=after)


async def subscription_changed(session: AsyncSession, event: WebhookEvent) -> None:
    invalidation = await apply_subscription(session, event.object, event.created, _secret(session))
    if invalidation is not None and invalidation.user_id is not None:
        await _audit(session, "plan.stripe_sync", invalidation.user_id, {
            "event": event.type, "subscription": ref(event.object.get("id")), "status": event.object.get("status")})
    _publish_later(session, invalidation)


async def subscription_checkout_completed(session: AsyncSession, event: WebhookEvent) -> None:
    """Checkout in subscription mode: the subscription object is not in the event; its id is. The
    row is made from what the checkout knows (our metadata) until the subscription events arrive."""
    obj = event.object
    if obj.get("mode") != "subscription" or obj.get("status") != "complete" \
            or obj.get("payment_status") not in ("paid", "no_payment_required"):
        return  # a delayed payment method: the subscription's own events say when it is paid
    sub_id, metadata = ref(obj.get("subscription")), obj.get("metadata")
    if sub_id is None or tagged_user(metadata, _secret(session)) is None:
        return
    existing = (await session.execute(select(PlanSubscription.user_id).where(
        PlanSubscription.stripe_subscription_id == sub_id))).first()
    if existing is not None:
        return  # the subscription's own events were first: they know more
    synthetic = {"id": sub_id, "status": "active", "customer": obj.get("customer"), "metadata": metadata}
    _publish_later(session, await apply_subscription(session, synthetic, None, _secret(session)))


def _invoice_subscription(invoice: dict[str, Any]) -> tuple[str | None, Any]:
    """(subscription id, its metadata) of an invoice, in the current API or the older one."""
    parent: dict[str, Any] = invoice["parent"] if isinstance(invoice.get("parent"), dict) else {}
    details = parent.get("subscription_details") or invoice.get("subscription_details") or {}
    details = details if isinstance(details, dict) else {}
    return ref(invoice.get("subscription")) or ref(details.get("subscription")), details.get("metadata")


def _line(invoice: dict[str, Any]) -> dict[str, Any]:
    return first_item({"items": invoice.get("lines")})


async def _subscription(session: AsyncSession, sub_id: str, invoice: dict[str, Any], metadata: Any,
                        ) -> dict[str, Any]:
    """The subscription an invoice is for: from Stripe when it can be asked (its metadata says whose
    it is), else what the invoice itself tells (its subscription details' metadata)."""
    svc = webhooks.services_of(session)
    api = getattr(svc, "stripe", None)
    if api is not None and api.configured:
        try:
            found = await api.call("read the subscription", api.client.v1.subscriptions.retrieve_async, sub_id)
            if found.get("status") == "incomplete":
                found["status"] = "active"  # this invoice is its first payment
            return found
        except Exception as exc:
            log.warning("stripe_subscription_unreadable", subscription=sub_id, error=str(exc)[:200])
    line = _line(invoice)
    period: dict[str, Any] = line["period"] if isinstance(line.get("period"), dict) else {}
    price = line.get("price") or line.get("plan") or price_of(line)[0]
    return {"id": sub_id, "status": "active", "customer": invoice.get("customer"), "metadata": metadata,
            "current_period_start": period.get("start"), "current_period_end": period.get("end"),
            "items": {"data": [{"price": price}]}}


async def _row_for_invoice(session: AsyncSession, invoice: dict[str, Any], event: WebhookEvent,
                           ) -> tuple[PlanSubscription | None, Plan | None]:
    sub_id, metadata = _invoice_subscription(invoice)
    if sub_id is None:
        return None, None  # not a subscription's invoice
    row = (await session.execute(select(PlanSubscription).where(
        PlanSubscription.stripe_subscription_id == sub_id))).scalar_one_or_none()
    line = _line(invoice)
    if row is None:  # paid before any subscription event reached us: ask Stripe, or read the invoice
        _publish_later(session, await apply_subscription(
            session, await _subscription(session, sub_id, invoice, metadata), None, _secret(session)))
        row = (await session.execute(select(PlanSubscription).where(
            PlanSubscription.stripe_subscription_id == sub_id))).scalar_one_or_none()
        if row is None:
            log.info("stripe_invoice_not_ours", event_id=event.id, subscription=sub_id)
            return None, None
    plan, _ = await plan_for(session, price_of(line)[0], metadata)
    return row, plan or await session.get(Plan, row.plan_id)


async def _first_purchase(session: AsyncSession, user_id: int) -> bool:
    paid = (await session.execute(select(func.count()).select_from(Payment).where(
        Payment.user_id == user_id, Payment.status.in_(("succeeded", "refunded"))))).scalar_one()
    invoices = (await session.execute(select(func.count()).select_from(PlanCreditGrant).where(
        PlanCreditGrant.user_id == user_id, PlanCreditGrant.reference.like("invoice:%")))).scalar_one()
    return not paid and invoices <= 1  # the grant of this invoice is in already


async def invoice_paid(session: AsyncSession, event: WebhookEvent) -> None:
    invoice = event.object
    invoice_id = ref(invoice.get("id"))
    row, plan = await _row_for_invoice(session, invoice, event)
    if row is None or plan is None or invoice_id is None:
        return
    user_id = row.user_id
    period = _line(invoice).get("period")
    period = period if isinstance(period, dict) else {}
    start, end = when(period.get("start")), when(period.get("end"))
    amount = invoice.get("amount_paid")
    cents = amount if isinstance(amount, int) and not isinstance(amount, bool) and 0 <= amount < 2**40 else 0
    reason = invoice.get("billing_reason")
    if reason not in PERIOD_INVOICES or (cents == 0 and plan.price_monthly > 0):
        log.info("stripe_invoice_not_a_period", invoice=invoice_id, billing_reason=reason, amount_paid=cents)
        return  # a proration or update invoice, or nothing paid: no period's credits
    # One period is credited once, whatever invoices it gets: keyed by the subscription and the period's start.
    reference = f"period:{row.stripe_subscription_id}:{int(start.timestamp())}" if start else f"invoice:{invoice_id}"
    claimed, entry = await grant_period_credits(session, user_id=user_id, plan=plan, reference=reference,
                                                period_end=end, actor="stripe", paid_cents=cents,
                                                invoice_id=invoice_id)
    if not claimed:
        return  # this period was credited already (Stripe sends invoice.paid and invoice.payment_succeeded)
    if end is not None and (row.current_period_end is None or end >= row.current_period_end):
        row.current_period_start, row.current_period_end = start or row.current_period_start, end
    row.status, row.past_due_since, row.updated_at = "active", None, utcnow()
    await session.flush()
    await _audit(session, "plan.invoice_paid", user_id, {
        "invoice": invoice_id, "plan_id": plan.id, "amount_cents": cents, "credits_transaction_id": entry,
        "credits": usd(plan.credits_per_period) if entry is not None else None})
    if cents > 0:
        await record_conversion(session, user_id, "subscription")
        await hooks.emit(session, hooks.PurchaseCompleted(
            user_id=user_id, payment_id=invoice_id, amount_nanos=cents_to_nanos(cents),
            first_purchase=await _first_purchase(session, user_id),
            credits_nanos=plan.credits_per_period if entry is not None else 0, amount_cents=cents,
            currency=str(invoice.get("currency") or "usd")[:8], kind="subscription"))


async def invoice_payment_failed(session: AsyncSession, event: WebhookEvent) -> None:
    """The plan stays through the grace period (settings), then the plan jobs end it."""
    sub_id, _ = _invoice_subscription(event.object)
    if sub_id is None:
        return
    row = (await session.execute(select(PlanSubscription).where(
        PlanSubscription.stripe_subscription_id == sub_id))).scalar_one_or_none()
    if row is None:
        return
    now = utcnow()
    row.status, row.past_due_since, row.updated_at = "past_due", row.past_due_since or now, now
    grace = timedelta(days=webhooks.settings_of(session).subscription_grace_days)
    await session.execute(insert(BillingEvent).values(user_id=row.user_id, type="payment_failed", created_at=now,
                                                      data={"invoice": ref(event.object.get("id")),
                                                            "subscription": sub_id,
                                                            "plan_until": (row.past_due_since + grace).isoformat()}))
    await _audit(session, "plan.payment_failed", row.user_id, {"invoice": ref(event.object.get("id"))})


async def on_purchase(session: AsyncSession, purchase: hooks.PurchaseCompleted) -> None:
    """A trial converts on the user's first payment of any kind (recorded once)."""
    await record_conversion(session, purchase.user_id, "subscription" if purchase.kind == "subscription"
                            else "payment")


for _type in ("customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"):
    webhooks.register(_type, subscription_changed)
webhooks.register("checkout.session.completed", subscription_checkout_completed)
webhooks.register("invoice.paid", invoice_paid)
webhooks.register("invoice.payment_succeeded", invoice_paid)
webhooks.register("invoice.payment_failed", invoice_payment_failed)
hooks.subscribe(on_purchase)
