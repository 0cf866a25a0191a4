"""Quotas: one amount per payee and period, in the plan currency."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from quota_service.domain.periods import PERIOD_HINT, is_period


@dataclass(frozen=True)
class Quota:
    """A payee's quota for one period."""

    payee: str
    period: str
    amount: Decimal


def quota_problems(period: str, amount: Decimal) -> list[dict[str, str]]:
    """The fields that make a quota unacceptable, in the order they are checked."""
    if not is_period(period):
        return [{"field": "period", "message": PERIOD_HINT}]
    if amount < 0:
        return [{"field": "amount", "message": "must not be negative"}]
    return []
