"""Money and units: exact decimals in, JSON numbers out."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

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
