import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from provisio_common.events import DealSnapshot, Envelope, envelope

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
    env = envelope("deal.snapshot", "deal-ingest", "generic:D-1", DealSnapshot.model_validate(DEAL))
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


def test_envelope_type_must_match_payload_schema() -> None:
    with pytest.raises(ValueError, match="not the schema"):
        envelope("ledger.entry", "x", "y", DealSnapshot.model_validate(DEAL))
