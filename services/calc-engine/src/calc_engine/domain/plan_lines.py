"""Which of an engine run's lines and exceptions a read-only view shows: the lines of payees
assigned to the plan in their period (the same filter the ledger applies), of one payee,
of the periods asked about; and who manages whom (for DESIGN.md §7 visibility)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from calc_engine.domain.assignments import assigned
from provisio_calc import CalcException, Line
from provisio_calc.periods import period_bounds


def managers_of(payees: Mapping[str, Mapping[str, Any]]) -> dict[str, str | None]:
    """Each payee's manager (None at the top), from the payee replica's documents."""
    return {payee_id: document.get("manager") for payee_id, document in payees.items()}


def assigned_plans(payee: Mapping[str, Any]) -> list[str]:
    """The plans a payee has an assignment to (any dates), sorted."""
    return sorted({a["plan"] for a in payee.get("assignments", [])})


def overlaps(period: str, first: date, last: date) -> bool:
    """Whether a period (`2027-Q1`) shares at least one day with [first, last]."""
    start, end = period_bounds(period)
    return start <= last and first <= end


def lines_on_plan(
    lines: Iterable[Line],
    plan_id: str,
    payees: Mapping[str, Mapping[str, Any]],
    *,
    payee: str | None = None,
    days: tuple[date, date] | None = None,
) -> list[Line]:
    """The lines the ledger would keep for `plan_id` (their payee is assigned to the plan in
    the line's period), only `payee`'s when given, only periods overlapping `days` when given."""
    kept = []
    bounds: dict[str, tuple[date, date]] = {}
    for line in lines:
        if payee is not None and line.payee != payee:
            continue
        document = payees.get(line.payee)
        if document is None:
            continue
        first, last = bounds.get(line.period) or bounds.setdefault(line.period, period_bounds(line.period))
        if days is not None and not (first <= days[1] and days[0] <= last):
            continue
        if assigned(document, plan_id, first, last):
            kept.append(line)
    return kept


def exception_key(exception: CalcException) -> tuple[str, str, str, str, str]:
    """An exception's identity, to tell the ones a change adds."""
    return (
        exception.kind,
        exception.payee or "",
        exception.deal or "",
        exception.detail,
        exception.period or "",
    )
