"""Which measurement periods an event touches, and which deals a scoped run must load."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from provisio_calc import Plan
from provisio_calc.periods import local_day, period_bounds, period_of


def affected_periods(plan: Plan, days: Iterable[date | datetime | str]) -> set[str] | None:
    """The plan periods a deal event touches, or None when the whole plan must be redone."""
    touched = list(days)
    if not touched or any(c.kind == "contest" for c in plan.components):
        return None
    return {period_of(local_day(day, plan.timezone), plan.period) for day in touched}


def close_day_window(periods: Iterable[str]) -> tuple[date, date]:
    """The calendar days whose deals a run of these periods loads.

    A day of margin either side: the index is the CRM's calendar day, the engine decides
    in the plan's timezone.
    """
    bounds = [period_bounds(p) for p in periods]
    return (
        min(b[0] for b in bounds) - timedelta(days=1),
        max(b[1] for b in bounds) + timedelta(days=1),
    )
