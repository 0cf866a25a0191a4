"""Attainment: credited won value in a period, converted to one currency, over the
period's quota (PLANS.md rule 6 tiling), as a percentage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from provisio_calc.numbers import divide, exact_sum
from quota_service.domain.credits import Credit
from quota_service.domain.fx import Converter
from quota_service.domain.kpis import MissingFx
from quota_service.domain.periods import overlap


def attainment(value: Decimal, quota: Decimal | None) -> Decimal | None:
    """value / quota x 100 (28 significant digits), or None without a positive quota."""
    if quota is None or quota <= 0:
        return None
    return divide(value * 100, quota)


def converted_value(credits: Iterable[Credit], converter: Converter) -> tuple[Decimal, list[MissingFx]]:
    """The credits' amounts, each converted at the rate of its close day, summed exactly;
    and the credits that could not be converted (left out of the sum, never guessed)."""
    amounts: list[Decimal] = []
    missing: list[MissingFx] = []
    for credit in credits:
        converted = (
            None
            if credit.close_date is None
            else converter.convert(credit.amount, credit.currency, credit.close_date)
        )
        if converted is None:
            missing.append(MissingFx(credit.deal, credit.currency, credit.close_date))
        else:
            amounts.append(converted)
    return exact_sum(amounts), missing


def plan_currency(
    assignments: Iterable[Mapping[str, Any]], currencies: Mapping[str, str], first: date, last: date
) -> str | None:
    """The currency of the plan a payee is on in [first, last]: of the assignments that
    overlap it (and whose plan is known), the one starting last; None if there is none."""
    best: tuple[date, str] | None = None
    for assignment in assignments:
        start = _day(assignment.get("valid_from"))
        end = _day(assignment.get("valid_to"))
        currency = currencies.get(str(assignment.get("plan")))
        if currency is None or overlap(first, last, start, end) is None:
            continue
        key = (start or date.min, currency)
        if best is None or key[0] >= best[0]:
            best = key
    return None if best is None else best[1]


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
