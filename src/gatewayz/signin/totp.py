"""TOTP second factor (RFC 6238, 30 s steps, 6 digits) and single-use recovery codes.

A code is accepted one step either side of now (clock drift), and never twice: the last accepted
step is stored, and a code of that step or an earlier one is refused. Every function takes the time
(`now`, epoch seconds) so tests run on a fixed clock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp

ISSUER = "Gatewayz"
STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
RECOVERY_CODES = 10


def new_secret() -> str:
    return pyotp.random_base32()


def otpauth_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=account, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: float, last_step: int | None) -> int | None:
    """The time step `code` belongs to (within the drift), or None; a replayed step is None."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int(now // STEP_SECONDS)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    return [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]


def recovery_hash(secret: bytes, code: str) -> str:
    normal = code.strip().lower().replace(" ", "")
    return hmac.new(secret, b"recovery:" + normal.encode(), hashlib.sha256).hexdigest()
