"""GDPR: everything held about a user, exported as one archive; and erasure.

Export: a zip of JSON files, one per category, each written page by page (never the whole
history in memory): the profile and roles, API keys (metadata: never a hash), the credit account,
the ledger, usage, conversations with their items, stored responses, the audit records about them
or by them, their security events and their team memberships, their plan, its credit grants and
their trial.

Erasure keeps the books: the ledger and the usage records stay (amounts, tokens, models, times:
the balance still sums and the gateway's totals still add up), tied to a user row that no longer
says who it was. What goes: email and name (the email becomes `erased-<id>@erased.invalid`),
every key and sign-in session (revoked), sign-in identities, password and second factors, the
account (deactivated: every process stops its keys within a second), conversations, stored
responses and answers kept for idempotent retries, IPs and user agents in security events and audit
records, the email and name inside audit records' before/after, and a trial's address and IP.
"""

from __future__ import annotations

import asyncio
import tempfile
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.accounts.service import Invalidation, bump_auth_counter
from gatewayz.accounts.tables import ApiKey, User, UserRole
from gatewayz.audit.tables import AuditRecord, SecurityEvent
from gatewayz.billing.tables import CreditAccount, CreditTransaction, IdempotencyRecord, UsageRecord
from gatewayz.history.tables import StoredConversation, StoredConversationItem, StoredResponse
from gatewayz.payments.tables import Payment, PaymentRefund
from gatewayz.plans.tables import PlanCreditGrant, PlanSubscription, Trial
from gatewayz.promotions.tables import CouponRedemption, Referral, ReferralCode
from gatewayz.signin.tables import (
    PasswordReset,
    RecoveryCode,
    SigninIdentity,
    SigninPassword,
    SigninSession,
    TotpFactor,
)
from gatewayz.storage.types import utcnow
from gatewayz.teams.tables import TeamMember

PAGE = 1000
SECRET_COLUMNS = frozenset({"key_hash", "previous_key_hash"})
PERSONAL_FIELDS = ("email", "name")
ERASED = "[erased]"


def erased_email(user_id: int) -> str:
    return f"erased-{user_id}@erased.invalid"


def _row(obj: Any) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__mapper__.column_attrs if c.key not in SECRET_COLUMNS}


def _categories(user_id: int) -> dict[str, tuple[Select[Any], Any]]:
    """File name -> (query, the column to page by)."""
    about_me = (AuditRecord.actor_user_id == user_id) | (
        (AuditRecord.target_type == "user") & (AuditRecord.target_id == str(user_id)))
    return {
        "api_keys.json": (select(ApiKey).where(ApiKey.user_id == user_id), ApiKey.id),
        "credit_transactions.json": (select(CreditTransaction).where(CreditTransaction.user_id == user_id),
                                     CreditTransaction.id),
        "usage_records.json": (select(UsageRecord).where(UsageRecord.user_id == user_id), UsageRecord.id),
        "conversations.json": (select(StoredConversation).where(StoredConversation.user_id == user_id),
                               StoredConversation.id),
        "conversation_items.json": (select(StoredConversationItem).where(StoredConversationItem.user_id == user_id),
                                    StoredConversationItem.id),
        "stored_responses.json": (select(StoredResponse).where(StoredResponse.user_id == user_id), StoredResponse.id),
        "audit_records.json": (select(AuditRecord).where(about_me), AuditRecord.id),
        "security_events.json": (select(SecurityEvent).where(SecurityEvent.user_id == user_id), SecurityEvent.id),
        "team_memberships.json": (select(TeamMember).where(TeamMember.user_id == user_id), TeamMember.id),
        "payments.json": (select(Payment).where(Payment.user_id == user_id), Payment.id),
        "payment_refunds.json": (select(PaymentRefund).where(PaymentRefund.user_id == user_id), PaymentRefund.id),
        "coupon_redemptions.json": (select(CouponRedemption).where(CouponRedemption.user_id == user_id),
                                    CouponRedemption.id),
        "referral_codes.json": (select(ReferralCode).where(ReferralCode.user_id == user_id), ReferralCode.user_id),
        "referrals.json": (select(Referral).where(
            (Referral.referrer_id == user_id) | (Referral.referred_id == user_id)), Referral.id),
        "plan_subscriptions.json": (select(PlanSubscription).where(PlanSubscription.user_id == user_id),
                                    PlanSubscription.user_id),
        "plan_credit_grants.json": (select(PlanCreditGrant).where(PlanCreditGrant.user_id == user_id),
                                    PlanCreditGrant.id),
        "trials.json": (select(Trial).where(Trial.user_id == user_id), Trial.id),
    }


async def _pages(session: AsyncSession, query: Select[Any], column: Any) -> AsyncIterator[list[dict[str, Any]]]:
    last = None
    while True:
        page = query.order_by(column).limit(PAGE)
        if last is not None:
            page = page.where(column > last)
        rows = (await session.execute(page)).scalars().all()
        if not rows:
            return
        yield [_row(r) for r in rows]
        last = getattr(rows[-1], column.key)


def _dump(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS, default=str)


async def export_archive(session: AsyncSession, user: User, directory: Path) -> Path:
    """The archive's path (a temporary file in `directory`; the caller removes it once sent). The
    file work runs in a thread, a page at a time: the event loop never waits on the disk."""
    path = await asyncio.to_thread(_new_file, directory)
    roles = (await session.execute(select(UserRole.role).where(UserRole.user_id == user.id))).scalars().all()
    account = await session.get(CreditAccount, user.id)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("profile.json", _dump({**_row(user), "roles": sorted(roles)}))
        archive.writestr("credit_account.json", _dump(_row(account) if account is not None else None))
        counts: dict[str, int] = {}
        for name, (query, column) in _categories(user.id).items():
            with archive.open(name, "w") as out:
                out.write(b"[")
                count = 0
                async for rows in _pages(session, query, column):
                    chunk = b",".join(_dump(row) for row in rows)
                    await asyncio.to_thread(out.write, (b"," if count else b"") + chunk)
                    count += len(rows)
                out.write(b"]")
            counts[name] = count
        archive.writestr("README.json", _dump({"user_id": user.id, "exported_at": utcnow(), "files": counts}))
    return path


def _new_file(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, prefix="export-", suffix=".zip", delete=False) as handle:
        return Path(handle.name)


def _redact(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if not value:
        return value
    return {k: (ERASED if k in PERSONAL_FIELDS and v is not None else v) for k, v in value.items()}


async def erase_user(session: AsyncSession, user: User) -> tuple[dict[str, int], Invalidation]:
    """Erase `user`'s personal data in the session's transaction; what was removed, counted."""
    now = utcnow()
    uid = user.id
    keys = await session.execute(update(ApiKey).where(ApiKey.user_id == uid, ApiKey.revoked_at.is_(None))
                                 .values(revoked_at=now, updated_at=now, key_metadata=None))
    items = await session.execute(delete(StoredConversationItem).where(StoredConversationItem.user_id == uid))
    conversations = await session.execute(delete(StoredConversation).where(StoredConversation.user_id == uid))
    responses = await session.execute(delete(StoredResponse).where(StoredResponse.user_id == uid))
    await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.user_id == uid))  # stored answers
    for credential in (SigninIdentity, SigninPassword, PasswordReset, TotpFactor, RecoveryCode):
        await session.execute(delete(credential).where(credential.user_id == uid))
    sessions = await session.execute(update(SigninSession).where(
        SigninSession.user_id == uid, SigninSession.revoked_at.is_(None)).values(revoked_at=now))
    about = (await session.execute(select(AuditRecord).where(
        AuditRecord.target_type == "user", AuditRecord.target_id == str(uid)))).scalars().all()
    for record in about:
        record.before, record.after = _redact(record.before), _redact(record.after)
    # A trial's address and IP go (the trial stays, so the account never gets a second one).
    trial = (await session.execute(select(Trial).where(Trial.user_id == uid))).scalar_one_or_none()
    if trial is not None:  # one per user
        trial.email_key, trial.email_domain, trial.ip = f"erased-{trial.id}", "erased", None
    user.email, user.name, user.is_active, user.updated_at = erased_email(uid), None, False, now
    await session.flush()
    removed = {"keys_revoked": keys.rowcount, "conversations": conversations.rowcount,  # type: ignore[attr-defined]
               "conversation_items": items.rowcount, "stored_responses": responses.rowcount,  # type: ignore[attr-defined]
               "sessions_revoked": sessions.rowcount}  # type: ignore[attr-defined]
    return removed, Invalidation(await bump_auth_counter(session), user_id=uid)


async def forget_addresses(session: AsyncSession, user_id: int) -> None:
    """IPs and user agents of the user's security events and audit records (the erasure's own
    record included: call this last)."""
    await session.execute(update(SecurityEvent).where(SecurityEvent.user_id == user_id)
                          .values(ip=None, user_agent=None))
    await session.execute(update(AuditRecord).where(AuditRecord.actor_user_id == user_id)
                          .values(ip=None, user_agent=None))


def is_erased(user: User) -> bool:
    return user.email == erased_email(user.id)


def export_name(user_id: int, when: datetime) -> str:
    return f"gatewayz-export-{user_id}-{when.strftime('%Y%m%dT%H%M%SZ')}.zip"
