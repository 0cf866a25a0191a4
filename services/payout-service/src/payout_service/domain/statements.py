"""Statements: ledger entries grouped by pay period, rounded once at the payout line."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypedDict

from provisio_common.money import exact_sum, format_amount, format_minor, round_money


@dataclass(frozen=True)
class LedgerEntry:
    """One replicated `ledger.v1` entry (append-only; `entry_id` is the ledger's key)."""

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


class PayPeriodTotal(TypedDict):
    """One (pay period, currency) row of a statement."""

    pay_period: str
    currency: str
    earned: str
    non_cash: str
    payable: str
    entries: int


class StatementEntry(TypedDict):
    """One ledger entry on a statement line, with why it was earned."""

    entry_id: str
    date: str
    deal: str | None
    amount: str
    explanation: Mapping[str, Any]


class StatementLine(TypedDict):
    """One (plan, component, period, currency) line of a pay period's statement."""

    plan: str
    component: str
    period: str
    currency: str
    amount: str
    cash: bool
    entries: list[StatementEntry]


class PayPeriodStatement(TypedDict):
    """One pay period: totals per currency and lines with their entries."""

    pay_period: str
    totals: list[PayPeriodTotal]
    lines: list[StatementLine]


def _payable(entries: list[LedgerEntry]) -> Decimal:
    cash = exact_sum(e.amount for e in entries if e.cash)
    return round_money(cash, entries[0].currency, entries[0].rounding)


def summaries(entries: Iterable[LedgerEntry]) -> list[PayPeriodTotal]:
    """One row per (pay period, currency): earned at full precision, payable rounded once."""
    groups: dict[tuple[str, str], list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        groups[(entry.pay_period, entry.currency)].append(entry)
    rows: list[PayPeriodTotal] = []
    for (pay_period, currency), group in sorted(groups.items()):
        earned = exact_sum(e.amount for e in group if e.cash)
        non_cash = exact_sum(e.amount for e in group if not e.cash)
        rows.append(
            {
                "pay_period": pay_period,
                "currency": currency,
                "earned": format_amount(earned),
                "non_cash": format_amount(non_cash),
                "payable": format_minor(_payable(group), currency),
                "entries": len(group),
            }
        )
    return rows


def statement(pay_period: str, entries: list[LedgerEntry]) -> PayPeriodStatement:
    """One pay period: lines per (plan, component, period) with their entries and why."""
    lines: dict[tuple[str, str, str, str], list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        lines[(entry.plan, entry.component, entry.period, entry.currency)].append(entry)
    return {
        "pay_period": pay_period,
        "totals": summaries(entries),
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
            }
            for (plan, component, period, currency), group in sorted(lines.items())
        ],
    }
