"""Attainment: won value credited to a payee in a period, against the period's quota.

Calendar dates as the CRM sent them; the plan-exact attainment of each component is in
the ledger entries' explanations.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from provisio_calc.periods import period_bounds
from provisio_common.auth import Principal, ensure_may_see
from provisio_common.problems import invalid
from quota_service.domain.attainment import attainment
from quota_service.domain.periods import PERIOD_HINT, is_period
from quota_service.service_layer.changes import QuotaUoW


@dataclass(frozen=True)
class Attainment:
    """A payee's credited won value in a period, the quota, and value / quota x 100."""

    payee: str
    period: str
    value: Decimal
    quota: Decimal | None
    attainment: Decimal | None


async def attainment_of(uow: QuotaUoW, principal: Principal, payee: str, period: str) -> Attainment:
    """The payee's attainment in the period, if `principal` may see that payee (a rep
    themselves, a manager their subtree; 403 otherwise)."""
    if not is_period(period):
        raise invalid([{"field": "period", "message": PERIOD_HINT}])
    async with uow:
        ensure_may_see(principal, payee, await uow.repos.payees.managers())
        first, last = period_bounds(period)
        value = await uow.repos.credits.won_value(payee, first, last)
        quota = await uow.repos.quotas.get(payee, period)
    amount = None if quota is None else quota.amount
    return Attainment(payee, period, value, amount, attainment(value, amount))
