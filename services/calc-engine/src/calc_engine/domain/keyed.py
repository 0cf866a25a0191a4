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

A plan that has a contest (ranked across payees over a window), an activity measure (a
deal change can change an activity's contribution through its deal filters) or a
non-linear component credited by team_rollup (its keys hold a whole team's deals) is
redone period by period instead (`None` from `keyed_run`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from provisio_calc import Plan
from provisio_calc.setup import linear_coefficient


@dataclass(frozen=True)
class KeyedRun:
    """What a keyed run recomputes: the non-linear lines of `payees`, and the entries of
    `deals` on the components in `linear`."""

    payees: frozenset[str]
    deals: frozenset[str]
    linear: frozenset[str]  # component ids linear in every version that has them

    def wants_line(self, payee: str, component: str) -> bool:
        """Whether the run computes (some entries of) this line right."""
        return component in self.linear or payee in self.payees

    def wants(self, payee: str, component: str, deal: str | None) -> bool:
        """Whether a posting key (payee, component, ..., deal) is the run's to reconcile."""
        if component in self.linear:
            return deal is not None and deal in self.deals
        return payee in self.payees

    def totals_known(self, payee: str, component: str) -> bool:
        """Whether the run loaded every deal of this line (else only its own entries are
        right, and its totals are not: they stay off the entries' explanations)."""
        return payee in self.payees


def keyed_run(versions: Sequence[Plan], deals: Iterable[str], payees: Iterable[str]) -> KeyedRun | None:
    """The keyed run of these deals and people under this plan's versions, or None when
    the plan must be redone period by period (see the module's docstring)."""
    linear: set[str] = set()
    nonlinear: set[str] = set()
    for version in versions:
        for comp in version.components:
            if comp.kind == "contest" or comp.effective_measure.metric.startswith("activity:"):
                return None
            if linear_coefficient(comp) is not None:
                linear.add(comp.id)
            elif "team_rollup" in comp.credit:
                return None
            else:
                nonlinear.add(comp.id)
    return KeyedRun(frozenset(payees), frozenset(deals), frozenset(linear - nonlinear))


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
