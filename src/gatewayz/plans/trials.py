"""Free trials: credits that expire, the trial plan's entitlements until then, no card.

One trial per user and per normalised email address (a unique constraint, so two starts at once
give one trial), and at most N started per IP address (IPv6: per /64) and, optionally, per email
domain per day (a conditional increment of a quota row). What is left of the credits at the end
is removed by the billing job's grant expiry (ledger.expire_due_grants); the trial plan stops
applying at `ends_at` on the hot path itself (the principal carries the end).
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.accounts.service import Invalidation
from gatewayz.billing import ledger
from gatewayz.billing.ledger import _insert_ignore
from gatewayz.billing.tables import CreditAccount, CreditGrant, UsageRecord
from gatewayz.errors import Conflict, GatewayError, NotFound
from gatewayz.plans.service import assign_plan, lock_user
from gatewayz.plans.tables import Plan, PlanSubscription, Trial, TrialQuota
from gatewayz.storage.types import utcnow

GMAIL = {"gmail.com", "googlemail.com"}


def normalise_email(email: str) -> tuple[str, str]:
    """(the address one person's aliases share, its domain): lower case, no `+tag`, and for Gmail
    no dots in the local part (googlemail.com is gmail.com)."""
    local, _, domain = email.strip().lower().rpartition("@")
    domain = domain.rstrip(".")
    local = local.split("+", 1)[0]
    if domain in GMAIL:
        domain, local = "gmail.com", local.replace(".", "")
    return f"{local}@{domain}"[:320], domain[:255]


def ip_bucket(ip: str | None) -> str | None:
    """IPv4 as is; IPv6 by its /48 (one site's allocation: a /64 each would give it 65,536 buckets)."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/48", strict=False))
    return str(address)


async def _take_quota(session: AsyncSession, key: str, day: str, limit: int, what: str) -> None:
    await _insert_ignore(session, TrialQuota.__table__, {"key": key, "count": 0, "day": day})  # type: ignore[arg-type]
    taken = await session.execute(
        update(TrialQuota).where(TrialQuota.key == key, TrialQuota.count < limit).values(count=TrialQuota.count + 1))
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise GatewayError(f"Too many free trials were started from this {what} today; try again tomorrow.",
                           status=429, type="rate_limit_error", code="trial_limit_reached")


async def start_trial(
    session: AsyncSession, *, user_id: int, email: str, ip: str | None, plan: Plan, credits: int,
    length: timedelta, per_ip: int, per_domain: int | None, default_slug: str,
) -> tuple[Trial, Invalidation]:
    now = utcnow()
    await lock_user(session, user_id)  # the user first, the credit account later: the order every writer takes
    current = await session.get(PlanSubscription, user_id)
    if current is not None and (current.ends_at is None or current.ends_at > now):
        raise Conflict("You are on a plan already; a free trial is for new users.", code="already_subscribed")
    email_key, domain = normalise_email(email)
    trial = Trial(user_id=user_id, email_key=email_key, email_domain=domain, ip=ip_bucket(ip), plan_id=plan.id,
                  credits=credits, status="active", started_at=now, ends_at=now + length)
    session.add(trial)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("A free trial was used already by this account (or this email address).",
                       code="trial_already_used") from exc
    day = now.date().isoformat()
    if trial.ip is not None:
        await _take_quota(session, f"ip:{trial.ip}:{day}", day, per_ip, "IP address")
    if per_domain is not None:
        await _take_quota(session, f"domain:{domain}:{day}", day, per_domain, "email domain")
    if credits > 0:
        trial.transaction_id = await ledger.adjust(
            session, user_id=user_id, amount=credits, type_="trial", reason="free trial", actor="system",
            reference=f"trial:{trial.id}", expires_at=trial.ends_at)
    sub, _, invalidation = await assign_plan(
        session, user_id=user_id, plan=plan, interval="month", source="trial", status="trialing",
        ends_at=trial.ends_at, grant_credits=False, actor="system", default_slug=default_slug)
    if sub is not None:
        sub.current_period_end = trial.ends_at
    await session.flush()
    return trial, invalidation


async def grant_remaining(session: AsyncSession, user_id: int, transaction_id: int | None) -> int:
    """What is left of one expiring grant: spending takes expiring grants first, earliest expiry
    first (the ledger's rule, billing/ledger.py expire_due_grants)."""
    if transaction_id is None:
        return 0
    grants = (await session.execute(
        select(CreditGrant).where(CreditGrant.user_id == user_id, CreditGrant.expired.is_(False))
        .order_by(CreditGrant.expires_at, CreditGrant.id)
    )).scalars().all()
    account = await session.get(CreditAccount, user_id)
    consumed = sum(g.amount for g in grants) - (account.expiring if account is not None else 0)
    for grant in grants:
        used = min(grant.amount, max(consumed, 0))
        consumed -= used
        if grant.transaction_id == transaction_id:
            return grant.amount - used
    return 0


async def trial_status(session: AsyncSession, user_id: int) -> dict[str, Any] | None:
    trial = (await session.execute(select(Trial).where(Trial.user_id == user_id))).scalar_one_or_none()
    if trial is None:
        return None
    now = utcnow()
    until = min(now, trial.ends_at)
    usage = (await session.execute(
        select(func.count(), func.coalesce(func.sum(UsageRecord.cost), 0)).where(
            UsageRecord.user_id == user_id, UsageRecord.created_at >= trial.started_at,
            UsageRecord.created_at <= until)
    )).one()
    active = trial.status == "active" and trial.ends_at > now
    remaining = await grant_remaining(session, user_id, trial.transaction_id) if trial.ends_at > now else 0
    return {
        "trial": trial, "active": active, "seconds_left": max(0.0, (trial.ends_at - now).total_seconds()),
        "credits_remaining": remaining, "requests": int(usage[0]), "spent": int(usage[1]),
    }


async def record_conversion(session: AsyncSession, user_id: int, how: str, at: datetime | None = None) -> bool:
    """The user paid (`payment`) or subscribed (`subscription`, `plan`) after a trial: recorded
    once, the first time; True when this call recorded it."""
    done = await session.execute(
        update(Trial).where(Trial.user_id == user_id, Trial.converted_at.is_(None))
        .values(status="converted", converted_at=at or utcnow(), conversion=how[:32]))
    return bool(done.rowcount)  # type: ignore[attr-defined]


async def get_trial_plan(session: AsyncSession, plan_id: int | None, slug: str) -> Plan:
    query = select(Plan).where(Plan.id == plan_id) if plan_id is not None else select(Plan).where(Plan.slug == slug)
    plan = (await session.execute(query)).scalar_one_or_none()
    if plan is None or not plan.active or (plan_id is not None and not plan.trial_eligible):
        raise NotFound("No such plan offers a free trial.", param="plan_id", code="plan_not_trial_eligible")
    return plan
