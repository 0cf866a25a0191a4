"""Payouts: entries grouped into pay periods, draws applied, `payable` rounded once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class PayTerms:
    """How one pay period is paid: the draw (None: no draw), whether its top-up is
    recoverable, and the rounding of `payable`."""

    draw: Decimal | None
    recoverable: bool
    rounding: str


def _terms(plan: Plan, with_draw: bool) -> PayTerms:
    draw = draw_per_pay_period(plan) if with_draw else None
    recoverable = plan.draw.recoverable if plan.draw is not None else False
    return PayTerms(draw, recoverable, plan.rounding)


def pay_terms(versions: Sequence[Plan], pay_period: str, last: str) -> PayTerms:
    """The terms of a pay period: those of the newest version whose pay periods (from the
    one containing `effective.from` through the one containing `effective.to`) include it,
    with its draw while the pay period is not after `last` (rule 27); outside every
    version, no draw and the newest version's rounding (rule 33)."""
    for plan in reversed(versions):
        first = pay_period_of(plan.effective.from_, plan.pay_frequency)
        end = pay_period_of(plan.effective.to, plan.pay_frequency)
        if first <= pay_period <= end:
            return _terms(plan, plan.draw is not None and pay_period <= last)
    return _terms(versions[-1], False)


def payouts(
    plan: Plan | Sequence[Plan], lines: Iterable[Line], payees: Iterable[str], as_of: date
) -> list[Payout]:
    """One row per (payee, pay period) with an entry or a draw, through as_of's pay period.

    `plan` may be the versions of one plan, oldest first: each pay period is paid on the
    terms of the version that covers it (`pay_terms`). Draw arithmetic (rule 28), with e
    the cash earned in the pay period: below the draw, the top-up is draw - e and, if
    recoverable, the balance drops by it; otherwise recovered = min(e - draw, -balance).
    Where no draw applies (after effective.to, rule 33) a balance is still recovered from
    positive earnings. Only `payable` is rounded.
    """
    versions: Sequence[Plan] = (plan,) if isinstance(plan, Plan) else plan
    pay_frequency = versions[-1].pay_frequency
    currency = versions[-1].currency
    last = pay_period_of(as_of, pay_frequency)
    cash: dict[str, dict[str, Decimal]] = {}
    non_cash: dict[str, dict[str, Decimal]] = {}
    pay_periods: dict[date, str] = {}
    for line in lines:
        target = cash if line.cash else non_cash
        per_payee = target.setdefault(line.payee, {})
        for entry in line.entries:
            pay_period = pay_periods.get(entry.day)
            if pay_period is None:
                pay_period = pay_periods[entry.day] = pay_period_of(entry.day, pay_frequency)
            if pay_period > last:
                continue
            per_payee[pay_period] = per_payee.get(pay_period, ZERO) + entry.amount
    start = min(v.effective.from_ for v in versions)
    terms = {pp: pay_terms(versions, pp, last) for pp in periods_between(start, as_of, pay_frequency)}
    draw_set = {pp for pp, t in terms.items() if t.draw is not None}
    rows: list[Payout] = []
    everyone = set(payees) | set(cash) | set(non_cash)
    for payee in sorted(everyone):
        earned_by = cash.get(payee, {})
        non_cash_by = non_cash.get(payee, {})
        periods = sorted(set(earned_by) | set(non_cash_by) | draw_set)
        balance = ZERO
        for pay_period in periods:
            term = terms.get(pay_period)
            if term is None:
                term = terms[pay_period] = pay_terms(versions, pay_period, last)
            earned = earned_by.get(pay_period, ZERO)
            topup = ZERO
            recovered = ZERO
            draw = term.draw
            if draw is not None:
                if earned < draw:
                    topup = draw - earned
                    if term.recoverable:
                        balance -= topup
                else:
                    recovered = min(earned - draw, -balance)
            elif balance < 0 and earned > 0:
                recovered = min(earned, -balance)
            balance += recovered
            payable = round_money(earned + topup - recovered, currency, term.rounding)
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
