"""Statement use cases: what a payee earned per pay period, and one pay period in detail.

A rep sees only their own; a manager their subtree; admin, payroll and ops everyone
(`provisio_common.auth.ensure_may_see`, 403 otherwise).
"""

from __future__ import annotations

from payout_service.domain.statements import PayPeriodStatement, PayPeriodTotal, statement, summaries
from payout_service.service_layer import PayoutUoW
from provisio_common.auth import Principal, ensure_may_see
from provisio_common.problems import Problem


async def list_statements(uow: PayoutUoW, principal: Principal, payee: str) -> list[PayPeriodTotal]:
    """Every (pay period, currency) with entries for the payee, with totals (read only)."""
    async with uow:
        ensure_may_see(principal, payee, await uow.repos.payees.managers())
        entries = await uow.repos.ledger.by_payee(payee)
    return summaries(entries)


async def get_statement(
    uow: PayoutUoW, principal: Principal, payee: str, pay_period: str
) -> PayPeriodStatement:
    """One pay period's lines with every entry and why (read only); 404 without entries."""
    async with uow:
        ensure_may_see(principal, payee, await uow.repos.payees.managers())
        entries = await uow.repos.ledger.by_payee_and_pay_period(payee, pay_period)
    if not entries:
        raise Problem(404, f"no statement for {payee!r} in {pay_period!r}")
    return statement(pay_period, entries)
