"""Statements: `GET /statements/{payee}` and `GET /statements/{payee}/{pay_period}`.

A rep sees only their own; a manager their subtree; admin, payroll and ops everyone.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from payout_service.service_layer import statements
from provisio_common.auth import CurrentPrincipal
from provisio_common.deps import UoW
from provisio_common.problems import problem_responses

router = APIRouter(tags=["statements"])


class PayPeriodTotalView(BaseModel):
    """One (pay period, currency) row: `earned` and `non_cash` at full precision, `payable`
    rounded once to the currency's minor unit with the plan's rounding mode."""

    pay_period: str
    currency: str
    earned: str
    non_cash: str
    payable: str
    entries: int = Field(description="how many ledger entries the row sums")


class StatementListView(BaseModel):
    """A payee's pay periods with earnings."""

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
    """One (plan, component, period, currency) line with its entries."""

    plan: str
    component: str
    period: str
    currency: str
    amount: str
    cash: bool
    entries: list[StatementEntryView]


class StatementView(BaseModel):
    """One pay period of a payee: totals per currency and lines with every entry."""

    payee: str
    pay_period: str
    totals: list[PayPeriodTotalView]
    lines: list[StatementLineView]


@router.get("/statements/{payee}", response_model=StatementListView, responses=problem_responses(401, 403))
async def list_statements(payee: str, uow: UoW, principal: CurrentPrincipal) -> StatementListView:
    """Every pay period with earnings for the payee, with totals. A rep sees only their
    own, a manager their subtree.

    Roles: admin, payroll, ops, manager, rep.
    """
    totals = await statements.list_statements(uow, principal, payee)
    return StatementListView.model_validate({"payee": payee, "pay_periods": totals})


@router.get(
    "/statements/{payee}/{pay_period}",
    response_model=StatementView,
    responses=problem_responses(401, 403, 404),
)
async def get_statement(payee: str, pay_period: str, uow: UoW, principal: CurrentPrincipal) -> StatementView:
    """One pay period: lines with every entry and its explanation. A rep sees only their
    own, a manager their subtree.

    Roles: admin, payroll, ops, manager, rep.
    """
    found = await statements.get_statement(uow, principal, payee, pay_period)
    return StatementView.model_validate({"payee": payee, **found})
