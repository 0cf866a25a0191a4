"""Sums that reach the ledger are exact: no 28-digit rounding (PLANS.md rules 8 and 29)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from calc_engine.domain.ledger import PostingKey, deltas, desired_postings
from provisio_calc import Line
from provisio_calc.result import Entry

KEY = PostingKey("ana", "c", "2027-Q1", date(2027, 1, 15), "crm:1")


def line(*amounts: str) -> Line:
    entries = tuple(Entry(date(2027, 1, 15), Decimal(a), "crm:1") for a in amounts)
    return Line("ana", "c", "2027-Q1", Decimal(0), None, Decimal(0), True, {}, entries)


def test_entries_of_one_posting_key_add_up_exactly() -> None:
    desired = desired_postings([line("11684.045714285714285714285714", "0.000000000000000000000000000001")])
    assert desired[KEY] == Decimal("11684.045714285714285714285714000001")


def test_a_delta_keeps_every_digit_of_what_is_desired_and_what_is_posted() -> None:
    desired = {KEY: Decimal("11684.045714285714285714285714")}
    posted = {KEY: Decimal("0.0000000000000000000000001")}
    assert deltas(desired, posted) == [(KEY, Decimal("11684.0457142857142857142857139"))]


def test_a_tiny_true_up_is_posted_not_lost() -> None:
    desired = {KEY: Decimal("1000000000000.0000000000000000000000001")}
    posted = {KEY: Decimal("1000000000000")}
    assert deltas(desired, posted) == [(KEY, Decimal("1E-25"))]
