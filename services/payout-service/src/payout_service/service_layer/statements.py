"""Statement use cases: a payee's pay periods with their figures, and one pay period in
detail.

A rep sees only their own; a manager their subtree; admin and ops everyone
(`provisio_common.auth.ensure_may_see`, 403 otherwise). Payroll reads batches, not
statements.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from payout_service.domain.batches import BatchLine
from payout_service.domain.periods import Calendar
from payout_service.domain.statements import (
    PayeeBooks,
    PayPeriodStatement,
    PayPeriodTotal,
    StatementRow,
    statement,
    statement_rows,
    summaries,
)
from payout_service.service_layer import PayoutUoW
from provisio_common.auth import Principal, ensure_may_see
from provisio_common.money import exact_sum
from provisio_common.problems import Problem


async def calendar(uow: PayoutUoW) -> Calendar:
    """Which pay periods are closed (inside an entered unit of work)."""
    return Calendar.of(await uow.repos.pay_periods.closed())


async def books(uow: PayoutUoW, payee: str, today: date, closed: Calendar | None = None) -> PayeeBooks:
    """Everything a payee's statements are computed from (inside an entered unit of work)."""
    repos = uow.repos
    return PayeeBooks(
        payee=payee,
        entries=await repos.ledger.by_payee(payee),
        adjustments=await repos.adjustments.find(payee=payee, status="approved"),
        plans=await repos.plans.latest(),
        record=await repos.payees.get(payee),
        frozen=await repos.pay_periods.frozen(payee),
        calendar=closed or await calendar(uow),
        today=today,
    )


async def rows_of(
    uow: PayoutUoW, payee: str, today: date, closed: Calendar | None = None
) -> list[StatementRow]:
    """A payee's statement rows, open and closed (inside an entered unit of work)."""
    return statement_rows(await books(uow, payee, today, closed))


def paid(lines: list[BatchLine]) -> dict[tuple[str, str], Decimal]:
    """What payroll acknowledged as paid, in cash, by (pay period, currency)."""
    amounts: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for line in lines:
        if line.status == "paid" and line.cash:
            amounts[(line.pay_period, line.currency)].append(line.amount)
    return {key: exact_sum(values) for key, values in amounts.items()}


async def _may_see(uow: PayoutUoW, principal: Principal, payee: str) -> None:
    if principal.role == "payroll":
        raise Problem(403, "payroll reads payout batches, not statements")
    ensure_may_see(principal, payee, await uow.repos.payees.managers())


async def list_statements(
    uow: PayoutUoW, principal: Principal, payee: str, today: date
) -> list[PayPeriodTotal]:
    """Every (pay period, currency) of the payee with its figures (read only)."""
    async with uow:
        await _may_see(uow, principal, payee)
        rows = await rows_of(uow, payee, today)
        lines = await uow.repos.batches.lines_of_payee(payee)
    return summaries(rows, paid(lines))


async def get_statement(
    uow: PayoutUoW, principal: Principal, payee: str, pay_period: str, today: date
) -> PayPeriodStatement:
    """One pay period's figures, lines with every entry and why, and the approved
    adjustments (read only); 404 when the payee has nothing in it."""
    async with uow:
        await _may_see(uow, principal, payee)
        found = await books(uow, payee, today)
        rows = [r for r in statement_rows(found) if r.pay_period == pay_period]
        entries = await uow.repos.ledger.by_payee_and_pay_period(payee, pay_period)
        lines = await uow.repos.batches.lines_of_payee(payee)
    if not rows and not entries:
        raise Problem(404, f"no statement for {payee!r} in {pay_period!r}")
    return statement(pay_period, summaries(rows, paid(lines)), entries, found.adjustments)
