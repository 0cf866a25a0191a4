"""The one delivery sequence every door runs: raw log, dedupe, apply, outcome, commit, metric."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from ingest_fakes import IngestStore, fake_store, fake_uow, raw_log
from prometheus_client import REGISTRY

from deal_ingest.domain.outcomes import StoreResult
from deal_ingest.domain.snapshots import generic_deal
from deal_ingest.service_layer import IngestUoW
from deal_ingest.service_layer.deals import applying_deal, ignoring
from deal_ingest.service_layer.deliveries import Apply, list_deliveries, receive_delivery
from provisio_common.events import DealSnapshot

NOW = datetime(2027, 2, 3, 10, 0, tzinfo=UTC)
HEADERS = {"webhook-id": "msg", "content-type": "application/json"}


def snapshot(changed_at: str = "2027-02-03T10:00:00Z", amount: str = "10.00") -> DealSnapshot:
    data: dict[str, Any] = {
        "external_id": "D-1",
        "status": "won",
        "amount": amount,
        "currency": "USD",
        "owner": "rep-1",
        "changed_at": changed_at,
    }
    return generic_deal(data, NOW)


async def deliver(
    store: IngestStore, delivery_id: str, apply: Apply[StoreResult], source: str = "generic"
) -> StoreResult | None:
    body = f'{{"delivery": "{delivery_id}"}}'.encode()
    return await receive_delivery(fake_uow(store), source, delivery_id, HEADERS, body, apply)


async def test_a_new_deal_is_kept_verbatim_and_published_once_on_deals_v1_keyed_by_deal() -> None:
    store = fake_store()
    result = await deliver(store, "m1", applying_deal(snapshot()))
    assert result == StoreResult("new_revision", "generic:D-1", 1)
    [message] = store.outbox
    assert (message.topic, message.key) == ("deals.v1", "generic:D-1")
    envelope = message.envelope
    assert (envelope.type, envelope.source, envelope.subject) == (
        "deal.snapshot",
        "deal-ingest",
        "generic:D-1",
    )
    assert envelope.data["revision"] == 1 and envelope.data["amount"] == "10.00"
    [logged] = await raw_log(store)
    assert (logged.source, logged.delivery_id, logged.outcome, logged.detail) == (
        "generic",
        "m1",
        "new_revision",
        None,
    )
    assert logged.body == b'{"delivery": "m1"}' and logged.headers == HEADERS
    current = await store.repos.deals.current("generic", "D-1")
    assert current is not None and current["revision"] == 1


async def test_a_redelivered_delivery_id_changes_nothing() -> None:
    store = fake_store()
    await deliver(store, "m1", applying_deal(snapshot()))
    again = await deliver(store, "m1", applying_deal(snapshot("2027-02-04T00:00:00Z", amount="99.00")))
    assert again is None
    assert len(store.outbox) == 1
    assert len(await raw_log(store)) == 1
    assert [r.revision for r in await store.repos.deals.revisions("generic", "D-1")] == [1]
    current = await store.repos.deals.current("generic", "D-1")
    assert current is not None and current["amount"] == "10.00"


async def test_a_changed_snapshot_is_the_next_revision_and_publishes_one_envelope() -> None:
    store = fake_store()
    await deliver(store, "m1", applying_deal(snapshot()))
    result = await deliver(store, "m2", applying_deal(snapshot("2027-02-04T00:00:00Z", amount="20.00")))
    assert result == StoreResult("new_revision", "generic:D-1", 2)
    assert [(m.key, m.envelope.data["revision"], m.envelope.data["amount"]) for m in store.outbox] == [
        ("generic:D-1", 1, "10.00"),
        ("generic:D-1", 2, "20.00"),
    ]
    assert [r.revision for r in await store.repos.deals.revisions("generic", "D-1")] == [1, 2]


async def test_an_unchanged_snapshot_publishes_nothing() -> None:
    store = fake_store()
    await deliver(store, "m1", applying_deal(snapshot()))
    result = await deliver(store, "m2", applying_deal(snapshot("2027-03-01T00:00:00Z")))
    assert result == StoreResult("unchanged", "generic:D-1", 2)  # kept in history, not published
    assert len(store.outbox) == 1
    again = await deliver(store, "m3", applying_deal(snapshot("2027-03-01T00:00:00Z")))
    assert again == StoreResult("unchanged", "generic:D-1", 2)  # the same snapshot: kept once
    assert [r.revision for r in await store.repos.deals.revisions("generic", "D-1")] == [1, 2]
    [_, latest, _] = await store.repos.deliveries.find(
        source=None, outcome=None, since=None, before=None, limit=10
    )
    assert (latest.delivery_id, latest.outcome) == ("m2", "unchanged")


async def test_a_kept_back_rewin_is_published_when_the_cancellation_before_it_arrives() -> None:
    store = fake_store()
    await deliver(store, "m1", applying_deal(snapshot("2027-02-01T00:00:00Z")))
    rewon = await deliver(store, "m2", applying_deal(snapshot("2027-02-20T00:00:00Z")))
    assert rewon == StoreResult("unchanged", "generic:D-1", 2)
    cancelled = snapshot("2027-02-09T00:00:00Z").model_copy(update={"status": "cancelled"})
    result = await deliver(store, "m3", applying_deal(cancelled))
    assert result == StoreResult("new_revision", "generic:D-1", 3)
    assert [(m.envelope.data["revision"], m.envelope.data["status"]) for m in store.outbox] == [
        (1, "won"),
        (3, "cancelled"),
        (2, "won"),
    ]
    current = await store.repos.deals.current("generic", "D-1")
    assert current is not None and (current["status"], current["revision"]) == ("won", 2)


async def test_a_late_snapshot_is_kept_and_published_but_the_latest_stays_current() -> None:
    store = fake_store()
    await deliver(store, "m1", applying_deal(snapshot("2027-02-04T00:00:00Z", amount="20.00")))
    result = await deliver(store, "m2", applying_deal(snapshot("2027-02-01T00:00:00Z", amount="5.00")))
    assert result == StoreResult("new_revision", "generic:D-1", 2)
    assert [(m.envelope.data["revision"], m.envelope.data["amount"]) for m in store.outbox] == [
        (1, "20.00"),
        (2, "5.00"),
    ]
    current = await store.repos.deals.current("generic", "D-1")
    assert current is not None and (current["amount"], current["revision"]) == ("20.00", 1)
    assert [r.revision for r in await store.repos.deals.revisions("generic", "D-1")] == [1, 2]


async def test_an_ignored_delivery_is_logged_with_why_and_publishes_nothing() -> None:
    store = fake_store()
    result = await deliver(store, "p1", ignoring("entity 'person' is not read"), source="pipedrive")
    assert result == StoreResult("ignored", detail="entity 'person' is not read")
    assert store.outbox == []
    [logged] = await store.repos.deliveries.find(
        source="pipedrive", outcome=None, since=None, before=None, limit=10
    )
    assert (logged.outcome, logged.detail) == ("ignored", "entity 'person' is not read")


async def test_a_delivery_whose_content_fails_to_apply_leaves_no_trace() -> None:
    store = fake_store()

    async def failing(uow: IngestUoW, delivery: int) -> StoreResult:
        await applying_deal(snapshot())(uow, delivery)
        raise RuntimeError("broken")

    with pytest.raises(RuntimeError):
        await deliver(store, "m1", failing)
    assert store.outbox == []
    assert await raw_log(store) == []
    assert await store.repos.deals.current("generic", "D-1") is None
    # so the CRM's retry of the same id is applied, not taken for a duplicate
    assert await deliver(store, "m1", applying_deal(snapshot())) is not None


def counted(source: str, outcome: str) -> float:
    labels = {"source": source, "outcome": outcome}
    return REGISTRY.get_sample_value("provisio_ingest_deliveries_total", labels) or 0.0


async def test_every_delivery_is_counted_by_source_and_outcome() -> None:
    store = fake_store()
    source = "unit-counted"
    before = [counted(source, o) for o in ("new_revision", "duplicate", "unchanged")]
    await deliver(store, "c1", applying_deal(snapshot()), source=source)
    await deliver(store, "c1", applying_deal(snapshot()), source=source)
    await deliver(store, "c2", applying_deal(snapshot("2027-03-01T00:00:00Z")), source=source)
    after = [counted(source, o) for o in ("new_revision", "duplicate", "unchanged")]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1.0, 1.0, 1.0]


async def test_the_raw_log_is_newest_first_filtered_and_paged_by_id_cursor() -> None:
    store = fake_store()
    for n in range(5):
        await deliver(store, f"m{n}", ignoring("x"), source="pipedrive" if n % 2 else "generic")
    first = await list_deliveries(fake_uow(store), limit=2)
    assert [d.delivery_id for d in first.deliveries] == ["m4", "m3"] and first.next == first.deliveries[-1].id
    second = await list_deliveries(fake_uow(store), limit=2, before=first.next)
    assert [d.delivery_id for d in second.deliveries] == ["m2", "m1"]
    last = await list_deliveries(fake_uow(store), limit=2, before=second.next)
    assert [d.delivery_id for d in last.deliveries] == ["m0"] and last.next is None
    pipedrive = await list_deliveries(fake_uow(store), source="pipedrive", outcome="ignored")
    assert [d.delivery_id for d in pipedrive.deliveries] == ["m3", "m1"]
