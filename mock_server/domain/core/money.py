"""Money and units: exact decimals in, JSON numbers out, amounts rounded to the currency's minor unit."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel.numbers import get_currency_precision

# Bounds on a number a client writes as text (a rate bound, a package size): a BigDecimal column of
# Togai's holds 38 digits, and a number far beyond them only costs time (1e999999 took ~55 s to
# price, a 300 000-digit fraction seconds to meter).
MAX_DIGITS = 38
MAX_EXPONENT = 100  # the power of ten of the leading digit, either way
# Beyond this an integral Decimal is written as a float, which a JSON reader holds as a double anyway.
_EXACT_INTS = 2**53


def exact(value: Any) -> Decimal:
    """A JSON number (or numeric string) as the Decimal it was written as (``12.5``, not its binary float)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def to_json(value: Decimal) -> int | float:
    """A Decimal as a JSON number: an int when whole (and a double holds it exactly), else the nearest float."""
    if abs(value) < _EXACT_INTS and value == value.to_integral_value():
        return int(value)
    return float(value)


def decimal_problem(value: Any) -> str | None:
    """Why ``value`` (a JSON number, or a numeral in a string) is not a usable decimal, or ``None``.

    Finite, at most :data:`MAX_DIGITS` significant digits, and its leading digit
    within 10**±:data:`MAX_EXPONENT`; ``NaN``, ``Infinity`` and text are refused.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return "must be a number"
    if isinstance(value, str) and len(value) > 2 * MAX_DIGITS + 8:
        return f"must have at most {MAX_DIGITS} digits"
    try:
        number = exact(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        return f"{value!r} is not a number"
    if not number.is_finite():
        return f"{value!r} is not a finite number"
    if len(number.as_tuple().digits) > MAX_DIGITS:
        return f"must have at most {MAX_DIGITS} significant digits"
    if number and abs(number.adjusted()) > MAX_EXPONENT:
        return f"must be within 1e-{MAX_EXPONENT} and 1e{MAX_EXPONENT}"
    return None


@lru_cache(maxsize=512)
def minor_unit(currency: str) -> Decimal:
    """The currency's smallest amount (``0.01`` for USD, ``1`` for JPY, ``0.001`` for BHD), from CLDR via Babel.

    A code Babel does not know gets CLDR's default of 2 decimals.
    """
    return Decimal(1).scaleb(-get_currency_precision(currency))


def rounded(amount: Decimal, currency: str) -> Decimal:
    """``amount`` to the currency's minor unit, half up (README, "Invoices": rounding)."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)
