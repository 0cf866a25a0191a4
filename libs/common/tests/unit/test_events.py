import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from provisio_common.events import (
    ActivityRecord,
    CreditRecord,
    DealSnapshot,
    Envelope,
    FxRateRecord,
    LedgerEntryRecord,
    PayoutBatchApproved,
    PayoutLine,
    PayoutLineSettled,
    QuotaRecord,
    Schema,
)
from provisio_common.routes import ROUTES, outgoing, route_of, schema_of
from provisio_common.topics import CATALOGUE, PAYOUTS, all_topic_names

DEAL = {
    "source": "generic",
    "external_id": "D-1",
    "revision": 1,
    "status": "won",
    "amount": "1250.00",
    "currency": "USD",
    "close_date": "2027-02-03",
    "changed_at": "2027-02-03T10:15:00Z",
    "owner": "rep-1",
}


def test_envelope_round_trips_with_schema_field_and_ulid() -> None:
    out = outgoing(DealSnapshot.model_validate(DEAL), "deal-ingest")
    env = out.envelope
    assert (out.topic, out.key, env.type, env.subject) == (
        "deals.v1",
        "generic:D-1",
        "deal.snapshot",
        "generic:D-1",
    )
    raw = json.loads(env.to_bytes())
    assert raw["schema"] == 1 and len(raw["id"]) == 26
    assert raw["data"]["amount"] == "1250.00"
    again = Envelope.from_bytes(env.to_bytes())
    assert again == env


def test_deal_amount_as_json_number_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        DealSnapshot.model_validate({**DEAL, "amount": 1250.0})
    assert info.value.errors()[0]["loc"] == ("amount",)


def test_split_shares_stay_decimal() -> None:
    deal = DealSnapshot.model_validate({**DEAL, "splits": [{"payee": "a", "share": "0.5"}]})
    assert deal.splits[0].share == Decimal("0.5")


def test_every_route_names_a_distinct_event_type_that_maps_back_to_its_schema() -> None:
    for schema, route in ROUTES.items():
        assert schema_of(route.event_type) is schema
    assert schema_of("no.such.type") is None


def test_a_schema_without_a_route_is_refused_by_name() -> None:
    with pytest.raises(KeyError, match="Envelope"):
        route_of(Envelope)  # type: ignore[arg-type]


def test_an_activity_travels_on_its_deal_key_else_its_owner() -> None:
    base = {
        "source": "hubspot",
        "external_id": "A-1",
        "kind": "call",
        "owner": "rep-1",
        "occurred_at": "2027-02-03T10:00:00Z",
    }
    with_deal = outgoing(ActivityRecord.model_validate({**base, "deal": "D-9"}), "deal-ingest")
    without = outgoing(ActivityRecord.model_validate(base), "deal-ingest")
    assert (with_deal.key, with_deal.envelope.subject) == ("hubspot:D-9", "hubspot:A-1")
    assert without.key == "rep-1"


def test_a_ledger_entry_is_keyed_by_payee() -> None:
    entry = LedgerEntryRecord.model_validate(
        {
            "entry_id": "e",
            "payee": "rep-1",
            "plan": "p",
            "plan_version": 1,
            "component": "c",
            "period": "2027-Q1",
            "entry_date": "2027-02-03",
            "pay_period": "2027-02",
            "amount": "1",
            "currency": "USD",
            "cause_event": "x",
            "posted_at": "2027-02-03T00:00:00Z",
        }
    )
    assert outgoing(entry, "calc-engine").key == "rep-1"


AMOUNTS = st.decimals(
    allow_nan=False, allow_infinity=False, min_value=-(10**20), max_value=10**20
) | st.sampled_from(
    [Decimal("1E-25"), Decimal("1E+15"), Decimal("-0.0000001"), Decimal("1250.00"), Decimal("0E-30")]
)


def records_carrying(amount: Decimal) -> list[Schema]:
    """One record of every schema with an amount field, carrying `amount` in each."""
    deal = DealSnapshot.model_validate(
        {
            **DEAL,
            "amount": amount,
            "splits": [{"payee": "a", "share": amount}],
            "lines": [{"product": "p", "amount": amount, "margin": amount}],
        }
    )
    ledger = {
        "entry_id": "e",
        "payee": "rep-1",
        "plan": "p",
        "plan_version": 1,
        "component": "c",
        "period": "2027-Q1",
        "entry_date": "2027-02-03",
        "pay_period": "2027-02",
        "amount": amount,
        "currency": "USD",
        "cause_event": "x",
        "posted_at": "2027-02-03T00:00:00Z",
    }
    credit = {
        "deal": "g:1",
        "revision": 1,
        "payee": "a",
        "share": amount,
        "amount": amount,
        "currency": "USD",
        "status": "won",
        "close_date": "2027-02-03",
    }
    return [
        deal,
        QuotaRecord(payee="p", period="2027", amount=amount),
        FxRateRecord.model_validate(
            {"day": "2027-01-01", "from_currency": "EUR", "to_currency": "USD", "rate": amount}
        ),
        CreditRecord.model_validate(credit),
        LedgerEntryRecord.model_validate(ledger),
    ]


@given(AMOUNTS)
def test_any_amount_round_trips_in_plain_notation_through_every_schema(amount: Decimal) -> None:
    for record in records_carrying(amount):
        wire = outgoing(record, "test").envelope.to_bytes()
        assert b"E-" not in wire and b"E+" not in wire
        again = type(record).model_validate(Envelope.from_bytes(wire).data)
        assert again == record  # every amount (and the rest) exactly as sent


def test_the_scale_the_sender_gave_is_kept() -> None:
    assert DealSnapshot.model_validate(DEAL).to_data()["amount"] == "1250.00"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("2026-06-01", date(2026, 6, 1)),
        ("2026-06-01T00:00:00+02:00", datetime(2026, 6, 1, tzinfo=timezone(timedelta(hours=2)))),
        (
            "2026-05-31T23:59:59-10:00",
            datetime(2026, 5, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-10))),
        ),
        ("2026-11-01T00:00:00Z", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T00:00:00", datetime(2026, 11, 1)),
    ],
)
def test_a_midnight_timestamp_stays_a_timestamp_and_a_bare_date_a_date(sent: str, kept: date) -> None:
    deal = DealSnapshot.model_validate({**DEAL, "close_date": sent})
    assert deal.close_date == kept and type(deal.close_date) is type(kept)
    again = DealSnapshot.model_validate(json.loads(json.dumps(deal.to_data())))
    assert again.close_date == kept and type(again.close_date) is type(kept)


def test_a_close_date_that_is_neither_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        DealSnapshot.model_validate({**DEAL, "close_date": "June 1st"})
    assert info.value.errors()[0]["loc"] == ("close_date",)


def test_payout_events_travel_on_payouts_v1_keyed_by_batch() -> None:
    line = PayoutLine(
        line_id="B1-1",
        payee="ann",
        payroll_id="E-1",
        pay_period="2027-01",
        earning_code="commission",
        amount=Decimal("1000.01"),
        currency="USD",
        cash=True,
        entry_ids=["e1", "e2"],
    )
    approved = PayoutBatchApproved(
        batch_id="B1",
        pay_period="2027-01",
        currency="USD",
        pay_date=date(2027, 1, 31),
        total=Decimal("1000.01"),
        built_by="ada",
        approved_by="bea",
        approved_at=datetime(2027, 2, 1, tzinfo=UTC),
        lines=[line],
    )
    settled = PayoutLineSettled(
        batch_id="B1",
        line=line,
        status="paid",
        payroll_ref="PR-1",
        settled_at=datetime(2027, 2, 2, tzinfo=UTC),
        batch_status="settled",
    )
    out = outgoing(approved, "payout-service")
    assert (out.topic, out.key, out.envelope.type, out.envelope.subject) == (
        "payouts.v1",
        "B1",
        "payout.batch_approved",
        "B1",
    )
    assert out.envelope.data["total"] == "1000.01" and out.envelope.data["lines"][0]["amount"] == "1000.01"
    out = outgoing(settled, "payout-service")
    assert (out.topic, out.key, out.envelope.type, out.envelope.subject) == (
        "payouts.v1",
        "B1",
        "payout.line_settled",
        "B1:B1-1",
    )
    for record in (approved, settled):
        wire = outgoing(record, "payout-service").envelope.to_bytes()
        assert type(record).model_validate(Envelope.from_bytes(wire).data) == record
    with pytest.raises(ValidationError):
        PayoutLineSettled.model_validate({**settled.to_data(), "status": "maybe"})


def test_payouts_v1_is_in_the_catalogue_with_its_dead_letter_topic() -> None:
    assert PAYOUTS in CATALOGUE and PAYOUTS.key == "batch id" and not PAYOUTS.compacted
    assert {"payouts.v1", "payouts.v1.dlq"} <= set(all_topic_names())


def test_contract_terms_are_optional_validated_and_absent_from_a_document_without_them() -> None:
    bare = DealSnapshot.model_validate(DEAL).to_data()
    assert "contract_months" not in bare and "contract_start" not in bare
    termed = DealSnapshot.model_validate({**DEAL, "contract_months": 36, "contract_start": "2027-03-01"})
    assert (termed.to_data()["contract_months"], termed.to_data()["contract_start"]) == (36, "2027-03-01")
    assert DealSnapshot.model_validate(json.loads(json.dumps(termed.to_data()))) == termed
    for field, value in [
        ("contract_months", 0),
        ("contract_months", 601),
        ("contract_months", "36"),
        ("contract_months", 36.0),
        ("contract_start", "2027-03-01T00:00:00Z"),
        ("contract_start", "March"),
    ]:
        with pytest.raises(ValidationError) as caught:
            DealSnapshot.model_validate({**DEAL, field: value})
        assert caught.value.errors()[0]["loc"] == (field,)
