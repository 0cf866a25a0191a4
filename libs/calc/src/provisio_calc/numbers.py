"""Decimal parsing and formatting: numbers come from source text, never through a float."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext

# Wide enough that sums and products of money amounts and rates stay exact.
EXACT = Context(prec=80, rounding=ROUND_HALF_EVEN)
# PLANS.md rule 8: divisions are carried to 28 significant digits, rounded half-even.
DIVISION = Context(prec=28, rounding=ROUND_HALF_EVEN)

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)


def parse_decimal(value: object) -> Decimal:
    """Read a finite Decimal from a string, an int or a Decimal.

    Floats (and bools) are refused: a float has already lost the source text
    (PLANS.md rule 4). Raises ValueError with a message meant for people.
    """
    if type(value) is str and "_" not in value:
        # The common case, first: a plain decimal string.
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
        if result.is_finite():
            return result
        raise ValueError(f"not a finite number: {value!r}")
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        raise ValueError(
            f'the number {value!r} was read as a float; give it as text ("{value!r}") '
            "or pass the document's source text"
        )
    elif isinstance(value, str):
        text = value.strip().replace("_", "")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
        if not text:
            raise ValueError("not a number: empty")
    else:
        raise ValueError(f"not a number: {value!r}")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """The sum of `values` in the exact context: adding money never rounds it.

    Python's default context keeps 28 digits, so `sum()` of amounts with long fractions
    (multiplier rates, fx) silently rounds; the ledger must equal the engine exactly.
    """
    with localcontext(EXACT):
        return sum(values, ZERO)


def exact_product(left: Decimal, right: Decimal) -> Decimal:
    """`left * right` in the exact context (an amount times a share or a rate)."""
    return EXACT.multiply(left, right)


def divide(numerator: Decimal, denominator: Decimal) -> Decimal:
    """numerator / denominator to 28 significant digits, half-even (PLANS.md rule 8)."""
    return DIVISION.divide(numerator, denominator)


def format_decimal(value: Decimal) -> str:
    """Plain notation, no exponent, no trailing fractional zeros (PLANS.md rule 32)."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
