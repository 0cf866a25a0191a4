"""Contests whose window has ended: what the scheduler settles (PLANS.md rule 21)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from provisio_calc import Plan
from provisio_calc.periods import local_day


@dataclass(frozen=True, order=True)
class EndedContest:
    """A contest of a plan whose window ended on `window_to` (the last day, inclusive)."""

    plan: str
    component: str
    window_to: date

    @property
    def mark(self) -> str:
        """The settlement's identity: once per plan, component and window end (a version
        that moves the end settles the contest again at its new end)."""
        return f"{self.plan}:{self.component}:{self.window_to.isoformat()}"


def ended_contests(plan_id: str, versions: Sequence[Plan], now: datetime) -> list[EndedContest]:
    """Every contest of any version whose window is over at `now`: its last day has passed
    in the plan's timezone."""
    found: set[EndedContest] = set()
    for version in versions:
        today = local_day(now, version.timezone)
        for comp in version.components:
            if comp.kind == "contest" and comp.window is not None and comp.window.to < today:
                found.add(EndedContest(plan_id, comp.id, comp.window.to))
    return sorted(found)
