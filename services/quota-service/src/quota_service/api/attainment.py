"""`GET /attainment/{payee}/{period}`: credited won value against quota."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter

from provisio_calc.periods import period_bounds
from provisio_common.auth import CurrentPrincipal, ensure_may_see
from provisio_common.deps import Session
from provisio_common.money import format_amount
from provisio_common.problems import invalid
from quota_service.adapters.tables import credits, payees, quotas
from quota_service.domain.attainment import attainment
from quota_service.domain.periods import is_period

router = APIRouter(tags=["attainment"])


async def may_see(session: Session, principal: CurrentPrincipal, payee: str) -> None:
    rows = (await session.execute(sa.select(payees.c.id, payees.c.manager))).all()
    ensure_may_see(principal, payee, {r.id: r.manager for r in rows})


@router.get("/attainment/{payee}/{period}")
async def get_attainment(
    payee: str, period: str, session: Session, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Won deals credited to the payee with close date in the period, against the quota.

    Calendar dates as the CRM sent them; the plan-exact attainment of each component is
    in the ledger entries' explanations.
    """
    if not is_period(period):
        raise invalid([{"field": "period", "message": "use 2027, 2027-H1, 2027-Q1 or 2027-01"}])
    await may_see(session, principal, payee)
    first, last = period_bounds(period)
    value = (
        await session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(credits.c.amount), 0)).where(
                credits.c.payee == payee,
                credits.c.status == "won",
                credits.c.close_date.between(first, last),
            )
        )
    ).scalar_one()
    quota = (
        await session.execute(
            sa.select(quotas.c.amount).where(quotas.c.payee == payee, quotas.c.period == period)
        )
    ).scalar()
    value = Decimal(value)
    pct = attainment(value, None if quota is None else Decimal(quota))
    return {
        "payee": payee,
        "period": period,
        "value": format_amount(value),
        "quota": None if quota is None else format_amount(Decimal(quota)),
        "attainment": None if pct is None else format_amount(pct),
    }
