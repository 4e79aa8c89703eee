"""Referrals: a code per user, applied by a new user at (or shortly after) sign-up, and both sides
rewarded through the ledger on the referred user's first qualifying purchase.

Rules: nobody refers themselves; a user has one referrer (`referrals.referred_id` is unique); no
cycles (a user's referrer is never someone they referred, however indirectly); a code is applied
within GATEWAYZ_REFERRAL_APPLY_WINDOW_DAYS of the account's creation and before its first payment.
The reward is paid once: the referral moves `signed_up` -> `converted` by a conditional UPDATE in
the purchase's own transaction (payments/hooks.py), with both ledger entries.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.accounts.tables import User
from gatewayz.billing import ledger
from gatewayz.billing.money import to_nanos
from gatewayz.errors import Conflict, InvalidRequest
from gatewayz.payments import hooks, webhooks
from gatewayz.payments.tables import Payment
from gatewayz.promotions.tables import Referral, ReferralCode
from gatewayz.settings import Settings
from gatewayz.storage.types import utcnow

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 8
MAX_CHAIN = 1_000  # the cycle check looks this far up a referrer's chain (one query)
_PG_APPLY_LOCK = 0x6777_7266  # pg_advisory_xact_lock key: applies are serialised (review P4)
_REACHES = text("""
WITH RECURSIVE chain(id, depth) AS (
    SELECT referrer_id, 1 FROM referrals WHERE referred_id = :start
    UNION
    SELECT r.referrer_id, c.depth + 1 FROM referrals r JOIN chain c ON r.referred_id = c.id
    WHERE c.depth < :limit AND c.id <> :target
)
SELECT 1 FROM chain WHERE id = :target LIMIT 1
""")


def _new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


async def code_for(session: AsyncSession, user_id: int) -> str:
    """The user's referral code, made on first use (an insert that ignores a conflict: made at the same
    moment by another request, or, once in 10^12, a code already taken, which is retried)."""
    dialect = postgresql if ledger.dialect_name(session) == "postgresql" else sqlite
    for _ in range(5):
        await session.execute(dialect.insert(ReferralCode).values(
            user_id=user_id, code=_new_code(), visits=0, created_at=utcnow()).on_conflict_do_nothing())
        found = (await session.execute(select(ReferralCode.code).where(ReferralCode.user_id == user_id))).scalar()
        if found is not None:
            return found
    raise Conflict("Could not make a referral code; try again.", code="referral_code_conflict")


async def visit(session: AsyncSession, code: str) -> bool:
    """Count a follow of the invite link; False when there is no such code."""
    done = await session.execute(update(ReferralCode).where(ReferralCode.code == code.upper())
                                 .values(visits=ReferralCode.visits + 1))
    return done.rowcount == 1  # type: ignore[attr-defined]


async def _in_chain(session: AsyncSession, start: int, target: int) -> bool:
    """Whether `target` is `start`'s referrer, or theirs, ... (at most MAX_CHAIN up: one bounded query,
    which also ends on a cycle that an older version of this code may have let in)."""
    found = await session.execute(_REACHES, {"start": start, "target": target, "limit": MAX_CHAIN})
    return found.first() is not None


async def _same_person(session: AsyncSession, a: int, b: int) -> bool:
    """Whether two accounts' addresses are one mailbox (`alice+2@`, Gmail's dots: as for trials)."""
    from gatewayz.plans.trials import normalise_email

    emails = (await session.execute(select(User.email).where(User.id.in_((a, b))))).scalars().all()
    keys = {normalise_email(e)[0] for e in emails if e}
    return len(emails) == 2 and len(keys) == 1


async def apply(session: AsyncSession, settings: Settings, user_id: int, code: str) -> Referral:
    """Applies are serialised (PostgreSQL: one transaction-scoped advisory lock; SQLite: the write
    lock, taken by the first statement), so two crossing applies cannot both miss the other's row."""
    if ledger.dialect_name(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_APPLY_LOCK})
    # the code's row first: on SQLite the transaction starts with a write
    owner = (await session.execute(update(ReferralCode).where(ReferralCode.code == code.upper())
                                   .values(visits=ReferralCode.visits).returning(ReferralCode.user_id))).scalar()
    if owner is None:
        raise InvalidRequest("No such referral code.", param="code", code="referral_code_not_found")
    if owner == user_id or await _same_person(session, owner, user_id):
        raise InvalidRequest("You cannot refer yourself.", param="code", code="self_referral")
    if (await session.execute(select(Referral.id).where(Referral.referred_id == user_id))).first() is not None:
        raise Conflict("A referral code is already applied to this account.", param="code", code="already_referred")
    created = (await session.execute(select(User.created_at).where(User.id == user_id))).scalar_one()
    if utcnow() - created > timedelta(days=settings.referral_apply_window_days):
        raise InvalidRequest(f"A referral code is applied within {settings.referral_apply_window_days:g} days of "
                             "sign-up.", param="code", code="referral_window_closed")
    paid = (await session.execute(select(Payment.id).where(
        Payment.user_id == user_id, Payment.status.in_(("succeeded", "refunded"))).limit(1))).first()
    if paid is not None:
        raise InvalidRequest("A referral code is applied before the first purchase.", param="code",
                             code="referral_too_late")
    if await _in_chain(session, owner, user_id):  # this user above the code's owner: a cycle
        raise InvalidRequest("That code belongs to someone you referred.", param="code", code="referral_cycle")
    referral = Referral(referrer_id=owner, referred_id=user_id, code=code.upper(), status="signed_up",
                        referrer_reward=0, referred_reward=0, created_at=utcnow())
    session.add(referral)
    await session.flush()  # the unique referred_id: a parallel apply of another code fails here
    return referral


async def on_purchase(session: AsyncSession, purchase: hooks.PurchaseCompleted) -> None:
    """The referred user's first qualifying purchase pays both rewards, once."""
    settings = webhooks.settings_of(session)
    if purchase.amount_nanos < to_nanos(settings.referral_min_purchase_usd):
        return
    referrer_reward = to_nanos(settings.referral_referrer_reward_usd)
    referred_reward = to_nanos(settings.referral_referred_reward_usd)
    row = (await session.execute(
        update(Referral).where(Referral.referred_id == purchase.user_id, Referral.status == "signed_up")
        .values(status="converted", converted_at=utcnow(), payment_id=str(purchase.payment_id),
                referrer_reward=referrer_reward, referred_reward=referred_reward)
        .returning(Referral.id, Referral.referrer_id))).first()
    if row is None:
        return
    referral_id, referrer_id = int(row[0]), int(row[1])
    for user, amount, who in ((referrer_id, referrer_reward, "referrer"), (purchase.user_id, referred_reward,
                                                                           "referred")):
        if amount:
            await ledger.adjust(session, user_id=user, amount=amount, type_="referral", actor="system",
                                reference=f"referral:{referral_id}", reason=f"referral reward ({who})")


async def on_refund(session: AsyncSession, refund: hooks.RefundCompleted) -> None:
    """The qualifying purchase is refunded below the minimum: both rewards are taken back, once (the
    referral moves `converted` -> `reversed` by a conditional UPDATE), as far as each balance allows."""
    settings = webhooks.settings_of(session)
    if refund.paid_left_nanos >= to_nanos(settings.referral_min_purchase_usd):
        return
    row = (await session.execute(
        update(Referral).where(Referral.referred_id == refund.user_id, Referral.status == "converted",
                               Referral.payment_id == str(refund.payment_id))
        .values(status="reversed").returning(Referral.id, Referral.referrer_id, Referral.referrer_reward,
                                             Referral.referred_reward))).first()
    if row is None:
        return
    referral_id, taken = int(row[0]), {}
    for user, reward, who in ((int(row[1]), int(row[2]), "referrer"), (refund.user_id, int(row[3]), "referred")):
        take = min(reward, await ledger.lock_available(session, user))
        if take:
            await ledger.adjust(session, user_id=user, amount=-take, type_="referral", actor="system",
                                reference=f"referral:{referral_id}", reason=f"referral reward ({who}) taken back: "
                                f"the purchase was refunded", spare_expiring=True)
        taken[who] = take
    await session.execute(update(Referral).where(Referral.id == referral_id).values(details={"taken_back": taken}))


async def stats(session: AsyncSession, user_id: int) -> tuple[int, int, int, int]:
    """(invited: link visits, signed up, converted, earned nanos) of the user's referrals."""
    visits = (await session.execute(select(ReferralCode.visits).where(ReferralCode.user_id == user_id))).scalar()
    row = (await session.execute(select(
        func.count(), func.coalesce(func.sum(func.coalesce(Referral.referrer_reward, 0)), 0),
        func.count(Referral.converted_at),
    ).where(Referral.referrer_id == user_id))).one()
    return int(visits or 0), int(row[0]), int(row[2]), int(row[1])


hooks.subscribe(on_purchase)
hooks.subscribe_refund(on_refund)
