"""Batched deliveries on the fake: HubSpot property changes merged per deal, Salesforce
Outbound Message notifications stored once each."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest_fakes import IngestStore, fake_store, fake_uow

from deal_ingest.adapters.crm import hubspot, salesforce
from deal_ingest.domain.outcomes import BatchResult, StoreResult
from deal_ingest.service_layer.batches import applying_hubspot_batch, applying_notifications
from deal_ingest.service_layer.deliveries import receive_delivery
from provisio_common.events import DealSnapshot

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
MAPPING = hubspot.HubSpotMapping()
T = 1_801_000_000_000


def sample_events() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads((SAMPLES / "hubspot_batch.json").read_text())
    return events


def change(deal: int, event: int, at: int, name: str, value: str) -> dict[str, Any]:
    return {
        "eventId": event,
        "subscriptionId": 2211,
        "occurredAt": at,
        "subscriptionType": "deal.propertyChange",
        "objectId": deal,
        "propertyName": name,
        "propertyValue": value,
    }


async def deliver_hubspot(store: IngestStore, delivery_id: str, events: list[dict[str, Any]]) -> BatchResult:
    parsed = hubspot.parse_batch(events, MAPPING)
    body = json.dumps(events).encode()
    apply = applying_hubspot_batch(parsed, MAPPING)
    result = await receive_delivery(fake_uow(store), "hubspot", delivery_id, {}, body, apply)
    assert result is not None
    return result


async def test_a_hubspot_batch_merges_into_one_revision_of_its_deal() -> None:
    store = fake_store()
    result = await deliver_hubspot(store, "b1", sample_events())
    assert result.outcome == "new_revision"
    assert result.events == {"applied": 7}
    assert result.deals == [StoreResult("new_revision", "hubspot:18231", 1)]
    [message] = store.outbox
    assert message.key == "hubspot:18231"
    data = message.envelope.data
    assert (data["amount"], data["currency"], data["owner"], data["status"], data["type"]) == (
        "1250.00",
        "EUR",
        "hubspot:52841",
        "won",
        "new",
    )
    state = await store.repos.crm_deal_states.lock("hubspot", "18231")
    assert state is not None and state["amount"]["v"] == "1250.00"
    assert await store.repos.crm_events.outcome("hubspot", "2211:1002:18231:1801000001000") == "applied"
    [logged] = await store.repos.deliveries.find(
        source="hubspot", outcome=None, since=None, before=None, limit=5
    )
    assert logged.outcome == "new_revision" and logged.detail is not None
    assert json.loads(logged.detail) == result.to_json()


async def test_hubspot_events_seen_before_are_duplicates_and_change_nothing() -> None:
    store = fake_store()
    await deliver_hubspot(store, "b1", sample_events())
    retry = await deliver_hubspot(store, "b1-retry", sample_events())
    assert retry.outcome == "duplicate" and retry.events == {"duplicate": 7} and retry.deals == []
    assert len(store.outbox) == 1
    assert [r.revision for r in await store.repos.deals.revisions("hubspot", "18231")] == [1]


async def test_an_older_hubspot_change_joins_history_but_never_overwrites_a_newer_one() -> None:
    store = fake_store()
    await deliver_hubspot(
        store, "b1", [change(501, 1, T + 5000, "amount", "150"), change(501, 2, T, "hubspot_owner_id", "7")]
    )
    late = await deliver_hubspot(store, "b2", [change(501, 3, T + 2000, "amount", "120")])
    assert late.events == {"older_than_stored": 1}
    assert late.deals == [StoreResult("new_revision", "hubspot:501", 2)]
    assert await store.repos.crm_events.outcome("hubspot", f"2211:3:501:{T + 2000}") == "older_than_stored"
    # the deal as of the late change (120, owner 7) is published in its place in history
    published = [
        (m.envelope.data["amount"], datetime.fromisoformat(m.envelope.data["changed_at"]))
        for m in store.outbox
    ]
    assert published == [
        ("150", datetime.fromtimestamp((T + 5000) / 1000, UTC)),
        ("120", datetime.fromtimestamp((T + 2000) / 1000, UTC)),
    ]
    current = await store.repos.deals.current("hubspot", "501")
    assert current is not None and current["amount"] == "150"
    again = await deliver_hubspot(store, "b3", [change(501, 4, T + 2500, "amount", "120")])
    assert again.deals == [StoreResult("unchanged", "hubspot:501", 3)]  # kept back: says what history says
    assert len(store.outbox) == 2


async def test_changes_out_of_order_in_one_batch_merge_by_when_they_happened() -> None:
    store = fake_store()
    result = await deliver_hubspot(
        store,
        "b1",
        [
            change(501, 2, T + 9000, "amount", "175"),
            change(501, 1, T + 1000, "amount", "150"),
            change(501, 3, T, "hubspot_owner_id", "7"),
        ],
    )
    assert result.events == {"applied": 3}  # sorted by occurredAt first: none is older
    current = await store.repos.deals.current("hubspot", "501")
    assert current is not None and current["amount"] == "175"


async def test_a_hubspot_deal_without_owner_is_incomplete_kept_and_not_published() -> None:
    store = fake_store()
    first = await deliver_hubspot(store, "b1", [change(601, 1, T, "amount", "10")])
    assert first.outcome == "incomplete" and first.deals == [StoreResult("incomplete", "hubspot:601")]
    assert store.outbox == [] and await store.repos.deals.current("hubspot", "601") is None
    # the merged state was kept: the owner arriving later completes the deal
    second = await deliver_hubspot(store, "b2", [change(601, 2, T + 1, "hubspot_owner_id", "9")])
    assert second.deals == [StoreResult("new_revision", "hubspot:601", 1)]
    assert store.outbox[0].envelope.data["amount"] == "10"


async def test_events_of_other_objects_are_acknowledged_and_ignored() -> None:
    store = fake_store()
    contact = {**change(1, 1, T, "email", "a@b.c"), "subscriptionType": "contact.propertyChange"}
    result = await deliver_hubspot(store, "b1", [contact])
    assert (result.outcome, result.events, result.deals) == ("ignored", {"ignored": 1}, [])
    assert (
        store.outbox == [] and await store.repos.crm_events.outcome("hubspot", "2211:1:1:" + str(T)) is None
    )


def notifications(*ids: str, amount: str = "18500.0") -> list[tuple[str, DealSnapshot]]:
    template = (SAMPLES / "salesforce_outbound.xml").read_bytes()
    received = datetime(2027, 2, 11, tzinfo=UTC)
    out = []
    for n, notification_id in enumerate(ids):
        body = (
            template.replace(b"04l5g00000NoTe1AAA", notification_id.encode())
            .replace(b"0065g00000OuTbDAAZ", f"006OPP{n}".encode())
            .replace(b"18500.0", amount.encode())
        )
        message = salesforce.parse_outbound(body)
        out += salesforce.outbound_snapshots(message, default_currency="USD", received_at=received)
    return out


async def deliver_salesforce(
    store: IngestStore, delivery_id: str, items: list[tuple[str, DealSnapshot]]
) -> BatchResult:
    apply = applying_notifications("salesforce", items)
    result = await receive_delivery(fake_uow(store), "salesforce", delivery_id, {}, b"<soap/>", apply)
    assert result is not None
    return result


async def test_each_salesforce_notification_is_stored_once_as_a_whole_snapshot() -> None:
    store = fake_store()
    result = await deliver_salesforce(store, "sf1", notifications("N1", "N2"))
    assert result.outcome == "new_revision" and result.events == {"new_revision": 2}
    assert [(m.key, m.envelope.data["type"]) for m in store.outbox] == [
        ("salesforce:006OPP0", "upsell"),
        ("salesforce:006OPP1", "upsell"),
    ]
    assert await store.repos.crm_events.outcome("salesforce", "outbound:N1") == "new_revision"


async def test_a_retried_salesforce_notification_is_a_duplicate_and_a_new_one_is_stored() -> None:
    store = fake_store()
    await deliver_salesforce(store, "sf1", notifications("N1"))
    retried = await deliver_salesforce(store, "sf2", notifications("N1", amount="99.0"))
    assert retried.outcome == "duplicate" and retried.events == {"duplicate": 1}
    later = notifications("N1", "N2")  # N2 carries the second Opportunity
    mixed = await deliver_salesforce(store, "sf3", later)
    assert mixed.events == {"duplicate": 1, "new_revision": 1}
    assert [m.key for m in store.outbox] == ["salesforce:006OPP0", "salesforce:006OPP1"]
    current = await store.repos.deals.current("salesforce", "006OPP0")
    assert current is not None and current["amount"] == "18500.0"
