"""Statements: `GET /statements/{payee}` and `GET /statements/{payee}/{pay_period}`.

A rep sees only their own; a manager their subtree; admin, payroll and ops everyone.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter

from payout_service.adapters.tables import ledger_entries, payees
from payout_service.domain.statements import Entry, statement, summaries
from provisio_common.auth import CurrentPrincipal, Principal, ensure_may_see
from provisio_common.deps import Session
from provisio_common.problems import Problem

router = APIRouter(tags=["statements"])


async def check_access(session: Session, principal: Principal, payee: str) -> None:
    rows = (await session.execute(sa.select(payees.c.id, payees.c.manager))).all()
    ensure_may_see(principal, payee, {r.id: r.manager for r in rows})


def _entries(rows: list[Any]) -> list[Entry]:
    return [
        Entry(
            r.entry_id,
            r.plan,
            r.component,
            r.period,
            r.entry_date,
            r.pay_period,
            r.amount,
            r.currency,
            r.rounding,
            r.cash,
            r.deal,
            r.explanation,
        )
        for r in rows
    ]


@router.get("/statements/{payee}")
async def list_statements(payee: str, session: Session, principal: CurrentPrincipal) -> dict[str, Any]:
    """Every pay period with earnings for the payee, with totals."""
    await check_access(session, principal, payee)
    rows = (await session.execute(sa.select(ledger_entries).where(ledger_entries.c.payee == payee))).all()
    return {"payee": payee, "pay_periods": summaries(_entries(list(rows)))}


@router.get("/statements/{payee}/{pay_period}")
async def get_statement(
    payee: str, pay_period: str, session: Session, principal: CurrentPrincipal
) -> dict[str, Any]:
    """One pay period: lines with every entry and its explanation."""
    await check_access(session, principal, payee)
    rows = (
        await session.execute(
            sa.select(ledger_entries).where(
                ledger_entries.c.payee == payee, ledger_entries.c.pay_period == pay_period
            )
        )
    ).all()
    if not rows:
        raise Problem(404, f"no statement for {payee!r} in {pay_period!r}")
    return {"payee": payee, **statement(pay_period, _entries(list(rows)))}
