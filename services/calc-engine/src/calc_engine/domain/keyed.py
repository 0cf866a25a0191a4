"""Keyed runs: recompute only the (payee, component, period) keys a batch of deal events
touches, from only the deals that credit them.

A key's ledger entries are the engine's dated steps E' - E per event (PLANS.md "Payout").
Two kinds of component make them cheap to recompute exactly:

- a *linear* component (flat rate or per_deal, no threshold, cap or tiers:
  `provisio_calc.setup.linear_coefficient`) posts, for each event of a deal,
  coefficient * that deal's change: its entries for a deal never depend on another deal.
  A keyed run recomputes the entries of the touched deals only, on every payee they
  credit (managers' team_rollup overrides included);
- any other component, credited to the deal's own people (owner, splits), posts steps
  that depend on every deal of the key in event order. A keyed run recomputes the whole
  key for each person of the touched deals (every revision's), from every deal crediting
  that person in the periods.

A contest ranks every payee's value over its window, and awards nothing before the
window's last day (PLANS.md rule 21). A keyed run leaves a contest alone (`skipped`: it
neither computes nor compares its lines) while the contest is still running as of the
run, or when no day the run touches lies in its window; a run that could move an ended
contest's ranking is not keyed.

A plan that has an activity measure (a deal change can change an activity's contribution
through its deal filters), a non-linear component credited by team_rollup (its keys hold
a whole team's deals) or an ended contest the run touches is redone period by period
instead (`None` from `keyed_run`); the contest scheduler settles a contest that ends with
a run of the whole plan (`service_layer.contests`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from provisio_calc import Plan
from provisio_calc.periods import local_day
from provisio_calc.plan import Component
from provisio_calc.setup import linear_coefficient


@dataclass(frozen=True)
class KeyedRun:
    """What a keyed run recomputes: the non-linear lines of `payees`, and the entries of
    `deals` on the components in `linear`; never the contests in `skipped`."""

    payees: frozenset[str]
    deals: frozenset[str]
    linear: frozenset[str]  # component ids linear in every version that has them
    skipped: frozenset[str] = frozenset()  # contests the run cannot change

    def wants_line(self, payee: str, component: str) -> bool:
        """Whether the run computes (some entries of) this line right."""
        if component in self.skipped:
            return False
        return component in self.linear or payee in self.payees

    def wants(self, payee: str, component: str, deal: str | None) -> bool:
        """Whether a posting key (payee, component, ..., deal) is the run's to reconcile."""
        if component in self.skipped:
            return False
        if component in self.linear:
            return deal is not None and deal in self.deals
        return payee in self.payees

    def totals_known(self, payee: str, component: str) -> bool:
        """Whether the run loaded every deal of this line (else only its own entries are
        right, and its totals are not: they stay off the entries' explanations)."""
        return payee in self.payees


def keyed_run(
    versions: Sequence[Plan],
    deals: Iterable[str],
    payees: Iterable[str],
    *,
    as_of: date,
    days: Iterable[date | datetime | str],
) -> KeyedRun | None:
    """The keyed run of these deals and people under this plan's versions, as of `as_of`,
    touching the close `days` of every revision of its deals; or None when the plan must
    be redone period by period (see the module's docstring)."""
    linear: set[str] = set()
    nonlinear: set[str] = set()
    contests: set[str] = set()
    local = {local_day(day, versions[-1].timezone) for day in days} if versions else set()
    for version in versions:
        for comp in version.components:
            if comp.effective_measure.metric.startswith("activity:"):
                return None
            if comp.kind == "contest":
                if not contest_untouched(comp, as_of, local):
                    return None
                contests.add(comp.id)
            elif linear_coefficient(comp) is not None:
                linear.add(comp.id)
            elif "team_rollup" in comp.credit:
                return None
            else:
                nonlinear.add(comp.id)
    if contests & (linear | nonlinear):
        return None  # an id that is a contest in one version only: not worth a special case
    return KeyedRun(frozenset(payees), frozenset(deals), frozenset(linear - nonlinear), frozenset(contests))


def contest_untouched(contest: Component, as_of: date, days: Iterable[date]) -> bool:
    """Whether a run as of `as_of` touching these days leaves the contest as it is: it
    awards nothing yet (its last day is still to come), or none of the days lies in its
    window (a day of margin either side: a CRM's calendar day may be the plan's next)."""
    window = contest.window
    assert window is not None
    if as_of < window.to:
        return True
    first, last = window.from_ - timedelta(days=1), window.to + timedelta(days=1)
    return not any(first <= day <= last for day in days)


def people_of(document: Mapping[str, Any]) -> list[str]:
    """The CRM references (or payee ids) a deal snapshot names: its owner and split payees,
    as sent."""
    people = {str(document["owner"])} if document.get("owner") is not None else set()
    people.update(str(split["payee"]) for split in document.get("splits") or [])
    return sorted(people)


def references_of(payees: Iterable[str], index: Mapping[str, str]) -> set[str]:
    """Every reference a deal may name these payees by: their ids and their CRM ids."""
    wanted = set(payees)
    return wanted | {ref for ref, payee in index.items() if payee in wanted}
