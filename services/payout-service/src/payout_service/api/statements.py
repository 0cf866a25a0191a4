"""Statements: `GET /statements/{payee}` and `GET /statements/{payee}/{pay_period}`.

A rep sees only their own; a manager their subtree; admin and ops everyone; payroll
reads batches, not statements.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from payout_service.api.deps import PayeeReader, Today
from payout_service.service_layer import statements
from provisio_common.deps import UoW
from provisio_common.problems import problem_responses

router = APIRouter(tags=["statements"])


class PayPeriodTotalView(BaseModel):
    """One (pay period, currency) row. `earned` (cash ledger entries paid in the pay
    period), `adjustments` (approved), `draw_topup`, `recovered`, `draw_balance` and
    `non_cash` at full precision; `payable` = round(earned + adjustments + draw_topup -
    recovered) + carried_in, rounded once to the currency's minor unit with the plan's
    rounding mode. A closed row is frozen; a negative payable is carried out of it
    (`carried_out`) into the next pay period's `carried_in`. `paid`: what payroll
    acknowledged as paid."""

    pay_period: str
    currency: str
    earned: str
    non_cash: str
    payable: str
    entries: int = Field(description="how many ledger entries the row sums")
    adjustments: str
    draw_topup: str
    recovered: str
    draw_balance: str = Field(
        description="what is owed on a recoverable draw after the pay period (0 or negative)"
    )
    carried_in: str
    carried_out: str
    paid: str
    status: str = Field(description="open or closed")


class StatementListView(BaseModel):
    """A payee's pay periods with earnings, adjustments, draws or a carried amount."""

    payee: str
    pay_periods: list[PayPeriodTotalView]


class StatementEntryView(BaseModel):
    """One ledger entry on a line."""

    entry_id: str
    date: str = Field(description="the entry date (ISO 8601)")
    deal: str | None
    amount: str
    explanation: dict[str, Any] = Field(description="the calculation that produced the entry")


class StatementLineView(BaseModel):
    """One (plan, component, period, currency) line with its entries; a late line (entries
    dated in a pay period that had closed) names its `original_pay_period`."""

    plan: str
    component: str
    period: str
    currency: str
    amount: str
    cash: bool
    entries: list[StatementEntryView]
    original_pay_period: str | None


class StatementAdjustmentView(BaseModel):
    """One approved adjustment counted in the pay period."""

    id: str
    amount: str
    currency: str
    reason: str
    original_pay_period: str | None = Field(
        description="the pay period it named, if it closed before approval"
    )


class StatementView(BaseModel):
    """One pay period of a payee: totals per currency, lines with every entry, adjustments."""

    payee: str
    pay_period: str
    totals: list[PayPeriodTotalView]
    lines: list[StatementLineView]
    approved_adjustments: list[StatementAdjustmentView]


@router.get("/statements/{payee}", response_model=StatementListView, responses=problem_responses(401, 403))
async def list_statements(payee: str, uow: UoW, principal: PayeeReader, today: Today) -> StatementListView:
    """Every pay period of the payee with its figures, open and closed. A rep sees only
    their own, a manager their subtree.

    Roles: admin, ops, manager, rep.
    """
    totals = await statements.list_statements(uow, principal, payee, today)
    return StatementListView.model_validate({"payee": payee, "pay_periods": totals})


@router.get(
    "/statements/{payee}/{pay_period}",
    response_model=StatementView,
    responses=problem_responses(401, 403, 404),
)
async def get_statement(
    payee: str, pay_period: str, uow: UoW, principal: PayeeReader, today: Today
) -> StatementView:
    """One pay period: figures, lines with every entry and its explanation, approved
    adjustments. A rep sees only their own, a manager their subtree.

    Roles: admin, ops, manager, rep.
    """
    found = await statements.get_statement(uow, principal, payee, pay_period, today)
    return StatementView.model_validate({"payee": payee, **found})
