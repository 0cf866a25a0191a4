"""Adjustments: `POST /adjustments`, `POST /adjustments/{id}/approve|reject`, `GET /adjustments`."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from payout_service.api.deps import Admin, AdminOrOps, Today
from payout_service.domain.adjustments import Adjustment
from payout_service.service_layer import adjustments
from provisio_common.deps import UoW
from provisio_common.events import Amount
from provisio_common.money import plain_decimal
from provisio_common.problems import problem_responses

router = APIRouter(tags=["adjustments"])


class AdjustmentIn(BaseModel):
    """A manual amount for a payee: a decimal string, may be negative."""

    payee: str = Field(min_length=1)
    amount: Amount
    currency: str = Field(min_length=3, max_length=3)
    reason: str = Field(min_length=1)
    pay_period: str | None = Field(
        default=None, description="default: the earliest open pay period of the payee's pay frequency"
    )


class DecisionIn(BaseModel):
    """Why (optional)."""

    reason: str | None = None


class AdjustmentView(BaseModel):
    """An adjustment: `pending` until another admin approves or rejects it."""

    id: str
    payee: str
    amount: str
    currency: str
    reason: str
    pay_period: str = Field(description="the pay period it names")
    counts_in: str | None = Field(
        description="where it counts once approved (the next open one if its own closed)"
    )
    status: str
    created_by: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None


def view(adjustment: Adjustment) -> AdjustmentView:
    return AdjustmentView(
        id=adjustment.id,
        payee=adjustment.payee,
        amount=plain_decimal(adjustment.amount),
        currency=adjustment.currency,
        reason=adjustment.reason,
        pay_period=adjustment.pay_period,
        counts_in=adjustment.paid_in if adjustment.status == "approved" else None,
        status=adjustment.status,
        created_by=adjustment.created_by,
        created_at=adjustment.created_at,
        decided_by=adjustment.decided_by,
        decided_at=adjustment.decided_at,
        decision_reason=adjustment.decision_reason,
    )


@router.post(
    "/adjustments", status_code=201, response_model=AdjustmentView, responses=problem_responses(401, 403, 422)
)
async def create_adjustment(body: AdjustmentIn, uow: UoW, principal: Admin, today: Today) -> AdjustmentView:
    """Create a pending adjustment for a known payee. Only approved adjustments count.
    Audited.

    Roles: admin.
    """
    created = await adjustments.create_adjustment(
        uow,
        principal,
        payee=body.payee,
        amount=body.amount,
        currency=body.currency.upper(),
        reason=body.reason,
        pay_period=body.pay_period,
        today=today,
    )
    return view(created)


@router.post(
    "/adjustments/{adjustment_id}/approve",
    response_model=AdjustmentView,
    responses=problem_responses(401, 403, 404, 409),
)
async def approve_adjustment(
    adjustment_id: str, uow: UoW, principal: Admin, body: DecisionIn | None = None
) -> AdjustmentView:
    """Approve a pending adjustment: another admin than its creator (409 otherwise, and
    409 when it is no longer pending). Audited.

    Roles: admin.
    """
    reason = body.reason if body else None
    return view(
        await adjustments.decide_adjustment(uow, principal, adjustment_id, approve=True, reason=reason)
    )


@router.post(
    "/adjustments/{adjustment_id}/reject",
    response_model=AdjustmentView,
    responses=problem_responses(401, 403, 404, 409),
)
async def reject_adjustment(
    adjustment_id: str, uow: UoW, principal: Admin, body: DecisionIn | None = None
) -> AdjustmentView:
    """Reject a pending adjustment: another admin than its creator (409 otherwise).
    Audited.

    Roles: admin.
    """
    reason = body.reason if body else None
    return view(
        await adjustments.decide_adjustment(uow, principal, adjustment_id, approve=False, reason=reason)
    )


@router.get("/adjustments", response_model=list[AdjustmentView], responses=problem_responses(401, 403, 422))
async def list_adjustments(
    uow: UoW, principal: AdminOrOps, payee: str | None = None, status: str | None = None
) -> list[AdjustmentView]:
    """Adjustments, oldest first, of a payee and/or in a status (pending, approved, rejected).

    Roles: admin, ops.
    """
    return [view(a) for a in await adjustments.list_adjustments(uow, payee, status)]
