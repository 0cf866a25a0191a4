"""`GET /scorecards/{subject}/{period}` and `GET /leaderboards/{kpi}/{period}`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from provisio_common.deps import UoW
from provisio_common.money import format_amount
from provisio_common.problems import problem_responses
from quota_service.api.attainment import MissingFxView, missing_view
from quota_service.api.deps import Scoped, Settings
from quota_service.service_layer import scorecards
from quota_service.service_layer.scorecards import KpiLine

router = APIRouter(tags=["scorecards"])


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else format_amount(value)


class TrendPoint(BaseModel):
    """The actual of one earlier period (null where there is nothing to divide by)."""

    period: str
    actual: str | None


class KpiView(BaseModel):
    """One KPI: its actual, target and attainment in the period, and its trend."""

    kpi: str
    level: Literal["input", "middle", "output", "economics"]
    unit: Literal["count", "ratio", "currency", "days", "currency_per_day"]
    better: Literal["higher", "lower"]
    actual: str | None
    target: str | None
    attainment: str | None
    complete: bool
    trend: list[TrendPoint]


class ScorecardView(BaseModel):
    """Every KPI of a payee or a team in a period, money in `currency`."""

    subject: str
    period: str
    currency: str
    kpis: list[KpiView]
    lead_conversion_by_source: dict[str, str | None]
    missing_fx: list[MissingFxView]
    members: list[str]


def _kpi(line: KpiLine) -> KpiView:
    return KpiView(
        kpi=line.kpi.name,
        level=line.kpi.level,
        unit=line.kpi.unit,
        better=line.kpi.better,
        actual=_amount(line.actual),
        target=_amount(line.target),
        attainment=_amount(line.attainment),
        complete=line.complete,
        trend=[TrendPoint(period=p, actual=_amount(v)) for p, v in line.trend],
    )


@router.get(
    "/scorecards/{subject}/{period}",
    response_model=ScorecardView,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_scorecard(
    subject: str,
    period: str,
    uow: UoW,
    principal: Scoped,
    settings: Settings,
    trend: Annotated[int, Query(ge=1, le=scorecards.MAX_TREND)] = 4,
) -> ScorecardView:
    """Every KPI of the catalogue for `payee:<id>` or `team:<id>` in the period: actual,
    target, attainment (actual / target x 100; target / actual x 100 where lower is
    better), and the actuals of the last `trend` periods (1-12, default 4, this one last).
    A team's figures pool its members' (each on the days they were in it); its target is
    its own. Money in the reporting currency; amounts without an fx rate are listed in
    `missing_fx` and the KPIs they touch say `complete: false`.

    Roles: admin, ops, payroll, manager (their subtree; a team whose lead and members all
    are in it), rep (themselves).
    """
    card = await scorecards.scorecard(uow, principal, subject, period, trend, settings.reporting_currency)
    return ScorecardView(
        subject=card.subject,
        period=card.period,
        currency=card.currency,
        kpis=[_kpi(line) for line in card.kpis],
        lead_conversion_by_source={k: _amount(v) for k, v in card.lead_conversion_by_source.items()},
        missing_fx=missing_view(card.missing_fx),
        members=card.members,
    )


class StandingView(BaseModel):
    """One row: `payee`, `name` and `value` are null where the caller may not see them."""

    rank: int | None
    payee: str | None
    name: str | None
    value: str | None
    you: bool


class LeaderboardView(BaseModel):
    """One KPI in one period, ranked (PLANS.md rule 21: 1, 2, 2, 4)."""

    kpi: str
    period: str
    currency: str
    team: str | None
    names_hidden: bool
    entries: list[StandingView]


@router.get(
    "/leaderboards/{kpi}/{period}",
    response_model=LeaderboardView,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_leaderboard(
    kpi: str, period: str, uow: UoW, principal: Scoped, settings: Settings, team: str | None = None
) -> LeaderboardView:
    """The team's members in the period (or every active payee with the role `rep`) ranked by
    one KPI: rank = 1 + the number strictly better (lower is better for sales_cycle_days and
    cost_of_sales); payees without a value come last, unranked.

    Roles: admin, ops, payroll (everyone), manager (ranks their subtree), rep (every rank;
    others' payee, name and value only if `PROVISIO_LEADERBOARD_NAMES_FOR_REPS` is on).
    """
    board = await scorecards.leaderboard(
        uow,
        principal,
        kpi,
        period,
        team,
        settings.reporting_currency,
        settings.leaderboard_names_for_reps,
    )
    return LeaderboardView(
        kpi=board.kpi,
        period=board.period,
        currency=board.currency,
        team=board.team,
        names_hidden=board.names_hidden,
        entries=[
            StandingView(rank=s.rank, payee=s.payee, name=s.name, value=_amount(s.value), you=s.you)
            for s in board.standings
        ],
    )
