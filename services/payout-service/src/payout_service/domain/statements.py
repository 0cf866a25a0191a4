"""Statements: ledger entries grouped by pay period, rounded once at the payout line."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from provisio_common.money import format_amount, format_minor, round_money


@dataclass(frozen=True)
class Entry:
    entry_id: str
    plan: str
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


def _payable(entries: list[Entry]) -> Decimal:
    cash = sum((e.amount for e in entries if e.cash), Decimal(0))
    return round_money(cash, entries[0].currency, entries[0].rounding)


def summaries(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    """One row per (pay period, currency): earned at full precision, payable rounded once."""
    groups: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for entry in entries:
        groups[(entry.pay_period, entry.currency)].append(entry)
    rows = []
    for (pay_period, currency), group in sorted(groups.items()):
        earned = sum((e.amount for e in group if e.cash), Decimal(0))
        non_cash = sum((e.amount for e in group if not e.cash), Decimal(0))
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


def statement(pay_period: str, entries: list[Entry]) -> dict[str, Any]:
    """One pay period: lines per (plan, component, period) with their entries and why."""
    lines: dict[tuple[str, str, str, str], list[Entry]] = defaultdict(list)
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
                "amount": format_amount(sum((e.amount for e in group), Decimal(0))),
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
