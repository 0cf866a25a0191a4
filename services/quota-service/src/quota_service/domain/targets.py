"""KPI targets for payees and teams, and top-down vs bottom-up reconciliation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from provisio_calc.numbers import divide, exact_sum
from quota_service.domain.kpis import CATALOGUE, KPI_NAMES
from quota_service.domain.periods import PERIOD_HINT, is_period, tiled
from quota_service.domain.subjects import SUBJECT_HINT, Subject, parse_subject


@dataclass(frozen=True)
class Target:
    """A subject's target for one KPI in one period."""

    subject: str  # payee:<id> or team:<id>
    kpi: str
    period: str
    value: Decimal


def target_problems(subject: str, kpi: str, period: str, value: Decimal) -> list[dict[str, str]]:
    """Every field that makes a target unacceptable (the subject's existence is checked apart)."""
    errors = []
    if parse_subject(subject) is None:
        errors.append({"field": "subject", "message": SUBJECT_HINT})
    if kpi not in CATALOGUE:
        errors.append({"field": "kpi", "message": f"must be one of {', '.join(KPI_NAMES)}"})
    if not is_period(period):
        errors.append({"field": "period", "message": PERIOD_HINT})
    if value < 0:
        errors.append({"field": "value", "message": "must not be negative"})
    return errors


def resolve_target(rows: Mapping[str, Decimal], kpi: str, period: str) -> Decimal | None:
    """The target for `period` among one subject's rows of one KPI: the exact row, or, for an
    additive KPI (counts, revenue, margin, velocity), finer rows that tile it (PLANS.md rule 6)."""
    if CATALOGUE[kpi].additive:
        return tiled(rows, period)
    return rows.get(period)


Aggregation = Literal["sum", "mean"]


@dataclass(frozen=True)
class Reconciliation:
    """A team's own target (top-down) beside its members' (bottom-up) for one KPI and period."""

    team: str
    kpi: str
    period: str
    team_target: Decimal | None
    aggregation: Aggregation
    bottom_up: Decimal | None
    gap: Decimal | None  # team_target - bottom_up
    flagged: bool
    members: dict[str, Decimal | None]  # each member's target (None: none set)


def reconcile(
    team: str,
    kpi: str,
    period: str,
    team_target: Decimal | None,
    members: Mapping[str, Decimal | None],
    tolerance: Decimal,
) -> Reconciliation:
    """Top-down vs bottom-up. Members' targets add up for an additive KPI and are averaged
    (unweighted) for a ratio; members without a target are left out. Flagged when
    |gap| > tolerance x |team target|, or when either side is missing."""
    aggregation: Aggregation = "sum" if CATALOGUE[kpi].additive else "mean"
    given = [v for v in members.values() if v is not None]
    bottom_up: Decimal | None = None
    if given:
        total = exact_sum(given)
        bottom_up = total if aggregation == "sum" else divide(total, Decimal(len(given)))
    gap = None if team_target is None or bottom_up is None else exact_sum((team_target, -bottom_up))
    flagged = gap is None or abs(gap) > tolerance * abs(team_target or Decimal(0))
    return Reconciliation(
        team, kpi, period, team_target, aggregation, bottom_up, gap, flagged, dict(sorted(members.items()))
    )


def subject_of(text: str) -> Subject:
    """The parsed subject of a target already checked by `target_problems`."""
    subject = parse_subject(text)
    assert subject is not None
    return subject
