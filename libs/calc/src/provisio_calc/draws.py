"""Payouts: entries grouped into pay periods, draws applied, `payable` rounded once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from provisio_calc.money import round_money
from provisio_calc.numbers import ZERO, divide
from provisio_calc.periods import MONTHS_IN, pay_period_of, periods_between
from provisio_calc.plan import Plan
from provisio_calc.result import Line, Payout


def draw_per_pay_period(plan: Plan) -> Decimal | None:
    """The draw amount scaled to one pay period: amount * pay-period months / `per` months."""
    if plan.draw is None:
        return None
    months = Decimal(MONTHS_IN[plan.pay_frequency])
    per = Decimal(MONTHS_IN[plan.draw.per])
    if months == per:
        return plan.draw.amount
    return divide(plan.draw.amount * months, per)


def payouts(plan: Plan, lines: Iterable[Line], payees: Iterable[str], as_of: date) -> list[Payout]:
    """One row per (payee, pay period) with an entry or a draw, through as_of's pay period.

    Draw arithmetic (rule 28), with e the cash earned in the pay period: below the draw,
    the top-up is draw - e and, if recoverable, the balance drops by it; otherwise
    recovered = min(e - draw, -balance). After the draw stops (effective.to) a balance
    is still recovered from positive earnings. Only `payable` is rounded.
    """
    last = pay_period_of(as_of, plan.pay_frequency)
    cash: dict[str, dict[str, Decimal]] = {}
    non_cash: dict[str, dict[str, Decimal]] = {}
    pay_periods: dict[date, str] = {}
    for line in lines:
        target = cash if line.cash else non_cash
        per_payee = target.setdefault(line.payee, {})
        for entry in line.entries:
            pay_period = pay_periods.get(entry.day)
            if pay_period is None:
                pay_period = pay_periods[entry.day] = pay_period_of(entry.day, plan.pay_frequency)
            if pay_period > last:
                continue
            per_payee[pay_period] = per_payee.get(pay_period, ZERO) + entry.amount
    draw = draw_per_pay_period(plan)
    draw_periods: list[str] = []
    if draw is not None:
        end = min(as_of, plan.effective.to)
        draw_periods = periods_between(plan.effective.from_, end, plan.pay_frequency)
    draw_set = set(draw_periods)
    recoverable = plan.draw.recoverable if plan.draw is not None else False
    rows: list[Payout] = []
    everyone = set(payees) | set(cash) | set(non_cash)
    for payee in sorted(everyone):
        earned_by = cash.get(payee, {})
        non_cash_by = non_cash.get(payee, {})
        periods = sorted(set(earned_by) | set(non_cash_by) | draw_set)
        balance = ZERO
        for pay_period in periods:
            earned = earned_by.get(pay_period, ZERO)
            topup = ZERO
            recovered = ZERO
            if draw is not None and pay_period in draw_set:
                if earned < draw:
                    topup = draw - earned
                    if recoverable:
                        balance -= topup
                else:
                    recovered = min(earned - draw, -balance)
            elif balance < 0 and earned > 0:
                recovered = min(earned, -balance)
            balance += recovered
            payable = round_money(earned + topup - recovered, plan.currency, plan.rounding)
            rows.append(
                Payout(
                    payee=payee,
                    pay_period=pay_period,
                    earned=earned,
                    draw_topup=topup,
                    recovered=recovered,
                    balance=balance,
                    payable=payable,
                    non_cash=non_cash_by.get(pay_period, ZERO),
                )
            )
    return rows
