"""Adjustments: an admin creates one (pending), another approves or rejects it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from payout_service.domain.adjustments import ADJUSTMENT_STATUSES, Adjustment
from payout_service.domain.errors import Unprocessable
from payout_service.domain.periods import check_pay_period
from payout_service.service_layer import PayoutUoW, now, rules
from payout_service.service_layer.pay_periods import refresh_pay_period_gauge
from payout_service.service_layer.statements import calendar
from provisio_calc import load_plan, pay_period_of
from provisio_common.auth import Principal
from provisio_common.ids import new_id
from provisio_common.money import is_currency_code, plain_decimal
from provisio_common.problems import Problem


def audit_view(adjustment: Adjustment) -> dict[str, Any]:
    """The adjustment as the audit log keeps it."""
    return {
        "payee": adjustment.payee,
        "amount": plain_decimal(adjustment.amount),
        "currency": adjustment.currency,
        "reason": adjustment.reason,
        "pay_period": adjustment.pay_period,
        "status": adjustment.status,
        "landed_in": adjustment.landed_in,
    }


async def _pay_frequency(uow: PayoutUoW, payee: str, currency: str) -> str:
    """The pay frequency of the payee's plan in that currency (month without one)."""
    record = await uow.repos.payees.get(payee)
    plans = await uow.repos.plans.latest()
    for assignment in record.assignments if record else ():
        doc = plans.get(assignment.plan)
        if doc is not None and doc.document.get("currency") == currency:
            return load_plan(dict(doc.document)).pay_frequency
    return "month"


async def create_adjustment(
    uow: PayoutUoW,
    principal: Principal,
    *,
    payee: str,
    amount: Decimal,
    currency: str,
    reason: str,
    pay_period: str | None,
    today: date,
) -> Adjustment:
    """A pending adjustment for a known payee; the pay period defaults to the earliest
    open one of the payee's pay frequency (today's when none has closed)."""
    with rules():
        if not is_currency_code(currency):
            raise Unprocessable("currency", "must be an ISO 4217 code such as USD")
        if pay_period is not None:
            check_pay_period(pay_period)
    async with uow:
        if await uow.repos.payees.get(payee) is None:
            with rules():
                raise Unprocessable("payee", f"no payee {payee!r} is known")
        if pay_period is None:
            kind = await _pay_frequency(uow, payee, currency)
            pay_period = (await calendar(uow)).first_open(kind) or pay_period_of(today, kind)
        adjustment = Adjustment(
            id=new_id(),
            payee=payee,
            amount=amount,
            currency=currency,
            reason=reason,
            pay_period=pay_period,
            status="pending",
            created_by=principal.sub,
            created_at=now(),
        )
        await uow.repos.adjustments.add(adjustment)
        await uow.audit(
            principal, "adjustment.create", f"adjustment:{adjustment.id}", None, audit_view(adjustment)
        )
        await refresh_pay_period_gauge(uow)
        await uow.commit()
    return adjustment


async def decide_adjustment(
    uow: PayoutUoW, principal: Principal, adjustment_id: str, *, approve: bool, reason: str | None = None
) -> Adjustment:
    """Approve or reject a pending adjustment (not its creator). An approved one counts in
    its pay period, or in the first open one if its own has closed."""
    async with uow:
        repos = uow.repos
        await repos.pay_periods.lock(exclusive=False)
        adjustment = await repos.adjustments.get(adjustment_id)
        if adjustment is None:
            raise Problem(404, f"no adjustment {adjustment_id!r}")
        landing = (await calendar(uow)).landing(adjustment.pay_period)
        with rules():
            decided = adjustment.decide(approve, principal.sub, now(), landing, reason)
        await repos.adjustments.save(decided)
        action = "adjustment.approve" if approve else "adjustment.reject"
        await uow.audit(
            principal, action, f"adjustment:{adjustment_id}", audit_view(adjustment), audit_view(decided)
        )
        await refresh_pay_period_gauge(uow)
        await uow.commit()
    return decided


async def list_adjustments(uow: PayoutUoW, payee: str | None, status: str | None) -> list[Adjustment]:
    """Adjustments of a payee and/or in a status, oldest first."""
    if status is not None and status not in ADJUSTMENT_STATUSES:
        with rules():
            raise Unprocessable("status", f"must be one of {', '.join(ADJUSTMENT_STATUSES)}")
    async with uow:
        return await uow.repos.adjustments.find(payee=payee, status=status)
