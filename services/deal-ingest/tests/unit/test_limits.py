"""The limits at the door (`deal_ingest.domain.limits`): each refusal names the field; every
amount the door accepts survives the trip through the deals.v1 envelope to the digit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deal_ingest.domain import limits
from deal_ingest.domain.common import FieldError
from deal_ingest.domain.snapshots import generic_deal
from provisio_calc.numbers import parse_decimal
from provisio_common.events import DealSnapshot, Envelope
from provisio_common.money import parse_amount, plain_decimal

NOW = datetime(2027, 2, 3, 10, 0, tzinfo=UTC)
DATA: dict[str, Any] = {
    "external_id": "D-1",
    "status": "won",
    "amount": "10.00",
    "currency": "USD",
    "owner": "generic:rep-1",
    "changed_at": "2027-02-03T09:00:00Z",
}
LIMITS = limits.Limits(max_envelope_bytes=1_000_000)
NAME = limits.namer("data.")


def check(**changes: Any) -> None:
    limits.check_deal(generic_deal({**DATA, **changes}, NOW), LIMITS, received_at=NOW, name=NAME)


def refused(field: str, **changes: Any) -> str:
    with pytest.raises(FieldError) as info:
        check(**changes)
    assert info.value.field == field, info.value
    return info.value.message


def test_a_plain_deal_is_within_every_limit() -> None:
    check()
    check(
        amount="999999999999.999999",
        customer="c" * 500,
        external_id="x" * 200,
        lines=[{"product": "p" * 200, "amount": "0.000001", "margin": "-5.5"}] * 100,
        splits=[{"payee": "generic:r", "share": "0.333333333333"}] * 100,
        close_date="1970-01-01",
        created_date="2100-12-31T23:59:59+00:00",
        changed_at=(NOW + timedelta(hours=23)).isoformat(),
    )


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("data.external_id", {"external_id": "x" * 201}),
        ("data.source", {"source": "crm/eu"}),
        ("data.source", {"source": "crm:eu"}),
        ("data.owner", {"owner": "o" * 20_000}),
        ("data.customer", {"customer": "c" * 501}),
        ("data.territory", {"territory": "t" * 201}),
        ("data.amount", {"amount": "1" * 13}),
        ("data.amount", {"amount": "1" * 401}),
        ("data.amount", {"amount": "0.0000001"}),
        ("data.amount", {"amount": "0." + "0" * 20_000 + "1"}),
        ("data.amount", {"amount": "1.0000000"}),
        ("data.amount", {"amount": "-1"}),
        ("data.lines", {"lines": [{"product": "p", "amount": "1"}] * 101}),
        ("data.splits", {"splits": [{"payee": "p", "share": "0.01"}] * 101}),
        (
            "data.lines[1].product",
            {"lines": [{"product": "p", "amount": "1"}, {"product": "p" * 201, "amount": "1"}]},
        ),
        ("data.lines[0].amount", {"lines": [{"product": "p", "amount": "-0.01"}]}),
        ("data.lines[0].margin", {"lines": [{"product": "p", "amount": "1", "margin": "0.000000001"}]}),
        ("data.splits[0].share", {"splits": [{"payee": "p", "share": "-0.5"}]}),
        ("data.splits[0].share", {"splits": [{"payee": "p", "share": "0." + "3" * 13}]}),
        ("data.splits[0].payee", {"splits": [{"payee": "p" * 201, "share": "1"}]}),
        ("data.close_date", {"close_date": "0001-01-01"}),
        ("data.close_date", {"close_date": "9999-12-31"}),
        ("data.changed_at", {"changed_at": "9999-12-31T00:00:00Z"}),
        ("data.changed_at", {"changed_at": "1969-12-31T23:59:59Z"}),
        ("data.changed_at", {"changed_at": (NOW + timedelta(days=2)).isoformat()}),
        ("data.changed_at", {"changed_at": (NOW + timedelta(days=2)).replace(tzinfo=None).isoformat()}),
    ],
)
def test_each_limit_is_a_field_error_naming_the_field(field: str, changes: dict[str, Any]) -> None:
    refused(field, **changes)


def test_a_negative_amount_is_refused_because_a_refund_is_a_cancellation() -> None:
    assert "cancelled" in refused("data.amount", amount="-100.00")


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("data.amount", {"amount": 1250}),
        ("data.amount", {"amount": 12.5}),
        ("data.lines[0].amount", {"lines": [{"product": "p", "amount": 3}]}),
        ("data.lines[0].margin", {"lines": [{"product": "p", "amount": "3", "margin": 1}]}),
        ("data.splits[0].share", {"splits": [{"payee": "p", "share": 1}]}),
    ],
)
def test_the_generic_door_takes_amounts_as_decimal_strings_only(field: str, changes: dict[str, Any]) -> None:
    with pytest.raises(FieldError, match="not a JSON number") as info:
        generic_deal({**DATA, **changes}, NOW)
    assert info.value.field == field


def test_an_envelope_larger_than_the_producer_can_send_is_refused_naming_the_body() -> None:
    wide = [{"product": "é" * 200, "amount": "1"}] * 100  # 6 bytes per é once escaped in JSON
    snapshot = generic_deal({**DATA, "lines": wide}, NOW)
    size = limits.envelope_bytes(snapshot)
    limits.check_deal(snapshot, limits.Limits(size), received_at=NOW, name=NAME)
    with pytest.raises(FieldError) as info:
        limits.check_deal(snapshot, limits.Limits(size - 1), received_at=NOW, name=NAME)
    assert info.value.field == "body" and "PROVISIO_KAFKA_MAX_MESSAGE_BYTES" in info.value.message


def test_a_door_names_its_own_fields() -> None:
    name = limits.namer("opportunity.", {"amount": "opportunity.Amount", "lines": "lineItems",
                                         "lines.amount": "TotalPrice"})  # fmt: skip
    assert name("amount") == "opportunity.Amount"
    assert name("lines[3].amount") == "lineItems[3].TotalPrice"
    assert name("lines[3].product") == "lineItems[3].product"
    assert name("customer") == "opportunity.customer"
    assert name("body") == "body"


def test_days_and_instants_outside_the_range_are_refused() -> None:
    limits.check_day(date(2100, 12, 31), "d")
    with pytest.raises(FieldError):
        limits.check_day(date(2101, 1, 1), "d")
    limits.check_instant(datetime(2100, 12, 31, 23, 59), "t")  # no offset: UTC (PLANS.md rule 1)
    with pytest.raises(FieldError):
        limits.check_instant(datetime(2101, 1, 1), "t")


accepted_amounts = st.builds(
    lambda integer, fraction, scale: (
        Decimal(f"{integer}.{fraction:0{scale}d}") if scale else Decimal(integer)
    ),
    st.integers(0, 10**12 - 1),
    st.integers(0, 10**6 - 1),
    st.integers(0, 6),
)


@given(amount=accepted_amounts)
def test_every_accepted_amount_round_trips_through_the_envelope_and_parse_amount(amount: Decimal) -> None:
    text = plain_decimal(amount)
    limits.check_amount(parse_amount(text), "amount")  # accepted at the door
    snapshot = DealSnapshot.model_validate({**DATA, "source": "generic", "revision": 1, "amount": text,
                                            "lines": [{"product": "p", "amount": text}]})  # fmt: skip
    envelope = Envelope(
        type="deal.snapshot", source="deal-ingest", subject=snapshot.key, data=snapshot.to_data()
    )
    received = Envelope.from_bytes(envelope.to_bytes()).data
    for value in (received["amount"], received["lines"][0]["amount"]):
        assert value == text  # plain notation, scale kept ("1250.00", never "1.25E+3")
        assert parse_amount(value) == amount and parse_decimal(value) == amount
        assert parse_amount(value).as_tuple() == parse_amount(text).as_tuple()


@given(amount=st.decimals(allow_nan=False, allow_infinity=False))
def test_any_decimal_is_either_refused_or_round_trips(amount: Decimal) -> None:
    try:
        limits.check_amount(amount, "amount")
    except FieldError:
        return
    text = plain_decimal(amount)
    assert parse_amount(text) == amount and "E" not in text and "e" not in text
