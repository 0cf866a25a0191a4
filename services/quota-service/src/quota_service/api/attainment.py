"""`GET /attainment/{payee}/{period}`: credited won value against quota."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from provisio_common.auth import CurrentPrincipal
from provisio_common.deps import UoW
from provisio_common.money import format_amount
from provisio_common.problems import problem_responses
from quota_service.service_layer.attainment import attainment_of

router = APIRouter(tags=["attainment"])


class AttainmentView(BaseModel):
    """Won value credited in the period, the quota, and value / quota x 100 (null without a quota)."""

    payee: str
    period: str
    value: str
    quota: str | None
    attainment: str | None


@router.get(
    "/attainment/{payee}/{period}",
    response_model=AttainmentView,
    responses=problem_responses(401, 403, 422),
)
async def get_attainment(payee: str, period: str, uow: UoW, principal: CurrentPrincipal) -> AttainmentView:
    """Won deals credited to the payee with close date in the period, against the quota.

    Calendar dates as the CRM sent them; the plan-exact attainment of each component is
    in the ledger entries' explanations.

    Roles: admin, ops, payroll, manager (their subtree), rep (themselves).
    """
    seen = await attainment_of(uow, principal, payee, period)
    return AttainmentView(
        payee=seen.payee,
        period=seen.period,
        value=format_amount(seen.value),
        quota=None if seen.quota is None else format_amount(seen.quota),
        attainment=None if seen.attainment is None else format_amount(seen.attainment),
    )
