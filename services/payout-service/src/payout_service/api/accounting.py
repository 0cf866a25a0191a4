"""Commission expense (ASC 340-40): `GET /accounting/commission-expense`,
`GET /accounting/journal/{month}` (JSON) and `GET /accounting/journal/{month}.csv`,
`GET /accounting/schedules`. Read only; admin, payroll and ops."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from payout_service.domain.accounting import (
    Accounts,
    EntrySchedule,
    JournalLine,
    MonthFigures,
    journal_csv,
    month_text,
)
from payout_service.service_layer import accounting
from provisio_common.access import allow
from provisio_common.auth import Principal
from provisio_common.deps import UoW
from provisio_common.money import exact_sum, format_amount, format_minor
from provisio_common.problems import problem_responses

router = APIRouter(tags=["accounting"])

Reader = Annotated[Principal, Depends(allow("admin", "payroll", "ops"))]


async def accounts(request: Request) -> Accounts:
    """The journal's account codes of this service's settings."""
    settings = request.app.state.runtime.settings
    return Accounts(
        deferred_commissions=settings.account_deferred_commissions,
        commissions_payable=settings.account_commissions_payable,
        commission_expense=settings.account_commission_expense,
    )


AccountCodes = Annotated[Accounts, Depends(accounts)]


class MonthFiguresView(BaseModel):
    """One month and currency at full precision: `capitalized` (capitalized entries dated in
    the month), `amortization` (schedule amounts recognized in it), `expensed` (the other
    entries dated in it), `expense` = amortization + expensed, and the deferred-commissions
    asset: `asset_closing` = `asset_opening` + capitalized - amortization."""

    month: str
    currency: str
    capitalized: str
    amortization: str
    expensed: str
    expense: str
    asset_opening: str
    asset_closing: str

    @classmethod
    def of(cls, f: MonthFigures) -> MonthFiguresView:
        return cls(
            month=month_text(f.month),
            currency=f.currency,
            capitalized=format_amount(f.capitalized),
            amortization=format_amount(f.amortization),
            expensed=format_amount(f.expensed),
            expense=format_amount(f.expense),
            asset_opening=format_amount(f.asset_opening),
            asset_closing=format_amount(f.asset_closing),
        )


class CommissionExpenseView(BaseModel):
    """Each month of the range with each currency that has a figure in it, by month then
    currency (a month and currency where every figure is zero is left out)."""

    from_: str = Field(alias="from")
    to: str
    months: list[MonthFiguresView]


class JournalLineView(BaseModel):
    """One debit or credit, in the currency's minor unit."""

    currency: str
    kind: str = Field(description="capitalized, amortization or expensed")
    account: str = Field(description="the account code (settings PROVISIO_ACCOUNT_*)")
    account_name: str = Field(description="deferred_commissions, commissions_payable or commission_expense")
    debit: str
    credit: str

    @classmethod
    def of(cls, line: JournalLine) -> JournalLineView:
        return cls(
            currency=line.currency,
            kind=line.kind,
            account=line.account,
            account_name=line.account_name,
            debit=format_minor(line.debit, line.currency),
            credit=format_minor(line.credit, line.currency),
        )


class JournalTotalView(BaseModel):
    """Debits and credits of one currency (always equal)."""

    currency: str
    debit: str
    credit: str


class JournalView(BaseModel):
    """One month's journal: capitalized (Dr deferred_commissions / Cr commissions_payable),
    amortization (Dr commission_expense / Cr deferred_commissions), expensed (Dr
    commission_expense / Cr commissions_payable); a negative amount swaps the sides. Each
    amount is round(cumulative through the month) - round(cumulative through the month
    before), half-up, so the months sum exactly."""

    month: str
    lines: list[JournalLineView]
    totals: list[JournalTotalView]


class ScheduleRowView(BaseModel):
    """One month of the straight-line schedule and the month it is recognized in (the
    entry's own month for a month before it: cumulative catch-up)."""

    month: str
    amount: str
    recognized_in: str


class EntryScheduleView(BaseModel):
    """A ledger entry, its treatment (capitalized or expensed, and why) and, when
    capitalized, its schedule (summing exactly to the amount)."""

    entry_id: str
    payee: str
    plan: str
    plan_version: int
    component: str
    deal: str | None
    entry_date: str
    amount: str
    currency: str
    treatment: str = Field(description="capitalized or expensed")
    reason: str
    term_months: int | None
    schedule: list[ScheduleRowView]

    @classmethod
    def of(cls, s: EntrySchedule) -> EntryScheduleView:
        e = s.entry
        return cls(
            entry_id=e.entry_id,
            payee=e.payee,
            plan=e.plan,
            plan_version=e.plan_version,
            component=e.component,
            deal=e.deal,
            entry_date=e.entry_date.isoformat(),
            amount=format_amount(e.amount),
            currency=e.currency,
            treatment="capitalized" if s.treatment.capitalized else "expensed",
            reason=s.treatment.reason,
            term_months=s.treatment.term_months,
            schedule=[
                ScheduleRowView(
                    month=month_text(r.month),
                    amount=format_amount(r.amount),
                    recognized_in=month_text(r.recognized_in),
                )
                for r in s.rows
            ],
        )


class SchedulesView(BaseModel):
    """The entries of a deal (every entry when no deal is given)."""

    deal: str | None
    entries: list[EntryScheduleView]


@router.get(
    "/accounting/commission-expense",
    response_model=CommissionExpenseView,
    responses=problem_responses(401, 403, 422),
)
async def get_commission_expense(
    uow: UoW,
    principal: Reader,
    first: Annotated[str, Query(alias="from", description="the first month, YYYY-MM")],
    last: Annotated[str, Query(alias="to", description="the last month, YYYY-MM")],
) -> CommissionExpenseView:
    """Per month and currency: capitalized, amortization, expensed, and the deferred
    commissions asset (opening, closing), at full precision. A bad month is a 422 naming
    `from` or `to`; `from` after `to` a 422 naming `from`.

    Roles: admin, payroll, ops.
    """
    figures = await accounting.expense_report(uow, first, last)
    return CommissionExpenseView.model_validate(
        {"from": first, "to": last, "months": [MonthFiguresView.of(f) for f in figures]}
    )


def _totals(lines: list[JournalLine]) -> list[JournalTotalView]:
    debits: dict[str, list[Decimal]] = defaultdict(list)
    credits: dict[str, list[Decimal]] = defaultdict(list)
    for line in lines:
        debits[line.currency].append(line.debit)
        credits[line.currency].append(line.credit)
    return [
        JournalTotalView(
            currency=c,
            debit=format_minor(exact_sum(debits[c]), c),
            credit=format_minor(exact_sum(credits[c]), c),
        )
        for c in sorted(debits)
    ]


# Declared before `/accounting/journal/{month}`, which would otherwise take `2027-05.csv`.
@router.get(
    "/accounting/journal/{month}.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "the month's journal lines, one CSV row each"},
        **problem_responses(401, 403, 422),
    },
)
async def get_journal_csv(month: str, uow: UoW, principal: Reader, codes: AccountCodes) -> Response:
    """The month's journal as CSV (`text/csv`): header
    `month,currency,kind,account,account_name,debit,credit`, amounts with the currency's
    minor digits. A bad month is a 422 naming `month`.

    Roles: admin, payroll, ops.
    """
    found = await accounting.month_journal(uow, month, codes)
    return Response(
        journal_csv(found.lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="commission-journal-{month}.csv"'},
    )


@router.get(
    "/accounting/journal/{month}", response_model=JournalView, responses=problem_responses(401, 403, 422)
)
async def get_journal(month: str, uow: UoW, principal: Reader, codes: AccountCodes) -> JournalView:
    """The month's journal lines (rounded to each currency's minor unit by differences of
    rounded cumulative totals) and each currency's debit and credit totals. A bad month is
    a 422 naming `month`.

    Roles: admin, payroll, ops.
    """
    found = await accounting.month_journal(uow, month, codes)
    return JournalView(
        month=month_text(found.month),
        lines=[JournalLineView.of(line) for line in found.lines],
        totals=_totals(found.lines),
    )


@router.get("/accounting/schedules", response_model=SchedulesView, responses=problem_responses(401, 403))
async def get_schedules(uow: UoW, principal: Reader, deal: str | None = None) -> SchedulesView:
    """Each ledger entry of `deal` (every entry when none is given): capitalized or
    expensed and why, its term, and its straight-line schedule with the month each amount
    is recognized in.

    Roles: admin, payroll, ops.
    """
    found = await accounting.deal_schedules(uow, deal or None)
    return SchedulesView(deal=deal or None, entries=[EntryScheduleView.of(s) for s in found])
