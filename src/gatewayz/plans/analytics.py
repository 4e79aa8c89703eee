"""Figures per plan for admins: who is on it (by status and source), the periods and credits
granted, the invoices paid and their revenue, and its trials (started, converted)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.billing.money import usd
from gatewayz.payments.config import cents_to_nanos
from gatewayz.plans.tables import Plan, PlanCreditGrant, PlanSubscription, Trial


class PlanFigures(BaseModel):
    plan_id: int
    slug: str
    subscribers: int
    by_status: dict[str, int]
    by_source: dict[str, int]
    periods_granted: int
    credits_granted: str
    invoices_paid: int
    revenue: str
    revenue_cents: int
    trials_started: int
    trials_converted: int


class TrialFigures(BaseModel):
    started: int
    active: int
    expired: int
    converted: int
    conversions: dict[str, int]
    credits_granted: str


class PlanAnalytics(BaseModel):
    plans: list[PlanFigures]
    trials: TrialFigures


def _grouped(rows: Any) -> dict[tuple[Any, ...], int]:
    return {tuple(r[:-1]): int(r[-1]) for r in rows}


async def plan_analytics(session: AsyncSession) -> PlanAnalytics:
    plans = (await session.execute(select(Plan.id, Plan.slug).order_by(Plan.id))).all()
    subs = _grouped(await session.execute(select(PlanSubscription.plan_id, PlanSubscription.status,
                                                 PlanSubscription.source, func.count())
                                          .group_by(PlanSubscription.plan_id, PlanSubscription.status,
                                                    PlanSubscription.source)))
    grants = {int(r[0]): (int(r[1]), int(r[2] or 0), int(r[3]), int(r[4] or 0)) for r in await session.execute(
        select(PlanCreditGrant.plan_id, func.count(), func.sum(PlanCreditGrant.amount),
               func.count(PlanCreditGrant.paid_cents), func.sum(PlanCreditGrant.paid_cents))
        .group_by(PlanCreditGrant.plan_id))}
    trials = _grouped(await session.execute(select(Trial.plan_id, Trial.status, Trial.conversion, func.count())
                                            .group_by(Trial.plan_id, Trial.status, Trial.conversion)))
    out = []
    for plan_id, slug in plans:
        by_status: dict[str, int] = {}
        by_source: dict[str, int] = {}
        for (pid, status, source), count in subs.items():
            if pid == plan_id:
                by_status[status] = by_status.get(status, 0) + count
                by_source[source] = by_source.get(source, 0) + count
        periods, credits, invoices, cents = grants.get(plan_id, (0, 0, 0, 0))
        started = sum(c for (pid, _, _), c in trials.items() if pid == plan_id)
        converted = sum(c for (pid, status, _), c in trials.items() if pid == plan_id and status == "converted")
        out.append(PlanFigures(plan_id=plan_id, slug=slug, subscribers=sum(by_status.values()), by_status=by_status,
                               by_source=by_source, periods_granted=periods, credits_granted=usd(credits),
                               invoices_paid=invoices, revenue=usd(cents_to_nanos(cents)), revenue_cents=cents,
                               trials_started=started, trials_converted=converted))
    conversions: dict[str, int] = {}
    for (_, status, how), count in trials.items():
        if status == "converted" and how:
            conversions[how] = conversions.get(how, 0) + count
    trial_credits = (await session.execute(select(func.coalesce(func.sum(Trial.credits), 0)))).scalar_one()
    status_of = {s: sum(c for (_, st, _), c in trials.items() if st == s) for s in ("active", "expired", "converted")}
    return PlanAnalytics(plans=out, trials=TrialFigures(
        started=sum(trials.values()), active=status_of["active"], expired=status_of["expired"],
        converted=status_of["converted"], conversions=conversions, credits_granted=usd(int(trial_credits))))
