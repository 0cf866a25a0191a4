"""Money: Decimal only, ISO 4217 minor units, parsing that refuses floats.

Rounding happens once, at the payout line (DESIGN.md §6); everything before keeps
full precision.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

# Minor units and the rounding step are plan semantics: they live once, in libs/calc.
from provisio_calc.money import MINOR_UNITS, minor_units, round_money
from provisio_calc.numbers import exact_product, exact_sum, format_decimal

__all__ = [
    "MoneyError",
    "exact_product",
    "exact_sum",
    "format_amount",
    "format_minor",
    "is_currency_code",
    "minor_units",
    "parse_amount",
    "plain_decimal",
    "round_money",
]

_DECIMAL_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


class MoneyError(ValueError):
    """A value that is not an acceptable amount of money."""


def is_currency_code(value: str) -> bool:
    """An active ISO 4217 code (the list lives once, in libs/calc)."""
    return value in MINOR_UNITS


def parse_amount(value: Any) -> Decimal:
    """Parse a decimal string (or Decimal/int) into a Decimal; floats are refused.

    A float has already lost the amount the sender meant, so it is an error, not a
    value to convert.
    """
    if isinstance(value, bool):
        raise MoneyError("must be a decimal string, not a boolean")
    if isinstance(value, float):
        raise MoneyError('must be a decimal string such as "1250.00", not a JSON number')
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _DECIMAL_TEXT.match(text):
            raise MoneyError(f"{value!r} is not a decimal number")
        try:
            result = Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - regex guards this
            raise MoneyError(f"{value!r} is not a decimal number") from exc
    else:
        raise MoneyError("must be a decimal string")
    if not result.is_finite():
        raise MoneyError("must be a finite number")
    return result


def plain_decimal(value: Decimal) -> str:
    """A Decimal on the wire: plain notation, never an exponent, its scale kept.

    `str(Decimal("1E-25"))` is `"1E-25"`, which readers (and `parse_amount`) refuse; this
    writes `"0.0000000000000000000000001"`, and keeps `"1250.00"` as sent.
    """
    return format(value, "f")


def format_amount(amount: Decimal) -> str:
    """Plain decimal notation, no exponent, no trailing fractional zeros ("1250.5", "0")."""
    return format_decimal(amount)


def format_minor(amount: Decimal, currency: str) -> str:
    """An already-rounded amount written with exactly the currency's minor digits."""
    digits = minor_units(currency)
    return format(amount.quantize(Decimal(1).scaleb(-digits)), "f")
