"""Background work of plans and trials, run by the billing job in every process at once (each
change is a conditional UPDATE, so only one process makes it):

- trial-ending reminders: one `trial_ending` billing event per trial, N hours before its end;
- trial expiry: the trial is marked expired, its plan row removed (the hot path already stopped
  applying it at `ends_at`), a `trial_expired` event; the credits left are removed by the
  ledger's grant expiry (ledger.expire_due_grants, also run here so it happens at once);
- renewals of plans assigned without Stripe: the next period, and its credits once;
- subscriptions past due beyond the grace period go back to the default plan;
- trial quota rows of past days are deleted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog
from sqlalchemy import case, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.accounts.cache import bump_auth_counter
from gatewayz.accounts.service import Invalidation
from gatewayz.audit.records import write_audit
from gatewayz.billing import ledger
from gatewayz.billing.money import usd
from gatewayz.billing.tables import BillingEvent
from gatewayz.plans.service import PERIODS, grant_period_credits
from gatewayz.plans.tables import Plan, PlanSubscription, Trial, TrialQuota
from gatewayz.plans.trials import grant_remaining
from gatewayz.settings import Settings
from gatewayz.storage.db import Database
from gatewayz.storage.types import utcnow

log = structlog.get_logger("gatewayz.plans.jobs")
BATCH = 200
Publish = Callable[[Invalidation], Awaitable[None]]


class PlanJobs:
    def __init__(self, db: Database, settings: Settings, publish: Publish) -> None:
        self.db = db
        self.settings = settings
        self.publish = publish

    async def tick(self) -> int:
        """For the billing job's list of periodic work (which reports non-zero results as deferred
        writes): the changes are logged here instead."""
        changes = await self.run_once()
        if changes:
            log.info("plans_jobs", changes=changes)
        return 0

    async def run_once(self) -> int:
        """Returns the number of changes made (the billing job logs non-zero results)."""
        changes = 0
        for job in (self.remind_trials, self.expire_trials, self.renew_assigned, self.end_past_due,
                    self.purge_quotas):
            try:
                changes += await job()
            except Exception as exc:  # one failing job does not stop the others
                log.warning("plans_job_failed", job=job.__name__, error=str(exc))
        return changes

    async def _event(self, session: AsyncSession, user_id: int, type_: str, data: dict[str, object]) -> None:
        await session.execute(insert(BillingEvent).values(user_id=user_id, type=type_, data=data, created_at=utcnow()))

    async def _audit(self, session: AsyncSession, action: str, user_id: int, after: dict[str, object]) -> None:
        await write_audit(session, None, actor_user_id=None, actor_key_id=None, action=action, target_type="user",
                          target_id=user_id, before=None, after=after)

    async def remind_trials(self) -> int:
        now = utcnow()
        soon = now + timedelta(hours=self.settings.trial_reminder_hours)
        sent = 0
        async with self.db.transaction() as session:
            due = (await session.execute(
                select(Trial).where(Trial.status == "active", Trial.reminded_at.is_(None), Trial.ends_at <= soon,
                                    Trial.ends_at > now).limit(BATCH))).scalars().all()
            for trial in due:
                claimed = await session.execute(update(Trial).where(Trial.id == trial.id, Trial.reminded_at.is_(None))
                                                .values(reminded_at=now))
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                left = await grant_remaining(session, trial.user_id, trial.transaction_id)
                await self._event(session, trial.user_id, "trial_ending", {
                    "trial_id": trial.id, "ends_at": trial.ends_at.isoformat(), "credits_remaining": usd(left)})
                sent += 1
        return sent

    async def expire_trials(self) -> int:
        now = utcnow()
        invalidations: list[Invalidation] = []
        async with self.db.transaction() as session:
            due = (await session.execute(select(Trial).where(  # a converted trial's plan ends too
                Trial.status.in_(("active", "converted")), Trial.expired_at.is_(None), Trial.ends_at <= now,
            ).limit(BATCH))).scalars().all()
            for trial in due:
                claimed = await session.execute(update(Trial).where(Trial.id == trial.id, Trial.expired_at.is_(None))
                                                .values(expired_at=now, status=case(
                                                    (Trial.status == "active", "expired"), else_=Trial.status)))
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                await session.execute(delete(PlanSubscription).where(
                    PlanSubscription.user_id == trial.user_id, PlanSubscription.source == "trial"))
                await self._event(session, trial.user_id, "trial_expired", {"trial_id": trial.id})
                await self._audit(session, "trial.expire", trial.user_id, {"trial_id": trial.id})
                invalidations.append(Invalidation(await bump_auth_counter(session), user_id=trial.user_id))
            if invalidations:
                await ledger.expire_due_grants(session, now)  # what is left of the trial's credits, now
        for invalidation in invalidations:
            await self.publish(invalidation)
        return len(invalidations)

    async def renew_assigned(self) -> int:
        """Plans assigned by an admin (or chosen free) renew every period, with that period's credits."""
        now = utcnow()
        renewed: list[Invalidation] = []
        async with self.db.transaction() as session:
            due = (await session.execute(select(PlanSubscription, Plan).join(Plan, Plan.id == PlanSubscription.plan_id)
                                         .where(PlanSubscription.source.in_(("admin", "user")),
                                                PlanSubscription.current_period_end <= now).limit(BATCH))).all()
            for sub, plan in due:
                start = sub.current_period_end
                if start is None or (sub.ends_at is not None and sub.ends_at <= start):
                    continue
                end = start + PERIODS.get(sub.interval, PERIODS["month"])
                claimed = await session.execute(update(PlanSubscription).where(
                    PlanSubscription.user_id == sub.user_id, PlanSubscription.current_period_end == start,
                ).values(current_period_start=start, current_period_end=end, updated_at=now))
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                entry = None
                if plan.active:
                    _, entry = await grant_period_credits(
                        session, user_id=sub.user_id, plan=plan, period_end=end, actor="system",
                        reference=f"period:{sub.user_id}:{plan.id}:{start.isoformat()}")
                await self._audit(session, "plan.renew", sub.user_id, {
                    "plan_id": plan.id, "period_end": end.isoformat(), "credits_transaction_id": entry})
                renewed.append(Invalidation(await bump_auth_counter(session), user_id=sub.user_id))
        for invalidation in renewed:
            await self.publish(invalidation)
        return len(renewed)

    async def end_past_due(self) -> int:
        limit = utcnow() - timedelta(days=self.settings.subscription_grace_days)
        ended: list[Invalidation] = []
        async with self.db.transaction() as session:
            due = (await session.execute(select(PlanSubscription).where(
                PlanSubscription.status == "past_due", PlanSubscription.past_due_since <= limit).limit(BATCH)
            )).scalars().all()
            for sub in due:
                gone = await session.execute(delete(PlanSubscription).where(
                    PlanSubscription.user_id == sub.user_id, PlanSubscription.status == "past_due"))
                if gone.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                await self._event(session, sub.user_id, "plan_downgraded", {
                    "plan_id": sub.plan_id, "reason": "payment failed", "stripe_subscription_id":
                    sub.stripe_subscription_id})
                await self._audit(session, "plan.past_due_ended", sub.user_id, {"plan_id": sub.plan_id})
                ended.append(Invalidation(await bump_auth_counter(session), user_id=sub.user_id))
        for invalidation in ended:
            await self.publish(invalidation)
        return len(ended)

    async def purge_quotas(self) -> int:
        yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
        async with self.db.transaction() as session:
            gone = await session.execute(delete(TrialQuota).where(TrialQuota.day < yesterday))
        return int(gone.rowcount or 0)  # type: ignore[attr-defined]
