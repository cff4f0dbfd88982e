"""Amounts on an invoice: rounded to the currency's minor unit, from a maintained currency table."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel.numbers import get_currency_precision


@lru_cache(maxsize=512)
def minor_unit(currency: str) -> Decimal:
    """The currency's smallest amount (``0.01`` for USD, ``1`` for JPY, ``0.001`` for BHD), from CLDR via Babel.

    A code Babel does not know gets CLDR's default of 2 decimals.
    """
    return Decimal(1).scaleb(-get_currency_precision(currency))


def rounded(amount: Decimal, currency: str) -> Decimal:
    """``amount`` to the currency's minor unit, half up (README, "Invoices": rounding)."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)
