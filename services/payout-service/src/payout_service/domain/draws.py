"""Draws in the service path, with libs/calc's draw arithmetic (PLANS.md rules 27-29, 33).

There is one implementation of the draw: `provisio_calc.draws.payouts`, the function
`provisio calc` and calc-engine use. This module only feeds it: one (payee, plan) stream
at a time, the cash and non-cash amounts of each open pay period as one dated entry, the
plan's draw window cut to the payee's assignment and to today.

`payouts` starts every run at a zero balance. After pay periods have closed, the stream
continues from the balance frozen at the last close: the last closed pay period is put in
front as an opening period whose cash makes libs/calc's arithmetic produce exactly that
balance (cash = draw + balance, so its top-up is -balance), and its row is dropped. (A
plan whose current version has a non-recoverable draw recovers no balance frozen under an
earlier recoverable one.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from payout_service.domain.periods import first_day, last_day, next_period
from provisio_calc import Entry, Line, Plan
from provisio_calc.draws import draw_per_pay_period, payouts
from provisio_calc.numbers import EXACT
from provisio_calc.plan import DateRange, Draw

ZERO = Decimal(0)


@dataclass(frozen=True)
class DrawRow:
    """One pay period of one (payee, plan) stream, at full precision (nothing rounded)."""

    pay_period: str
    cash: Decimal
    draw_topup: Decimal
    recovered: Decimal
    balance: Decimal
    non_cash: Decimal

    @property
    def unrounded(self) -> Decimal:
        """cash + top-up - recovered: what rounds (once) to the payable."""
        with localcontext(EXACT):
            return self.cash + self.draw_topup - self.recovered


@dataclass(frozen=True)
class Opening:
    """Where a stream continues after closes: the last closed pay period and the balance
    frozen there (0 or negative)."""

    pay_period: str
    balance: Decimal


def _line(cash: bool, amounts: Mapping[str, Decimal]) -> Line:
    entries = tuple(Entry(first_day(p), amount, None) for p, amount in sorted(amounts.items()))
    return Line("payee", "stream", "", ZERO, None, ZERO, cash, {}, entries)


def draw_rows(
    plan: Plan,
    cash: Mapping[str, Decimal],
    non_cash: Mapping[str, Decimal],
    *,
    window: tuple[date, date] | None,
    today: date,
    opening: Opening | None = None,
) -> dict[str, DrawRow]:
    """The rows of one stream by pay period: every pay period of `cash` / `non_cash`
    (pay periods of the plan's pay frequency), plus every pay period the draw covers.

    `window` is when the payee is on the plan (None: not on it, so no draw); draws run
    through today's pay period at most; with `opening`, from the pay period after it.
    """
    start = plan.effective.from_
    end = min(plan.effective.to, today)
    if window is not None:
        start, end = max(start, window[0]), min(end, window[1])
    draw = plan.draw if window is not None else None
    cash = dict(cash)
    if opening is not None:
        start = max(start, first_day(next_period(opening.pay_period)))
        if opening.balance < 0 and (draw is None or draw.recoverable):
            if draw is None:
                # Only recovery continues (rule 33): a one-period draw sets the balance.
                draw = Draw(amount=Decimal(1), per=plan.pay_frequency, recoverable=True)
                end = last_day(opening.pay_period)
            else:
                end = max(end, last_day(opening.pay_period))
            start = first_day(opening.pay_period)
            amount = draw_per_pay_period(plan.model_copy(update={"draw": draw}))
            assert amount is not None
            with localcontext(EXACT):
                cash[opening.pay_period] = amount + opening.balance
    if end < start:
        draw = None
    terms = plan.model_copy(
        update={"draw": draw, "effective": DateRange.model_validate({"from": start, "to": max(start, end)})}
    )
    latest = max([today, *(last_day(p) for p in (*cash, *non_cash))])
    with localcontext(EXACT):
        rows = payouts(terms, [_line(True, cash), _line(False, non_cash)], ["payee"], latest)
    found = {
        r.pay_period: DrawRow(r.pay_period, r.earned, r.draw_topup, r.recovered, r.balance, r.non_cash)
        for r in rows
    }
    if opening is not None:
        found.pop(opening.pay_period, None)
    return found
