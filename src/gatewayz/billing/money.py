"""Money is integer nano-dollars (1e-9 USD) everywhere: exact on SQLite and PostgreSQL alike.

A token of a $0.01-per-million model costs 10 nanos, so no realistic sub-cent charge rounds away;
arithmetic on prices uses Decimal and rounds half-up only at the nano.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

NANOS_PER_USD = 1_000_000_000
# The most any single amount may be (a grant, a deduction, a refund, a budget, a hold, a charge):
# $100M. Every column is int64 (9.2e18 nanos), so sums of ninety such amounts still fit.
MAX_USD = 100_000_000
MAX_NANOS = MAX_USD * NANOS_PER_USD
_NANO = Decimal(1)


def to_nanos(value: Decimal | int | str | float) -> int:
    """USD (a decimal string is best; floats go through their shortest repr) to nanos."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not an amount of money") from exc
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount of money")
    return int((amount * NANOS_PER_USD).quantize(_NANO, rounding=ROUND_HALF_UP))


def round_nanos(value: Decimal) -> int:
    return int(value.quantize(_NANO, rounding=ROUND_HALF_UP))


def usd(nanos: int) -> str:
    """Exact decimal string, e.g. 1500000 -> '0.001500000'."""
    sign = "-" if nanos < 0 else ""
    whole, frac = divmod(abs(nanos), NANOS_PER_USD)
    return f"{sign}{whole}.{frac:09d}"


def usd_float(nanos: int) -> float:
    """For fields whose convention is a JSON number (OpenRouter's usage.cost)."""
    return nanos / NANOS_PER_USD
