"""Which measurement periods an event touches, and which deals a scoped run must load."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from calc_engine.domain.plan_versions import has_contest, periods_of_days
from provisio_calc import Plan
from provisio_calc.periods import period_bounds


def affected_periods(plan: Plan | Sequence[Plan], days: Iterable[date | datetime | str]) -> set[str] | None:
    """The plan periods a deal event touches (of every period kind the plan's versions
    use), or None when the whole plan must be redone (no days, or a contest)."""
    versions: Sequence[Plan] = (plan,) if isinstance(plan, Plan) else plan
    touched = list(days)
    if not touched or has_contest(versions):
        return None
    return periods_of_days(versions, touched)


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
