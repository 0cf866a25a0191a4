"""Statements per (payee, pay period, currency): earned, adjustments, the draw, what was
carried in, the payable (rounded once) and what payroll paid; closed ones frozen.

Pure: `statement_rows` computes a payee's rows from their ledger entries, approved
adjustments, plans, assignments and the rows frozen when pay periods closed;
`summaries` and `statement` shape them for the API.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, TypedDict

from payout_service.domain.adjustments import Adjustment
from payout_service.domain.draws import DrawRow, Opening, draw_rows
from payout_service.domain.payees import Payee
from payout_service.domain.periods import Calendar, kind_of
from payout_service.domain.plans import PlanVersionDoc
from provisio_calc import Plan, PlanInvalid
from provisio_common.money import exact_sum, format_amount, format_minor, round_money

ZERO = Decimal(0)
StatementStatus = Literal["open", "closed"]


@dataclass(frozen=True)
class LedgerEntry:
    """One replicated `ledger.v1` entry (append-only; `entry_id` is the ledger's key).

    `landed_in` is set when the entry arrived after its pay period had closed: it is paid
    in that open pay period instead (a late line; `pay_period` stays the original)."""

    entry_id: str
    payee: str
    plan: str
    plan_version: int
    component: str
    period: str
    entry_date: date
    pay_period: str
    amount: Decimal
    currency: str
    rounding: str
    cash: bool
    deal: str | None
    explanation: Mapping[str, Any]
    posted_at: datetime
    landed_in: str | None = None

    @property
    def paid_in(self) -> str:
        """The pay period whose statement carries the entry."""
        return self.landed_in or self.pay_period


@dataclass(frozen=True)
class StatementRow:
    """One (payee, pay period, currency). Everything but `payable`, `carried_in` and
    `carried_out` at full precision; `payable` = round(earned + adjustments + draw_topup -
    recovered) + carried_in, rounded once with the plan's mode. A closed row is frozen: a
    negative payable is carried out to the next pay period (`carried_out`) and pays 0."""

    payee: str
    pay_period: str
    currency: str
    status: StatementStatus
    earned: Decimal
    adjustments: Decimal
    draw_topup: Decimal
    recovered: Decimal
    draw_balance: Decimal
    carried_in: Decimal
    carried_out: Decimal
    payable: Decimal
    non_cash: Decimal
    entries: int
    rounding: str
    balances: Mapping[str, Decimal] = field(default_factory=dict)


def freeze(row: StatementRow) -> StatementRow:
    """The row as a close freezes it: closed, a negative payable carried out."""
    if row.payable < 0:
        return replace(row, status="closed", carried_out=row.payable, payable=ZERO)
    return replace(row, status="closed", carried_out=ZERO)


@dataclass(frozen=True)
class PayeeBooks:
    """Everything one payee's statements are computed from."""

    payee: str
    entries: Sequence[LedgerEntry]
    adjustments: Sequence[Adjustment]
    plans: Mapping[str, PlanVersionDoc]
    record: Payee | None
    frozen: Sequence[StatementRow]
    calendar: Calendar
    today: date


@dataclass
class _Stream:
    """One (currency, plan) stream of a payee: cash and non-cash by open pay period."""

    currency: str
    plan: Plan | None
    cash: dict[str, Decimal] = field(default_factory=dict)
    non_cash: dict[str, Decimal] = field(default_factory=dict)
    rows: dict[str, DrawRow] = field(default_factory=dict)
    opening: Decimal = ZERO

    def add(self, pay_period: str, amount: Decimal, cash: bool) -> None:
        target = self.cash if cash else self.non_cash
        target[pay_period] = exact_sum([target.get(pay_period, ZERO), amount])

    def balance_at(self, pay_period: str) -> Decimal:
        before = [p for p in self.rows if p <= pay_period]
        return self.rows[max(before)].balance if before else self.opening


def _plans(books: PayeeBooks) -> dict[str, Plan]:
    parsed: dict[str, Plan] = {}
    for plan_id, doc in books.plans.items():
        try:
            parsed[plan_id] = doc.plan()
        except PlanInvalid:
            continue  # quota-service validated it; a newer libs/calc may not read it
    return parsed


def _primary(books: PayeeBooks, plans: Mapping[str, Plan]) -> dict[str, str]:
    """Per currency, the plan adjustments join and whose rounding the statement uses: the
    payee's plan in that currency (assigned or with entries), one with a draw first."""
    ids = {a.plan for a in books.record.assignments} if books.record else set()
    ids |= {e.plan for e in books.entries}
    found: dict[str, str] = {}
    for plan_id in sorted(ids, key=lambda p: (p not in plans or plans[p].draw is None, p)):
        plan = plans.get(plan_id)
        if plan is not None:
            found.setdefault(plan.currency, plan_id)
    return found


def _opening(books: PayeeBooks, currency: str, plan_id: str, last_closed: str) -> Decimal:
    """The draw balance of a (currency, plan) stream frozen at the last close."""
    frozen = [
        r
        for r in books.frozen
        if r.currency == currency and plan_id in r.balances and r.pay_period <= last_closed
    ]
    return max(frozen, key=lambda r: r.pay_period).balances[plan_id] if frozen else ZERO


Streams = dict[tuple[str, str | None], _Stream]


def _streams(books: PayeeBooks, plans: Mapping[str, Plan], primary: Mapping[str, str]) -> Streams:
    streams: Streams = {}

    def stream(currency: str, plan_id: str | None) -> _Stream:
        key = (currency, plan_id)
        if key not in streams:
            plan = plans.get(plan_id) if plan_id else None
            streams[key] = _Stream(currency, plan if plan and plan.currency == currency else None)
        return streams[key]

    calendar = books.calendar
    for entry in books.entries:
        if not calendar.is_closed(entry.paid_in):
            stream(entry.currency, entry.plan).add(entry.paid_in, entry.amount, entry.cash)
    for adj in books.adjustments:
        if adj.status == "approved" and not calendar.is_closed(adj.paid_in):
            stream(adj.currency, primary.get(adj.currency)).add(adj.paid_in, adj.amount, True)
    for assignment in books.record.assignments if books.record else ():
        plan = plans.get(assignment.plan)
        if plan is not None and plan.draw is not None:
            stream(plan.currency, assignment.plan)
    for row in books.frozen:
        for plan_id, balance in row.balances.items():
            if balance < 0:
                stream(row.currency, plan_id)
    return streams


def _run(books: PayeeBooks, plan_id: str | None, s: _Stream) -> None:
    """Fill the stream's rows: libs/calc's draw arithmetic on the plan's pay periods."""
    plan = s.plan
    kind = plan.pay_frequency if plan is not None else None
    drawn_cash = {p: v for p, v in s.cash.items() if kind_of(p) == kind}
    drawn_non_cash = {p: v for p, v in s.non_cash.items() if kind_of(p) == kind}
    if plan is not None and plan_id is not None:
        last = books.calendar.last_closed.get(plan.pay_frequency)
        opening = None
        if last is not None:
            s.opening = _opening(books, s.currency, plan_id, last)
            opening = Opening(last, s.opening)
        window = books.record.window(plan_id) if books.record else None
        s.rows = draw_rows(
            plan, drawn_cash, drawn_non_cash, window=window, today=books.today, opening=opening
        )
    for p in (set(s.cash) | set(s.non_cash)) - set(s.rows):
        s.rows[p] = DrawRow(p, s.cash.get(p, ZERO), ZERO, ZERO, ZERO, s.non_cash.get(p, ZERO))


def _carried(books: PayeeBooks) -> dict[tuple[str, str], Decimal]:
    """A negative payable frozen at the last close of a currency, carried into the first
    open pay period after it."""
    latest: dict[str, StatementRow] = {}
    for row in books.frozen:
        known = latest.get(row.currency)
        if known is None or row.pay_period > known.pay_period:
            latest[row.currency] = row
    return {
        (books.calendar.landing(row.pay_period), currency): row.carried_out
        for currency, row in latest.items()
        if row.carried_out != 0
    }


def statement_rows(books: PayeeBooks) -> list[StatementRow]:
    """Every (pay period, currency) row of the payee: the frozen ones of closed pay periods
    and the open ones computed now. While nothing is closed they equal libs/calc's
    `payouts` for the same entries, to the cent."""
    plans = _plans(books)
    primary = _primary(books, plans)
    streams = _streams(books, plans, primary)
    for (_, plan_id), s in streams.items():
        _run(books, plan_id, s)
    carried = _carried(books)
    calendar = books.calendar
    earned: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    non_cash: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    roundings: dict[str, str] = {}
    for entry in books.entries:
        roundings.setdefault(entry.currency, entry.rounding)
        if calendar.is_closed(entry.paid_in):
            continue
        key = (entry.paid_in, entry.currency)
        (earned if entry.cash else non_cash)[key].append(entry.amount)
        counts[key] += 1
    adjusted: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for adj in books.adjustments:
        if adj.status == "approved" and not calendar.is_closed(adj.paid_in):
            adjusted[(adj.paid_in, adj.currency)].append(adj.amount)
    keys = {(p, s.currency) for s in streams.values() for p in s.rows} | set(adjusted) | set(carried)
    rows = list(books.frozen)
    for pay_period, currency in keys:
        if calendar.is_closed(pay_period):
            continue
        mine = {plan_id: s for (c, plan_id), s in streams.items() if c == currency}
        here = [s.rows[pay_period] for s in mine.values() if pay_period in s.rows]
        plan_id = primary.get(currency)
        rounding = plans[plan_id].rounding if plan_id else roundings.get(currency, "half_up")
        carried_in = carried.get((pay_period, currency), ZERO)
        rounded = round_money(exact_sum(r.unrounded for r in here), currency, rounding)
        balances = {p: s.balance_at(pay_period) for p, s in mine.items() if p is not None and s.plan}
        rows.append(
            StatementRow(
                payee=books.payee,
                pay_period=pay_period,
                currency=currency,
                status="open",
                earned=exact_sum(earned.get((pay_period, currency), [])),
                adjustments=exact_sum(adjusted.get((pay_period, currency), [])),
                draw_topup=exact_sum(r.draw_topup for r in here),
                recovered=exact_sum(r.recovered for r in here),
                draw_balance=exact_sum(balances.values()),
                carried_in=carried_in,
                carried_out=ZERO,
                payable=rounded + carried_in,
                non_cash=exact_sum(non_cash.get((pay_period, currency), [])),
                entries=counts.get((pay_period, currency), 0),
                rounding=rounding,
                balances=balances,
            )
        )
    return sorted(rows, key=lambda r: (r.pay_period, r.currency))


class PayPeriodTotal(TypedDict):
    """One (pay period, currency) row of a statement, as the API shows it."""

    pay_period: str
    currency: str
    earned: str
    non_cash: str
    payable: str
    entries: int
    adjustments: str
    draw_topup: str
    recovered: str
    draw_balance: str
    carried_in: str
    carried_out: str
    paid: str
    status: StatementStatus


def summaries(rows: Iterable[StatementRow], paid: Mapping[tuple[str, str], Decimal]) -> list[PayPeriodTotal]:
    """The rows as the API shows them, with what payroll acknowledged as paid: full
    precision, except payable, carried and paid in the currency's minor unit."""
    return [
        {
            "pay_period": r.pay_period,
            "currency": r.currency,
            "earned": format_amount(r.earned),
            "non_cash": format_amount(r.non_cash),
            "payable": format_minor(r.payable, r.currency),
            "entries": r.entries,
            "adjustments": format_amount(r.adjustments),
            "draw_topup": format_amount(r.draw_topup),
            "recovered": format_amount(r.recovered),
            "draw_balance": format_amount(r.draw_balance),
            "carried_in": format_minor(r.carried_in, r.currency),
            "carried_out": format_minor(r.carried_out, r.currency),
            "paid": format_minor(paid.get((r.pay_period, r.currency), ZERO), r.currency),
            "status": r.status,
        }
        for r in rows
    ]


class StatementEntry(TypedDict):
    """One ledger entry on a statement line, with why it was earned."""

    entry_id: str
    date: str
    deal: str | None
    amount: str
    explanation: Mapping[str, Any]


class StatementLine(TypedDict):
    """One (plan, component, period, currency) line of a pay period's statement; a late
    line (entries dated in a pay period that had closed) names its `original_pay_period`."""

    plan: str
    component: str
    period: str
    currency: str
    amount: str
    cash: bool
    entries: list[StatementEntry]
    original_pay_period: str | None


class StatementAdjustment(TypedDict):
    """One approved adjustment counted in the pay period."""

    id: str
    amount: str
    currency: str
    reason: str
    original_pay_period: str | None


class PayPeriodStatement(TypedDict):
    """One pay period: totals per currency, lines with their entries, adjustments."""

    pay_period: str
    totals: list[PayPeriodTotal]
    lines: list[StatementLine]
    approved_adjustments: list[StatementAdjustment]


def statement(
    pay_period: str,
    totals: list[PayPeriodTotal],
    entries: list[LedgerEntry],
    adjustments: Iterable[Adjustment] = (),
) -> PayPeriodStatement:
    """One pay period: lines per (plan, component, period, currency, original pay period)
    with their entries and why, and the approved adjustments counted in it."""
    lines: dict[tuple[str, str, str, str, str], list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        original = entry.pay_period if entry.landed_in else ""
        lines[(entry.plan, entry.component, entry.period, entry.currency, original)].append(entry)
    return {
        "pay_period": pay_period,
        "totals": totals,
        "lines": [
            {
                "plan": plan,
                "component": component,
                "period": period,
                "currency": currency,
                "amount": format_amount(exact_sum(e.amount for e in group)),
                "cash": all(e.cash for e in group),
                "entries": [
                    {
                        "entry_id": e.entry_id,
                        "date": e.entry_date.isoformat(),
                        "deal": e.deal,
                        "amount": format_amount(e.amount),
                        "explanation": e.explanation,
                    }
                    for e in sorted(group, key=lambda e: (e.entry_date, e.entry_id))
                ],
                "original_pay_period": original or None,
            }
            for (plan, component, period, currency, original), group in sorted(lines.items())
        ],
        "approved_adjustments": [
            {
                "id": a.id,
                "amount": format_amount(a.amount),
                "currency": a.currency,
                "reason": a.reason,
                "original_pay_period": a.pay_period if a.landed_in else None,
            }
            for a in sorted(adjustments, key=lambda a: (a.created_at, a.id))
            if a.status == "approved" and a.paid_in == pay_period
        ],
    }
