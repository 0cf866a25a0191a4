"""Plan simulation (`POST /simulate`): per payee and component, what the current plan version
and a draft pay over a date range, and the difference. Pure: two engine runs in, rows out.

A total over a range is the sum of the line entries dated in it: what the ledger would
have posted on those days (PLANS.md rules 23-25), whichever period the line measures.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from provisio_calc import CalcException, Line
from provisio_common.money import exact_sum

RowKey = tuple[str, str]  # (payee, component)


def range_totals(lines: Iterable[Line], first: date, last: date) -> dict[RowKey, Decimal]:
    """The sum of each (payee, component)'s entries dated in [first, last]; keys only for
    lines with at least one entry in the range."""
    parts: dict[RowKey, list[Decimal]] = defaultdict(list)
    for line in lines:
        amounts = [entry.amount for entry in line.entries if first <= entry.day <= last]
        if amounts:
            parts[(line.payee, line.component)].extend(amounts)
    return {key: exact_sum(amounts) for key, amounts in parts.items()}


@dataclass(frozen=True)
class SimulationRow:
    """One (payee, component): the totals under the current version and the draft (None when
    that version has no such component) and draft - current (None across currencies)."""

    payee: str
    component: str
    current: Decimal | None
    draft: Decimal | None
    difference: Decimal | None


@dataclass(frozen=True)
class SimulationTotals:
    """The sums of the rows (a missing component counts 0)."""

    current: Decimal
    draft: Decimal
    difference: Decimal | None


def _side(totals: Mapping[RowKey, Decimal], key: RowKey, components: frozenset[str]) -> Decimal | None:
    if key[1] not in components:
        return None
    return totals.get(key, Decimal(0))


def simulation_rows(
    current: Mapping[RowKey, Decimal],
    draft: Mapping[RowKey, Decimal],
    current_components: Iterable[str],
    draft_components: Iterable[str],
    *,
    comparable: bool,
) -> list[SimulationRow]:
    """A row for every (payee, component) with entries in the range under either version,
    by payee then component. `comparable` is False when the two are in different currencies."""
    old, new = frozenset(current_components), frozenset(draft_components)
    rows = []
    for key in sorted(set(current) | set(draft)):
        was, now = _side(current, key, old), _side(draft, key, new)
        difference = None
        if comparable:
            difference = exact_sum((now or Decimal(0), (was or Decimal(0)).copy_negate()))
        rows.append(SimulationRow(key[0], key[1], was, now, difference))
    return rows


def simulation_totals(rows: Iterable[SimulationRow], *, comparable: bool) -> SimulationTotals:
    """The total of each column."""
    listed = list(rows)
    current = exact_sum(r.current for r in listed if r.current is not None)
    draft = exact_sum(r.draft for r in listed if r.draft is not None)
    difference = exact_sum((draft, current.copy_negate())) if comparable else None
    return SimulationTotals(current, draft, difference)


def exception_counts(exceptions: Iterable[CalcException]) -> dict[str, int]:
    """How many exceptions of each kind, by kind."""
    return dict(sorted(Counter(e.kind for e in exceptions).items()))
