"""Contract terms (`contract_months`, `contract_start`) through every door: the generic
door takes them in Provisio's schema; HubSpot (custom properties `contract_months`,
`contract_start_date`), Salesforce (`ContractTerm__c`, `ContractStartDate__c`) and Pipedrive
(deal custom fields, keys configurable) map them when present; a bad value names its field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from deal_ingest.adapters.crm import hubspot, pipedrive, salesforce
from deal_ingest.domain import hubspot_changes
from deal_ingest.domain.common import FieldError, months_of
from deal_ingest.domain.snapshots import generic_deal

NOW = datetime(2027, 2, 3, 10, 0, tzinfo=UTC)
SAMPLES = Path(__file__).parents[1] / "samples"
DEAL = {"external_id": "D-1", "status": "won", "amount": "1250.00", "currency": "USD", "owner": "generic:ann"}


def test_the_generic_door_takes_the_terms_and_refuses_bad_ones_naming_the_field() -> None:
    snapshot = generic_deal({**DEAL, "contract_months": 36, "contract_start": "2027-03-01"}, NOW)
    assert (snapshot.contract_months, str(snapshot.contract_start)) == (36, "2027-03-01")
    assert "contract_months" not in generic_deal(DEAL, NOW).to_data()
    for field, value in [("contract_months", 0), ("contract_months", 601), ("contract_months", "36")]:
        with pytest.raises(ValidationError) as caught:
            generic_deal({**DEAL, field: value}, NOW)
        assert caught.value.errors()[0]["loc"] == (field,)
    with pytest.raises(ValidationError) as caught:
        generic_deal({**DEAL, "contract_start": "next spring"}, NOW)
    assert caught.value.errors()[0]["loc"] == ("contract_start",)


@pytest.mark.parametrize(("value", "months"), [("36", 36), ("36.0", 36), (" 24 ", 24), (1, 1), ("", None)])
def test_a_term_reads_as_whole_months(value: Any, months: int | None) -> None:
    assert months_of(value, "f") == months


@pytest.mark.parametrize("value", ["36.5", "abc", "0", "601", True, 36.0, "NaN"])
def test_a_bad_term_names_its_field(value: Any) -> None:
    with pytest.raises(FieldError) as caught:
        months_of(value, "opportunity.ContractTerm__c")
    assert caught.value.field == "opportunity.ContractTerm__c"


def change(n: int, at: int, name: str, value: str) -> hubspot_changes.HubSpotEvent:
    return hubspot_changes.HubSpotEvent("deal.propertyChange", "9", str(n), "1", at, name, value)


def test_hubspot_maps_the_contract_properties() -> None:
    state: hubspot_changes.DealState = {}
    for event in [
        change(1, 10, "amount", "5000"),
        change(2, 11, "hubspot_owner_id", "3"),
        change(3, 12, "contract_months", "24"),
        change(4, 13, "contract_start_date", "1801872000000"),  # 2027-02-06, epoch ms (a date property)
    ]:
        hubspot_changes.merge(state, event)
    snapshot = hubspot.build_snapshot("1", state, hubspot.HubSpotMapping()).snapshot
    assert snapshot is not None
    assert (snapshot.contract_months, str(snapshot.contract_start)) == (24, "2027-02-06")
    batch = [
        {
            "subscriptionType": "deal.propertyChange",
            "subscriptionId": 9,
            "eventId": 1,
            "objectId": 1,
            "occurredAt": 10,
            "propertyName": "contract_months",
            "propertyValue": "forever",
        }
    ]
    with pytest.raises(FieldError) as caught:
        hubspot.parse_batch(batch, hubspot.HubSpotMapping())
    assert caught.value.field == "[0].propertyValue"


def test_salesforce_maps_the_custom_opportunity_fields() -> None:
    opportunity = {"Id": "006A", "OwnerId": "005B", "Amount": "9000", "StageName": "Closed Won"}
    snap = salesforce.opportunity_snapshot(
        {**opportunity, "ContractTerm__c": "36.0", "ContractStartDate__c": "2027-04-01"},
        None,
        None,
        default_currency="USD",
        received_at=NOW,
    )
    assert (snap.contract_months, str(snap.contract_start)) == (36, "2027-04-01")
    plain = salesforce.opportunity_snapshot(opportunity, None, None, default_currency="USD", received_at=NOW)
    assert (plain.contract_months, plain.contract_start) == (None, None)
    with pytest.raises(FieldError) as caught:
        salesforce.opportunity_snapshot(
            {**opportunity, "ContractTerm__c": "0"}, None, None, default_currency="USD", received_at=NOW
        )
    assert caught.value.field == "opportunity.ContractTerm__c"


def test_pipedrive_maps_the_configured_custom_fields() -> None:
    payload = json.loads((SAMPLES / "pipedrive_deal_won.json").read_text(), parse_float=Decimal)
    assert pipedrive.translate(payload, NOW).deal is not None
    payload["data"]["custom_fields"] = {
        "contract_months": {"type": "double", "value": 24},
        "contract_start_date": {"type": "date", "value": "2027-03-01"},
    }
    deal = pipedrive.translate(payload, NOW).deal
    assert deal is not None and (deal.contract_months, str(deal.contract_start)) == (24, "2027-03-01")
    keyed = pipedrive.ContractFields(months="9dc80c50d78a", start="5e1d")
    payload["data"]["custom_fields"] = {"9dc80c50d78a": 36, "5e1d": "2027-05-01"}
    deal = pipedrive.translate(payload, NOW, keyed).deal
    assert deal is not None and (deal.contract_months, str(deal.contract_start)) == (36, "2027-05-01")
    payload["data"]["custom_fields"] = {"9dc80c50d78a": Decimal("36.5")}
    with pytest.raises(FieldError) as caught:
        pipedrive.translate(payload, NOW, keyed)
    assert caught.value.field == "data.custom_fields.9dc80c50d78a"
