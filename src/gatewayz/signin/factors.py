"""The second factor of an account: enrol, confirm (which turns it on and hands out recovery
codes), check at sign-in, turn off."""

from __future__ import annotations

import time

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from gatewayz.crypto import SecretBox
from gatewayz.errors import Conflict, InvalidRequest
from gatewayz.signin import totp
from gatewayz.signin.tables import RecoveryCode, TotpFactor
from gatewayz.storage.types import utcnow


async def enabled_factor(session: AsyncSession, user_id: int) -> TotpFactor | None:
    factor = await session.get(TotpFactor, user_id)
    return factor if factor is not None and factor.enabled_at is not None else None


async def enrol(session: AsyncSession, box: SecretBox, user_id: int, account: str) -> tuple[str, str]:
    factor = await session.get(TotpFactor, user_id)
    if factor is not None and factor.enabled_at is not None:
        raise Conflict("A second factor is already on; turn it off first.", code="totp_enabled")
    secret = totp.new_secret()
    if factor is None:
        session.add(TotpFactor(user_id=user_id, secret=box.encrypt(secret), created_at=utcnow()))
    else:
        factor.secret, factor.created_at, factor.last_step = box.encrypt(secret), utcnow(), None
    await session.flush()
    return secret, totp.otpauth_uri(secret, account)


async def check_code(session: AsyncSession, box: SecretBox, factor: TotpFactor, code: str,
                     now: float | None = None) -> bool:
    """Accept `code` once: the step is recorded with a conditional UPDATE (a race cannot reuse it)."""
    step = totp.matching_step(box.decrypt(factor.secret), code, time.time() if now is None else now, factor.last_step)
    if step is None:
        return False
    previous = factor.last_step
    condition = TotpFactor.last_step.is_(None) if previous is None else TotpFactor.last_step == previous
    result = await session.execute(update(TotpFactor).where(TotpFactor.user_id == factor.user_id, condition)
                                   .values(last_step=step))
    factor.last_step = step
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def confirm(session: AsyncSession, box: SecretBox, secret: bytes, user_id: int, code: str) -> list[str]:
    factor = await session.get(TotpFactor, user_id)
    if factor is None:
        raise InvalidRequest("Enrol first (POST /user/totp/enroll).", code="totp_not_enrolled")
    if factor.enabled_at is not None:
        raise Conflict("The second factor is already on.", code="totp_enabled")
    if not await check_code(session, box, factor, code):
        raise InvalidRequest("Wrong code.", param="code", code="invalid_totp_code")
    factor.enabled_at = utcnow()
    codes = totp.new_recovery_codes()
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    session.add_all(RecoveryCode(user_id=user_id, code_hash=totp.recovery_hash(secret, c)) for c in codes)
    await session.flush()
    return codes


async def use_recovery_code(session: AsyncSession, secret: bytes, user_id: int, code: str) -> bool:
    result = await session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.code_hash == totp.recovery_hash(secret, code),
               RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def disable(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(TotpFactor).where(TotpFactor.user_id == user_id))
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
