"""`GET /attainment/{payee}/{period}`: credited won value against quota, one currency."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel

from provisio_common.deps import UoW
from provisio_common.money import format_amount
from provisio_common.problems import problem_responses
from quota_service.api.deps import Scoped, Settings
from quota_service.domain.kpis import MissingFx
from quota_service.service_layer.attainment import attainment_of

router = APIRouter(tags=["attainment"])


class MissingFxView(BaseModel):
    """An amount left out because no `currency -> target` rate is held on or before `day`."""

    item: str
    currency: str
    day: date | None


def missing_view(missing: list[MissingFx]) -> list[MissingFxView]:
    return [MissingFxView(item=m.item, currency=m.currency, day=m.day) for m in missing]


class AttainmentView(BaseModel):
    """Won value credited in the period, in `currency`, the quota, and value / quota x 100
    (null without a quota)."""

    payee: str
    period: str
    currency: str
    value: str
    quota: str | None
    attainment: str | None
    missing_fx: list[MissingFxView]
    members: list[str]
    members_without_quota: list[str]


@router.get(
    "/attainment/{payee}/{period}",
    response_model=AttainmentView,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_attainment(
    payee: str, period: str, uow: UoW, principal: Scoped, settings: Settings
) -> AttainmentView:
    """Won deals credited to a payee (`ann`) or a team's members (`team:east`) with close
    date in the period, converted to one currency, against the quota (PLANS.md rule 6).

    A payee's figures are in their plan's currency; a team's in the reporting currency,
    rolled up from its members (each deal counted if its member was in the team on its
    close day; the quota is the sum of the members' quotas, missing if one is). A credit
    without an fx rate is listed in `missing_fx` and left out, never guessed. Calendar
    dates as the CRM sent them; the plan-exact attainment of each component is in the
    ledger entries' explanations.

    Roles: admin, ops, payroll, manager (their subtree; a team whose lead and members all
    are in it), rep (themselves).
    """
    seen = await attainment_of(uow, principal, payee, period, settings.reporting_currency)
    return AttainmentView(
        payee=seen.payee,
        period=seen.period,
        currency=seen.currency,
        value=format_amount(seen.value),
        quota=None if seen.quota is None else format_amount(seen.quota),
        attainment=None if seen.attainment is None else format_amount(seen.attainment),
        missing_fx=missing_view(seen.missing_fx),
        members=seen.members,
        members_without_quota=seen.members_without_quota,
    )
