"""Money: Decimal only, ISO 4217 minor units, parsing that refuses floats.

Rounding happens once, at the payout line (DESIGN.md §6); everything before keeps
full precision.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

# ISO 4217 minor units that differ from 2; every other currency has 2.
_MINOR_UNITS: dict[str, int] = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    "CLF": 4,
    "UYW": 4,
}
_ROUNDING = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN, "down": ROUND_DOWN}
_DECIMAL_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class MoneyError(ValueError):
    """A value that is not an acceptable amount of money."""


def minor_units(currency: str) -> int:
    """Digits after the decimal point for an ISO 4217 currency code."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def is_currency_code(value: str) -> bool:
    return bool(_CURRENCY.match(value))


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


def round_money(amount: Decimal, currency: str, mode: str = "half_up") -> Decimal:
    """Round to the currency's minor unit with the plan's mode (half_up, half_even, down)."""
    try:
        rounding = _ROUNDING[mode]
    except KeyError as exc:
        raise MoneyError(f"unknown rounding mode {mode!r}") from exc
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exponent, rounding=rounding)


def format_amount(amount: Decimal) -> str:
    """Plain decimal notation, no exponent, no trailing fractional zeros ("1250.5", "0")."""
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


def format_minor(amount: Decimal, currency: str) -> str:
    """An already-rounded amount written with exactly the currency's minor digits."""
    digits = minor_units(currency)
    return format(amount.quantize(Decimal(1).scaleb(-digits)), "f")
