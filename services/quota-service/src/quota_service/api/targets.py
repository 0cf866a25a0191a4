"""KPI targets: `PUT /targets/{subject}/{kpi}/{period}`, `GET /targets`,
`GET /targets/{subject}/{kpi}/{period}`, `GET /targets/reconcile`."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from provisio_common.deps import UoW
from provisio_common.events import Amount
from provisio_common.money import format_amount, plain_decimal
from provisio_common.problems import problem_responses
from quota_service.api.deps import Admin, Scoped, Settings, TeamReader, put_responses
from quota_service.domain.targets import Reconciliation, Target
from quota_service.service_layer import targets

router = APIRouter(tags=["targets"])


class TargetIn(BaseModel):
    """The body of `PUT /targets/{subject}/{kpi}/{period}`: a decimal string."""

    model_config = ConfigDict(extra="forbid")
    value: Amount


class TargetView(BaseModel):
    """A subject's (`payee:<id>`, `team:<id>`) target for one KPI in one period. Money KPIs
    are in the reporting currency; ratios are fractions (0.25), durations days."""

    subject: str
    kpi: str
    period: str
    value: str


def target_view(target: Target) -> TargetView:
    return TargetView(
        subject=target.subject, kpi=target.kpi, period=target.period, value=plain_decimal(target.value)
    )


class MemberTargetView(BaseModel):
    """One member's target (null: none set)."""

    payee: str
    target: str | None


class ReconciliationView(BaseModel):
    """Top-down (the team's own target) beside bottom-up (its members' targets)."""

    team: str
    kpi: str
    period: str
    team_target: str | None
    aggregation: Literal["sum", "mean"]
    bottom_up: str | None
    gap: str | None
    tolerance: str
    flagged: bool
    members: list[MemberTargetView]
    members_without_target: list[str]


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else format_amount(value)


def _reconciliation(row: Reconciliation, tolerance: Decimal) -> ReconciliationView:
    return ReconciliationView(
        team=row.team,
        kpi=row.kpi,
        period=row.period,
        team_target=_amount(row.team_target),
        aggregation=row.aggregation,
        bottom_up=_amount(row.bottom_up),
        gap=_amount(row.gap),
        tolerance=format_amount(tolerance),
        flagged=row.flagged,
        members=[MemberTargetView(payee=p, target=_amount(v)) for p, v in row.members.items()],
        members_without_target=[p for p, v in row.members.items() if v is None],
    )


@router.put(
    "/targets/{subject}/{kpi}/{period}",
    response_model=TargetView,
    responses=put_responses(TargetView, 401, 403, 422),
)
async def put_target(
    subject: str, kpi: str, period: str, body: TargetIn, uow: UoW, principal: Admin, response: Response
) -> TargetView:
    """Set the target of `payee:<id>` or `team:<id>` for a KPI of the catalogue in a period
    ("2027", "2027-H1", "2027-Q1", "2027-01"): 201 when new, 200 otherwise. Audited;
    targets are not published (no topic carries them).

    Roles: admin.
    """
    put = await targets.put_target(uow, principal, subject, kpi, period, body.value)
    response.status_code = 201 if put.created else 200
    return target_view(put.value)


@router.get("/targets", response_model=list[TargetView], responses=problem_responses(401))
async def list_targets(
    uow: UoW, principal: Scoped, subject: str | None = None, kpi: str | None = None
) -> list[TargetView]:
    """The targets the caller may see, by subject, KPI and period; `?subject=`, `?kpi=` filter.

    Roles: admin, ops, payroll (all), manager (their subtree's and its teams'), rep (their own).
    """
    return [target_view(t) for t in await targets.list_targets(uow, principal, subject, kpi)]


@router.get(
    "/targets/reconcile",
    response_model=list[ReconciliationView],
    responses=problem_responses(401, 403, 404, 422),
)
async def reconcile(
    period: str,
    uow: UoW,
    principal: TeamReader,
    settings: Settings,
    team: str | None = None,
    kpi: str | None = None,
    tolerance: Decimal | None = None,
) -> list[ReconciliationView]:
    """Each team's own target beside the sum (counts, revenue, margin, velocity) or the mean
    (ratios, averages) of its members' targets, and the gap; `flagged` when
    |gap| > tolerance x |team target| or either side is missing. Without `team`, every team
    the caller may see; without `kpi`, every KPI with a target on either side. `tolerance`
    is a fraction (default `PROVISIO_RECONCILE_TOLERANCE`, 0.05).

    Roles: admin, ops, payroll, manager (teams whose lead and members are in their subtree).
    """
    allowed = settings.reconcile_tolerance if tolerance is None else tolerance
    rows = await targets.reconcile_targets(uow, principal, period, allowed, team, kpi)
    return [_reconciliation(row, allowed) for row in rows]


@router.get(
    "/targets/{subject}/{kpi}/{period}",
    response_model=TargetView,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_target(subject: str, kpi: str, period: str, uow: UoW, principal: Scoped) -> TargetView:
    """One target.

    Roles: admin, ops, payroll, manager (their subtree, its teams), rep (their own).
    """
    return target_view(await targets.get_target(uow, principal, subject, kpi, period))
