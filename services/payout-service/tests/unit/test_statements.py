"""The pure statement rules: totals per (pay period, currency), rounding once at the
payout line with the plan's mode, non-cash kept out of what is payable."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from payout_service.domain.periods import Calendar
from payout_service.domain.statements import (
    LedgerEntry,
    PayeeBooks,
    PayPeriodTotal,
    statement,
    statement_rows,
    summaries,
)

BASE = LedgerEntry(
    entry_id="e1",
    payee="ann",
    plan="flat",
    plan_version=1,
    component="commission",
    period="2027-02",
    entry_date=date(2027, 2, 10),
    pay_period="2027-02",
    amount=Decimal("125"),
    currency="USD",
    rounding="half_up",
    cash=True,
    deal="generic:D-1",
    explanation={"rate": "0.10"},
    posted_at=datetime(2027, 2, 10, 12, tzinfo=UTC),
)


def entry(entry_id: str, amount: str, **fields: Any) -> LedgerEntry:
    return replace(BASE, entry_id=entry_id, amount=Decimal(amount), **fields)


def totals(entries: list[LedgerEntry]) -> list[PayPeriodTotal]:
    """The statement rows of entries alone (no plan, payee record, adjustments or closes)."""
    books = PayeeBooks("ann", entries, [], {}, None, [], Calendar(), date(2027, 12, 31))
    return summaries(statement_rows(books), {})


OPEN = {
    "adjustments": "0",
    "draw_topup": "0",
    "recovered": "0",
    "draw_balance": "0",
    "carried_in": "0.00",
    "carried_out": "0.00",
    "paid": "0.00",
    "status": "open",
}


def test_payable_is_rounded_once_on_the_sum_not_per_entry() -> None:
    # Each 0.005 alone would round half-up to 0.01 (0.03 in all); the sum 0.015 rounds to 0.02.
    [row] = totals([entry("a", "0.005"), entry("b", "0.005"), entry("c", "0.005")])
    assert row == {
        "pay_period": "2027-02",
        "currency": "USD",
        "earned": "0.015",
        "non_cash": "0",
        "payable": "0.02",
        "entries": 3,
        **OPEN,
    }


def test_payable_uses_the_plans_rounding_mode() -> None:
    [down] = totals([entry("a", "10.019", rounding="down")])
    [even] = totals([entry("b", "0.125", rounding="half_even")])
    [up] = totals([entry("c", "0.125")])
    assert (down["payable"], even["payable"], up["payable"]) == ("10.01", "0.12", "0.13")


def test_non_cash_entries_are_kept_out_of_earned_and_payable() -> None:
    [row] = totals([entry("a", "100"), entry("b", "40.5", cash=False, component="trip")])
    assert (row["earned"], row["non_cash"], row["payable"], row["entries"]) == ("100", "40.5", "100.00", 2)


def test_each_pay_period_and_currency_has_its_own_row_with_its_minor_unit() -> None:
    rows = totals(
        [
            entry("a", "1234.5", currency="JPY", pay_period="2027-03"),
            entry("b", "1.2345", currency="KWD"),
            entry("c", "10.005"),
            entry("d", "5", pay_period="2027-03"),
        ]
    )
    assert [(r["pay_period"], r["currency"], r["earned"], r["payable"]) for r in rows] == [
        ("2027-02", "KWD", "1.2345", "1.235"),
        ("2027-02", "USD", "10.005", "10.01"),
        ("2027-03", "JPY", "1234.5", "1235"),
        ("2027-03", "USD", "5", "5.00"),
    ]


def test_a_reversal_nets_the_payable_to_zero() -> None:
    [row] = totals([entry("a", "125"), entry("b", "-125", entry_date=date(2027, 2, 11))])
    assert (row["earned"], row["payable"], row["entries"]) == ("0", "0.00", 2)


def test_statement_lines_group_by_plan_component_and_period_with_entries_in_date_order() -> None:
    entries = [
        entry("z-late", "2.50", entry_date=date(2027, 2, 20), deal=None),
        entry("b", "100", explanation={"rate": "0.10", "value": "1000"}),
        entry("a", "0.333"),
        entry("trip", "40", component="spiff", cash=False, explanation={}),
    ]
    detail = statement("2027-02", totals(entries), entries)
    assert detail["pay_period"] == "2027-02"
    assert detail["totals"] == totals(entries)
    commission, spiff = detail["lines"]
    assert {k: v for k, v in commission.items() if k != "entries"} == {
        "plan": "flat",
        "component": "commission",
        "period": "2027-02",
        "currency": "USD",
        "amount": "102.833",
        "cash": True,
        "original_pay_period": None,
    }
    assert commission["entries"] == [
        {
            "entry_id": "a",
            "date": "2027-02-10",
            "deal": "generic:D-1",
            "amount": "0.333",
            "explanation": {"rate": "0.10"},
        },
        {
            "entry_id": "b",
            "date": "2027-02-10",
            "deal": "generic:D-1",
            "amount": "100",
            "explanation": {"rate": "0.10", "value": "1000"},
        },
        {
            "entry_id": "z-late",
            "date": "2027-02-20",
            "deal": None,
            "amount": "2.5",
            "explanation": {"rate": "0.10"},
        },
    ]
    assert (spiff["component"], spiff["amount"], spiff["cash"]) == ("spiff", "40", False)


def test_a_line_in_two_currencies_is_two_lines() -> None:
    entries = [entry("a", "1"), entry("b", "2", currency="EUR")]
    detail = statement("2027-02", totals(entries), entries)
    assert [(line["currency"], line["amount"]) for line in detail["lines"]] == [("EUR", "2"), ("USD", "1")]


def test_earned_is_the_exact_sum_of_long_fractions() -> None:
    entries = [
        entry("e1", "11684.04571428571428571428571"),
        entry("e2", "0.000000000000000000000000004"),
    ]
    (row,) = totals(entries)
    assert row["earned"] == "11684.045714285714285714285710004"
