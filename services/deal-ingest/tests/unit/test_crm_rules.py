from datetime import UTC, datetime

import pytest

from deal_ingest.adapters.crm import hubspot, pipedrive, salesforce
from deal_ingest.domain import hubspot_changes
from deal_ingest.domain.common import FieldError
from provisio_common.webhooks import WebhookRefused

NOW = datetime(2027, 2, 3, 10, 0, tzinfo=UTC)
MAPPING = hubspot.HubSpotMapping()


def test_only_hubspots_listed_escapes_are_decoded_in_the_signed_uri() -> None:
    uri = "https://x.io/hook%3Fa%3Db%2Cc%20d%2Be%21%2a"
    assert hubspot.signed_uri(uri) == "https://x.io/hook?a%3Db,c%20d%2Be!*"


def test_hubspot_v3_refuses_stale_and_accepts_any_active_secret() -> None:
    body, uri, ts = b"[]", "https://x.io/h", 1_800_000_000_000
    headers = {
        hubspot.SIGNATURE_HEADER: hubspot.sign_v3("old", "POST", uri, body, ts),
        hubspot.TIMESTAMP_HEADER: str(ts),
    }
    hubspot.verify_v3(["new", "old"], "POST", uri, body, headers, ts + 1000)
    with pytest.raises(WebhookRefused) as info:
        hubspot.verify_v3(["new", "old"], "POST", uri, body, headers, ts + 301_000)
    assert info.value.reason == "stale_timestamp"


def event(n: int, at: int, name: str, value: str, deal: int = 1) -> hubspot_changes.HubSpotEvent:
    return hubspot_changes.HubSpotEvent("deal.propertyChange", "9", str(n), str(deal), at, name, value)


def test_property_changes_merge_in_any_order_to_the_same_snapshot() -> None:
    changes = [
        event(1, 10, "amount", "5"),
        event(2, 20, "amount", "7"),
        event(3, 15, "hubspot_owner_id", "3"),
        event(4, 30, "dealstage", "closedwon"),
    ]
    forward: hubspot_changes.DealState = {}
    backward: hubspot_changes.DealState = {}
    for e in changes:
        hubspot_changes.merge(forward, e)
    results = [hubspot_changes.merge(backward, e) for e in reversed(changes)]
    assert forward == backward and results == [True, True, True, False]
    snapshot = hubspot.build_snapshot("1", forward, MAPPING).snapshot
    assert snapshot is not None and (str(snapshot.amount), snapshot.status, snapshot.owner) == (
        "7",
        "won",
        "hubspot:3",
    )


def test_every_change_is_kept_so_the_deal_can_be_read_as_of_any_moment_whatever_the_order() -> None:
    changes = [
        event(1, 10, "amount", "5"),
        event(2, 20, "amount", "7"),
        event(3, 15, "hubspot_owner_id", "3"),
        event(4, 30, "dealstage", "closedwon"),
        event(5, 40, "dealstage", "closedlost"),
    ]
    views = []
    for order in (changes, list(reversed(changes)), changes[2:] + changes[:2]):
        state: hubspot_changes.DealState = {}
        for e in order:
            hubspot_changes.merge(state, e)
        views.append([hubspot_changes.as_of(state, t) for t in (9, 10, 16, 25, 35, 99)])
    assert views[0] == views[1] == views[2]
    as_of = {
        t: hubspot.build_snapshot("1", hubspot_changes.as_of(state, t), MAPPING, t) for t in (10, 16, 35, 45)
    }
    assert as_of[10].missing == ("owner",)
    read = {t: as_of[t].snapshot for t in (16, 35, 45)}
    assert [(str(s.amount), s.status) for s in read.values() if s is not None] == [
        ("5", "open"),
        ("7", "won"),
        ("7", "lost"),
    ]


def test_a_deal_without_amount_or_owner_is_not_published_yet_and_deletion_cancels() -> None:
    state: hubspot_changes.DealState = {}
    hubspot_changes.merge(state, event(1, 10, "amount", "5"))
    assert hubspot.build_snapshot("1", state, MAPPING).missing == ("owner",)
    hubspot_changes.merge(state, event(2, 11, "hubspot_owner_id", "3"))
    hubspot_changes.merge(state, hubspot_changes.HubSpotEvent("deal.deletion", "9", "3", "1", 12))
    built = hubspot.build_snapshot("1", state, MAPPING)
    assert built.snapshot is not None and built.snapshot.status == "cancelled"


def test_configured_pipeline_stage_maps_to_won_and_bad_mapping_is_refused() -> None:
    mapping = hubspot.HubSpotMapping(stages={"12345": "won"})
    assert (
        mapping.read("status", "12345", "x") == "won" and mapping.read("status", "closedwon", "x") == "open"
    )
    with pytest.raises(ValueError):
        hubspot.HubSpotMapping(properties={"amount": "salary"})


def test_batch_errors_name_the_event_field() -> None:
    with pytest.raises(FieldError) as info:
        hubspot.parse_batch([{"subscriptionType": "deal.creation", "occurredAt": 1}], MAPPING)
    assert info.value.field == "[0].subscriptionId"


def test_pipedrive_deleted_deal_is_cancelled_and_basic_auth_is_checked() -> None:
    payload = {
        "meta": {"id": "m", "action": "delete", "entity": "deal", "version": "2.0"},
        "data": None,
        "previous": {"id": 4, "status": "open", "value": 10, "currency": "usd", "owner_id": 42},
    }
    deal = pipedrive.translate(payload, NOW).deal
    assert deal is not None and deal.status == "cancelled" and deal.currency == "USD"
    with pytest.raises(WebhookRefused):
        pipedrive.check_basic_auth(["u:p"], "Basic dTpx")  # u:q
    assert pipedrive.check_basic_auth(["u:p"], "Basic dTpw") == "u"


def test_salesforce_split_percentages_become_shares_and_org_ids_compare_on_15_chars() -> None:
    snap = salesforce.opportunity_snapshot(
        {"Id": "006A", "OwnerId": "005A", "Amount": "10", "IsWon": "true"},
        None,
        [{"SplitOwnerId": "005B", "SplitPercentage": "33.5"}],
        default_currency="EUR",
        received_at=NOW,
    )
    assert snap.status == "won" and snap.currency == "EUR" and str(snap.splits[0].share) == "0.335"
    assert salesforce.org_allowed(["00D5g000004AbCd"], "00D5g000004AbCdEAK")
    assert not salesforce.org_allowed(["00D5g000004AbCd"], "00d5g000004abcdEAK")


def test_text_postgres_cannot_store_is_refused_naming_the_field() -> None:
    from deal_ingest.domain.common import FieldError, storable_text

    storable_text({"meta": {"id": "ok é 𝄞"}, "data": [{"a": "b"}]})
    for body, field in [
        ({"meta": {"id": "\x00"}}, "meta.id"),
        ({"data": [{"name": "x"}, {"name": "a\x00b"}]}, "data[1].name"),
        ({"data": {"bad\x00key": 1}}, "data"),
        ({"owner": "\ud800"}, "owner"),
    ]:
        with pytest.raises(FieldError) as info:
            storable_text(body)
        assert info.value.field == field
