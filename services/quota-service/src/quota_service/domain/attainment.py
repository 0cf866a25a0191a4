"""Attainment: credited won value in a period over the period's quota, as a percentage."""

from __future__ import annotations

from decimal import Decimal

from provisio_calc.numbers import divide


def attainment(value: Decimal, quota: Decimal | None) -> Decimal | None:
    """value / quota x 100 (28 significant digits), or None without a positive quota."""
    if quota is None or quota <= 0:
        return None
    return divide(value * 100, quota)
