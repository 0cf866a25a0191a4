"""Periods: "2027", "2027-H1", "2027-Q1", "2027-01" (PLANS.md), and the amounts kept per
period that finer rows tile (rule 6)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

from provisio_calc.books import QuotaBook
from provisio_calc.inputs import Quota as CalcQuota
from provisio_calc.periods import parse_period, period_bounds, period_of

PERIOD = re.compile(r"^\d{4}(-H[12]|-Q[1-4]|-(0[1-9]|1[0-2]))?$")
PERIOD_HINT = "use 2027, 2027-H1, 2027-Q1 or 2027-01"


def is_period(text: str) -> bool:
    return bool(PERIOD.match(text))


def previous_periods(period: str, count: int) -> list[str]:
    """The `count` periods of the same kind ending with `period`, oldest first."""
    kind = parse_period(period)[0]
    out = [period]
    while len(out) < count:
        first, _ = period_bounds(out[0])
        out.insert(0, period_of(first - timedelta(days=1), kind))
    return out


def tiled(rows: Mapping[str, Decimal], period: str) -> Decimal | None:
    """PLANS.md rule 6: the row for exactly `period`, else the sum of a complete set of
    finer rows that tile it (year -> halves -> quarters -> months, an exact row winning at
    each level); a coarser row is never divided. None when neither exists.

    The one implementation of the rule is libs/calc's `QuotaBook`; this applies it to
    one subject's rows (quotas, or targets of an additive KPI)."""
    return QuotaBook(CalcQuota("", p, amount) for p, amount in rows.items()).resolve("", period)


def overlap(first: date, last: date, start: date | None, end: date | None) -> tuple[date, date] | None:
    """The days of [first, last] inside [start, end] (open ends allowed), or None."""
    low = first if start is None else max(first, start)
    high = last if end is None else min(last, end)
    return (low, high) if low <= high else None
