"""Plan versions as calc-engine holds them (`plans.v1`), and what a change of them touches.

Every held version of a plan is computed (libs/calc `provisio_calc.versions`): each
measurement period under the newest version whose `effective` contains its first day.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from calc_engine.domain.model import StoredPlan
from provisio_calc import Plan, load_plan
from provisio_calc.periods import local_day, period_of, periods_between
from provisio_calc.versions import reach


@dataclass
class PlanChange:
    """Versions of one plan a unit of work stored: the periods they can change are
    recomputed; `day` (the day the latest was made, None when the plan had no version
    before) dates the corrections of earlier days."""

    versions: set[int] = field(default_factory=set)
    day: date | None = None
    had_versions: bool = True

    def stored(self, number: int, made: date) -> None:
        """Note one stored version, made on `made` (the plan's timezone)."""
        self.versions.add(number)
        if self.had_versions:
            self.day = made if self.day is None else max(self.day, made)


def held_versions(stored: Iterable[StoredPlan]) -> list[Plan]:
    """The held versions, oldest first, each named by its `plans.v1` number (the number
    every explanation and ledger entry carries)."""
    return [
        load_plan(s.document).model_copy(update={"version": s.version})
        for s in sorted(stored, key=lambda s: s.version)
    ]


def has_contest(versions: Sequence[Plan]) -> bool:
    """A contest ranks over its whole window: a plan with one is reconciled whole."""
    return any(c.kind == "contest" for v in versions for c in v.components)


def counts_activities(versions: Sequence[Plan]) -> bool:
    """Whether some component of some version measures activities (PLANS.md rule 15)."""
    return any(c.effective_measure.metric.startswith("activity:") for v in versions for c in v.components)


def periods_of_days(versions: Sequence[Plan], days: Iterable[date | datetime | str]) -> set[str]:
    """The periods (of every period kind the versions use) containing the days, in the
    plan's timezone (shared by its versions)."""
    kinds = {v.period for v in versions}
    tz = versions[-1].timezone
    local = {local_day(day, tz) for day in days}
    return {period_of(day, kind) for day in local for kind in kinds}


def changed_periods(versions: Sequence[Plan], changed: Collection[int]) -> set[str]:
    """The periods a new version can change: every period (of every kind the versions use)
    overlapping the days the new version reaches (its `effective.from` through the end of
    its period containing `effective.to`); no other period changes its governing version."""
    kinds = {v.period for v in versions}
    out: set[str] = set()
    for version in versions:
        if version.version in changed:
            first, last = reach(version)
            for kind in kinds:
                out.update(periods_between(first, last, kind))
    return out


def run_scope(
    versions: Sequence[Plan], days: Collection[date | datetime | str], change: PlanChange | None
) -> set[str] | None:
    """The periods a reconciliation recomputes: those of `days` (a deal's close dates) and
    those `change` can change; None (the whole plan) with neither, with a contest, or when
    the change brought the plan's first version (everything about the plan is new)."""
    if has_contest(versions) or (not days and change is None):
        return None
    if change is not None and not change.had_versions:
        return None
    periods = periods_of_days(versions, days)
    if change is not None:
        periods |= changed_periods(versions, change.versions)
    return periods


def version_named(versions: Sequence[Plan], number: object) -> Plan:
    """The version with this number (the newest when none has it)."""
    for version in versions:
        if version.version == number:
            return version
    return versions[-1]


def change_day(created_at: datetime, plan: Plan) -> date:
    """The day a version was made, in the plan's timezone (PLANS.md "Payout": entries a
    plan change causes are dated that day)."""
    return local_day(created_at, plan.timezone)
