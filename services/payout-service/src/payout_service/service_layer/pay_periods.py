"""Pay periods: close one (in order, once; its statements freeze), list them, count them
by status for the `provisio_pay_periods` gauge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from payout_service.adapters import metrics
from payout_service.domain.periods import ClosedPayPeriod, check_pay_period
from payout_service.domain.statements import StatementRow, freeze
from payout_service.service_layer import PayoutUoW, now, rules
from payout_service.service_layer.statements import calendar, rows_of
from provisio_common.auth import Principal


@dataclass(frozen=True)
class PayPeriodInfo:
    """A pay period someone has something in, open or closed."""

    pay_period: str
    status: str
    closed_at: datetime | None = None
    closed_by: str | None = None
    statements: int | None = None


async def everyone(uow: PayoutUoW) -> list[str]:
    """Every payee that may have a statement: known ones, ones with entries or adjustments."""
    repos = uow.repos
    ids = {p.id for p in await repos.payees.all()} | await repos.ledger.payees()
    ids |= {a.payee for a in await repos.adjustments.find(status="approved")}
    return sorted(ids)


async def close_pay_period(
    uow: PayoutUoW, principal: Principal, pay_period: str, today: date
) -> ClosedPayPeriod:
    """Close a pay period: every open statement row in it is frozen (a negative payable is
    carried into the next one). Pay periods close in order; closing twice is a conflict.
    Entries and approved adjustments dated in it from now on land in the next open one."""
    with rules():
        check_pay_period(pay_period)
    async with uow:
        repos = uow.repos
        await repos.pay_periods.lock(exclusive=True)
        closed = await calendar(uow)
        rows: list[StatementRow] = []
        for payee in await everyone(uow):
            rows += [r for r in await rows_of(uow, payee, today, closed) if r.status == "open"]
        known = {r.pay_period for r in rows} | await repos.ledger.pay_periods()
        with rules():
            closed.check_close(pay_period, known)
        frozen = [freeze(r) for r in rows if r.pay_period == pay_period]
        close = ClosedPayPeriod(pay_period, now(), principal.sub, len(frozen))
        await repos.pay_periods.close(close, frozen)
        await uow.audit(
            principal,
            "pay_period.close",
            f"pay_period:{pay_period}",
            {"status": "open"},
            {"status": "closed", "statements": len(frozen)},
        )
        await refresh_pay_period_gauge(uow)
        await uow.commit()
    return close


async def list_pay_periods(uow: PayoutUoW) -> list[PayPeriodInfo]:
    """Closed pay periods and every open one with entries or adjustments, in order."""
    async with uow:
        return await pay_periods_in(uow)


async def refresh_pay_period_gauge(uow: PayoutUoW) -> None:
    """Count the pay periods by status (inside an entered unit of work); the gauge shows the
    counts once the unit of work has committed."""
    statuses = {p.pay_period: p.status for p in await pay_periods_in(uow)}
    uow.after_commit(lambda: metrics.show_pay_periods(statuses))


async def pay_periods_in(uow: PayoutUoW) -> list[PayPeriodInfo]:
    """What `list_pay_periods` answers, inside an entered unit of work."""
    repos = uow.repos
    closes = await repos.pay_periods.closed()
    known = await repos.ledger.pay_periods()
    known |= {a.paid_in for a in await repos.adjustments.find()}
    closed = await calendar(uow)
    found = {
        c.pay_period: PayPeriodInfo(c.pay_period, "closed", c.closed_at, c.closed_by, c.statements)
        for c in closes
    }
    for pay_period in known:
        if pay_period not in found:
            status = "closed" if closed.is_closed(pay_period) else "open"
            found[pay_period] = PayPeriodInfo(pay_period, status)
    return [found[p] for p in sorted(found)]
