from decimal import Decimal

import pytest

from provisio_common.money import MoneyError, format_amount, minor_units, parse_amount, round_money


@pytest.mark.parametrize(("currency", "digits"), [("USD", 2), ("JPY", 0), ("KWD", 3), ("EUR", 2)])
def test_minor_units_follow_iso_4217(currency: str, digits: int) -> None:
    assert minor_units(currency) == digits


@pytest.mark.parametrize(
    ("amount", "currency", "mode", "expected"),
    [
        ("2.345", "USD", "half_up", "2.35"),
        ("2.345", "USD", "half_even", "2.34"),
        ("2.349", "USD", "down", "2.34"),
        ("-2.345", "USD", "half_up", "-2.35"),  # ties away from zero
        ("-2.349", "USD", "down", "-2.34"),  # down is toward zero
        ("1234.5", "JPY", "half_up", "1235"),
        ("1.2345", "KWD", "half_up", "1.235"),
    ],
)
def test_round_money_rounds_once_to_minor_unit(amount: str, currency: str, mode: str, expected: str) -> None:
    assert round_money(Decimal(amount), currency, mode) == Decimal(expected)
    assert str(round_money(Decimal(amount), currency, mode)) == expected


def test_parse_amount_keeps_the_text_exactly() -> None:
    assert str(parse_amount("1250.00")) == "1250.00"
    assert parse_amount(7) == Decimal(7)


@pytest.mark.parametrize("bad", [1250.0, 0.1, "1e3", "abc", "", True, None, "NaN", [1]])
def test_parse_amount_refuses_floats_and_non_numbers(bad: object) -> None:
    with pytest.raises(MoneyError):
        parse_amount(bad)


def test_format_amount_is_plain_without_trailing_zeros() -> None:
    assert format_amount(Decimal("1250.500")) == "1250.5"
    assert format_amount(Decimal("1E+3")) == "1000"
    assert format_amount(Decimal("-0.00")) == "0"


def test_unknown_currency_has_no_minor_units() -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        minor_units("XYZ")
