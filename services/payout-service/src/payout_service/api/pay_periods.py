"""Pay periods: `GET /pay-periods`, `POST /pay-periods/{pay_period}/close`."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from payout_service.api.deps import Admin, AdminOrOps, Today
from payout_service.service_layer import pay_periods
from provisio_common.deps import UoW
from provisio_common.problems import problem_responses

router = APIRouter(tags=["pay periods"])


class PayPeriodView(BaseModel):
    """A pay period: open, or closed (when, by whom, how many statements it froze)."""

    pay_period: str
    status: str = Field(description="open or closed")
    closed_at: datetime | None = None
    closed_by: str | None = None
    statements: int | None = Field(default=None, description="statement rows frozen by the close")


@router.get("/pay-periods", response_model=list[PayPeriodView], responses=problem_responses(401, 403))
async def list_pay_periods(uow: UoW, principal: AdminOrOps) -> list[PayPeriodView]:
    """Closed pay periods and every open one with entries or adjustments, in order.

    Roles: admin, ops.
    """
    return [PayPeriodView(**vars(p)) for p in await pay_periods.list_pay_periods(uow)]


@router.post(
    "/pay-periods/{pay_period}/close",
    response_model=PayPeriodView,
    responses=problem_responses(401, 403, 409, 422),
)
async def close_pay_period(pay_period: str, uow: UoW, principal: Admin, today: Today) -> PayPeriodView:
    """Close a pay period: its statements freeze and never change again; entries and
    approved adjustments dated in it from now on land in the next open one (late lines
    showing `original_pay_period`). Pay periods close in order: an earlier open one is a
    409 naming it; closing twice is a 409. Audited.

    Roles: admin.
    """
    closed = await pay_periods.close_pay_period(uow, principal, pay_period, today)
    return PayPeriodView(
        pay_period=closed.pay_period,
        status="closed",
        closed_at=closed.closed_at,
        closed_by=closed.closed_by,
        statements=closed.statements,
    )
