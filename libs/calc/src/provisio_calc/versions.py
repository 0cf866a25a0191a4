"""Effective-dated plan versions: which version computes which days.

Each version of a plan carries its own `effective`, whose `from` is the first day of a
measurement period. A measurement period is computed entirely under the newest version
whose `effective` contains the period's first day; days of periods outside every
version earn nothing. Within its periods a version counts only the deals (and
activities) whose day lies in its own `effective` (rule 2).

With the same `period` in every version that is exactly the rule above. Versions may
change `period`; the days are then shared out so that no day is computed twice: a
version reaches from its `effective.from` to the last day of its period containing
`effective.to`, and the newest version reaching a day computes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from provisio_calc.periods import period_bounds, period_of
from provisio_calc.plan import Plan, PlanProblem

Span = tuple[date, date]

# What the versions of one plan must share: everything else may change between them.
SHARED_FIELDS = ("id", "currency", "timezone", "pay_frequency")


@dataclass(frozen=True)
class VersionSlice:
    """One version and the days it computes.

    `governed`: the days of the measurement periods this version computes; `credited`:
    those inside its `effective`, whose deals and activities count.
    """

    plan: Plan
    governed: tuple[Span, ...]
    credited: tuple[Span, ...]

    def governs(self, day: date) -> bool:
        """True when `day` lies in a period this version computes."""
        return any(first <= day <= last for first, last in self.governed)

    def credits(self, day: date) -> bool:
        """True when deals and activities of `day` count under this version."""
        return any(first <= day <= last for first, last in self.credited)

    def credits_any(self, span: Span) -> bool:
        """True when some day of `span` counts under this version."""
        return any(first <= span[1] and span[0] <= last for first, last in self.credited)


def succession_problems(previous: Sequence[Plan], new: Plan) -> list[PlanProblem]:
    """What keeps `new` from being a further version of the plan of `previous` (held
    versions, any order): the id, currency, timezone and pay_frequency are shared by all
    versions of one plan (a change of any of them is a new plan)."""
    if not previous:
        return []
    first = previous[0]
    problems = []
    for field in SHARED_FIELDS:
        before, after = getattr(first, field), getattr(new, field)
        if before != after:
            problems.append(
                PlanProblem(
                    field,
                    f"is {after!r} but the plan's other versions have {before!r}: versions of one plan "
                    f"share {', '.join(SHARED_FIELDS)}",
                )
            )
    return problems


def order_versions(plans: Sequence[Plan]) -> list[Plan]:
    """Oldest first: by `version` when every version has an integer one, else as given."""
    if all(isinstance(p.version, int) for p in plans):
        return sorted(plans, key=lambda p: p.version if isinstance(p.version, int) else 0)
    return list(plans)


def reach(plan: Plan) -> Span:
    """The days a version may compute: its `effective.from` through the last day of its
    measurement period containing `effective.to`."""
    return plan.effective.from_, period_bounds(period_of(plan.effective.to, plan.period))[1]


def _subtract(spans: list[Span], cut: Span) -> list[Span]:
    out: list[Span] = []
    for first, last in spans:
        if cut[1] < first or last < cut[0]:
            out.append((first, last))
            continue
        if first < cut[0]:
            out.append((first, cut[0] - timedelta(days=1)))
        if cut[1] < last:
            out.append((cut[1] + timedelta(days=1), last))
    return out


def _intersect(spans: list[Span], window: Span) -> list[Span]:
    out = []
    for first, last in spans:
        lo, hi = max(first, window[0]), min(last, window[1])
        if lo <= hi:
            out.append((lo, hi))
    return out


def version_slices(versions: Sequence[Plan]) -> list[VersionSlice]:
    """Each version (oldest first, as given) with the days it computes and credits."""
    taken: list[Span] = []
    out: list[VersionSlice] = []
    for plan in reversed(versions):
        governed = [reach(plan)]
        for cut in taken:
            governed = _subtract(governed, cut)
        credited = _intersect(governed, (plan.effective.from_, plan.effective.to))
        out.append(VersionSlice(plan, tuple(governed), tuple(credited)))
        taken.append(reach(plan))
    out.reverse()
    return out


def governing(slices: Sequence[VersionSlice], day: date) -> VersionSlice | None:
    """The version that computes the period containing `day`, if any."""
    for piece in slices:
        if piece.governs(day):
            return piece
    return None
