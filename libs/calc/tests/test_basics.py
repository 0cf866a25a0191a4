"""Periods, local days, money rounding, decimal output, deal input and direct credits."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from provisio_calc import (
    BadSplit,
    Deal,
    InputInvalid,
    direct_credits,
    local_day,
    minor_units,
    pay_period_of,
    period_of,
    round_money,
)
from provisio_calc.numbers import format_decimal
from provisio_calc.periods import period_bounds, period_children, periods_between
from provisio_calc.testing import make_deal


@pytest.mark.parametrize(
    ("day", "kind", "expected"),
    [
        (date(2027, 1, 1), "month", "2027-01"),
        (date(2027, 3, 31), "quarter", "2027-Q1"),
        (date(2027, 4, 1), "quarter", "2027-Q2"),
        (date(2027, 6, 30), "half", "2027-H1"),
        (date(2027, 7, 1), "half", "2027-H2"),
        (date(2027, 12, 31), "year", "2027"),
        (date(2027, 12, 31), "quarter", "2027-Q4"),
    ],
)
def test_period_of(day: date, kind: str, expected: str) -> None:
    assert period_of(day, kind) == expected
    assert pay_period_of(day, kind) == expected


def test_a_deal_closed_2330_utc_on_31_march_is_q2_in_oslo() -> None:
    # 23:30 UTC is 01:30 on 1 April in Oslo (UTC+2, summer time since 28 March 2027).
    assert local_day("2027-03-31T23:30:00Z", "Europe/Oslo") == date(2027, 4, 1)
    assert period_of(local_day("2027-03-31T23:30:00Z", "Europe/Oslo"), "quarter") == "2027-Q2"
    # No offset means UTC; UTC itself keeps the day.
    assert local_day("2027-03-31T23:30:00", "UTC") == date(2027, 3, 31)
    assert local_day(datetime(2027, 3, 31, 23, 30, tzinfo=UTC), "America/New_York") == date(2027, 3, 31)
    # A bare date is that day wherever the plan is.
    assert local_day("2027-03-31", "Pacific/Auckland") == date(2027, 3, 31)


def test_period_helpers() -> None:
    assert period_bounds("2027-Q1") == (date(2027, 1, 1), date(2027, 3, 31))
    assert period_bounds("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
    assert period_children("2027") == ["2027-H1", "2027-H2"]
    assert period_children("2027-H2") == ["2027-Q3", "2027-Q4"]
    assert period_children("2027-Q2") == ["2027-04", "2027-05", "2027-06"]
    assert periods_between(date(2027, 11, 15), date(2028, 2, 1), "month") == [
        "2027-11",
        "2027-12",
        "2028-01",
        "2028-02",
    ]


@pytest.mark.parametrize(
    ("amount", "currency", "mode", "expected"),
    [
        ("1234.5", "JPY", "half_up", "1235"),  # JPY has no minor unit
        ("1234.5", "JPY", "half_even", "1234"),
        ("1234.9", "JPY", "down", "1234"),
        ("1.2345", "KWD", "half_up", "1.235"),  # KWD has three decimals
        ("1.2345", "KWD", "half_even", "1.234"),
        ("-1.2345", "KWD", "half_up", "-1.235"),  # ties away from zero
        ("-1.2349", "KWD", "down", "-1.234"),  # down = toward zero
        ("10.005", "USD", "half_up", "10.01"),
        ("10.005", "USD", "half_even", "10.00"),
    ],
)
def test_round_money(amount: str, currency: str, mode: str, expected: str) -> None:
    assert str(round_money(Decimal(amount), currency, mode)) == expected


def test_minor_units() -> None:
    assert (minor_units("JPY"), minor_units("USD"), minor_units("KWD")) == (0, 2, 3)
    with pytest.raises(ValueError):
        minor_units("XYZ")


@pytest.mark.parametrize(
    ("value", "text"),
    [("1E+3", "1000"), ("0.10", "0.1"), ("-0.00", "0"), ("12.3400", "12.34"), ("1E-7", "0.0000001")],
)
def test_decimal_strings_are_plain(value: str, text: str) -> None:
    assert format_decimal(Decimal(value)) == text


def test_deal_from_dict_defaults_and_types() -> None:
    deal = make_deal(amount="1250.00")
    assert deal.amount == Decimal("1250.00") and deal.splits == () and deal.lines == ()
    assert deal.key == "crm:1"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": 12.5}, "amount"),  # a float is refused
        ({"amount": "12,5"}, "amount"),
        ({"status": "closed"}, "status"),
        ({"revision": "x"}, "revision"),
        ({"close_date": "31/03/2027"}, "close_date"),
        ({"close_date": None}, "close_date"),  # won without a close date
        ({"splits": [{"payee": "a"}]}, "splits[0].share"),
        ({"lines": [{"product": "p", "amount": "x"}]}, "lines[0].amount"),
        ({"type": "other"}, "type"),
        ({"owner": ""}, "owner"),
    ],
)
def test_bad_deal_names_the_field(fields: dict[str, object], field: str) -> None:
    base: dict[str, object] = {
        "source": "crm",
        "external_id": "1",
        "revision": 1,
        "status": "won",
        "amount": "1",
        "currency": "USD",
        "close_date": "2027-01-01",
        "owner": "ana",
    }
    base.update(fields)
    with pytest.raises(InputInvalid) as caught:
        Deal.from_dict(base)
    assert caught.value.field == field


def test_direct_credits_owner_or_splits() -> None:
    assert direct_credits(make_deal()) == [("ana", Decimal(1))]
    split = make_deal(splits=[{"payee": "ana", "share": "0.25"}, {"payee": "bob", "share": "0.75"}])
    assert direct_credits(split) == [("ana", Decimal("0.25")), ("bob", Decimal("0.75"))]


@pytest.mark.parametrize(
    "shares",
    [["0.5", "0.4"], ["0.5", "0.6"], ["1.5", "-0.5"], ["0", "1"], ["0.3333", "0.3333", "0.3334", "0"]],
)
def test_bad_splits_raise(shares: list[str]) -> None:
    deal = make_deal(splits=[{"payee": f"p{i}", "share": s} for i, s in enumerate(shares)])
    with pytest.raises(BadSplit):
        direct_credits(deal)


def test_a_revision_without_close_date_needs_changed_at() -> None:
    with pytest.raises(InputInvalid) as caught:
        make_deal(status="open", close_date=None, changed_at=None)
    assert caught.value.field == "changed_at"
    assert make_deal(status="open", close_date=None, changed_at="2027-01-02").close_date is None
