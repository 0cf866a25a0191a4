"""Replay and reading on the fake: current snapshots re-published and audited; a deal's
history; the deal list and its cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ingest_fakes import IngestStore, fake_store, fake_uow

from deal_ingest.domain.snapshots import generic_deal
from deal_ingest.service_layer.deals import applying_deal, get_deal, list_deals
from deal_ingest.service_layer.deliveries import receive_delivery
from deal_ingest.service_layer.replay import replay_snapshots
from provisio_common.auth import Principal
from provisio_common.problems import Problem

NOW = datetime(2027, 2, 3, 10, 0, tzinfo=UTC)
ADMIN = Principal("ada", "admin")


async def store_deal(
    store: IngestStore,
    delivery_id: str,
    external_id: str,
    *,
    source: str = "generic",
    amount: str = "10.00",
    day: int = 3,
    owner: str = "rep-1",
    status: str = "won",
) -> None:
    data: dict[str, Any] = {
        "source": source,
        "external_id": external_id,
        "status": status,
        "amount": amount,
        "currency": "USD",
        "owner": owner,
        "changed_at": f"2027-02-{day:02d}T10:00:00Z",
    }
    apply = applying_deal(generic_deal(data, NOW))
    await receive_delivery(fake_uow(store), source, delivery_id, {}, b"{}", apply)


async def test_replay_republishes_the_current_snapshots_stored_in_the_window_and_audits() -> None:
    store = fake_store()
    await store_deal(store, "e1", "early", source="crm-a")
    since = datetime.now(UTC)
    await store_deal(store, "m1", "d2", source="crm-a")
    await store_deal(store, "m2", "d1", source="crm-a")
    await store_deal(store, "m3", "d1", source="crm-a", amount="20.00", day=4)
    await store_deal(store, "m4", "other", source="crm-b")
    until = datetime.now(UTC) + timedelta(microseconds=1)
    published = len(store.outbox)

    keys = await replay_snapshots(fake_uow(store), ADMIN, "crm-a", since, until)

    assert keys == ["crm-a:d1", "crm-a:d2"]
    replayed = store.outbox[published:]
    assert [(m.topic, m.key, m.envelope.data["revision"], m.envelope.data["amount"]) for m in replayed] == [
        ("deals.v1", "crm-a:d1", 2, "20.00"),
        ("deals.v1", "crm-a:d2", 1, "10.00"),
    ]
    earlier_ids = {m.event_id for m in store.outbox[:published]}
    assert not earlier_ids & {m.event_id for m in replayed}  # new event ids, same revisions
    [audit] = store.audits
    assert (audit.actor, audit.role, audit.action, audit.entity, audit.before) == (
        "ada",
        "admin",
        "replay",
        "deals:crm-a",
        None,
    )
    assert audit.after == {"since": since.isoformat(), "until": until.isoformat(), "deals": 2}


async def test_replay_of_an_empty_window_publishes_nothing_and_is_still_audited() -> None:
    store = fake_store()
    await store_deal(store, "m1", "d1")
    later = datetime.now(UTC) + timedelta(hours=1)
    assert await replay_snapshots(fake_uow(store), ADMIN, "generic", later, later + timedelta(hours=1)) == []
    assert len(store.outbox) == 1
    assert [a.after["deals"] for a in store.audits] == [0]


async def test_a_deal_reads_with_every_revision_oldest_first() -> None:
    store = fake_store()
    await store_deal(store, "m1", "d1")
    await store_deal(store, "m2", "d1", amount="20.00", day=4)
    history = await get_deal(fake_uow(store), "generic", "d1")
    assert history.deal == "generic:d1" and history.current["amount"] == "20.00"
    assert [(r.revision, r.document["amount"]) for r in history.revisions] == [(1, "10.00"), (2, "20.00")]
    assert history.revisions[1].changed_at == datetime(2027, 2, 4, 10, 0, tzinfo=UTC)


async def test_an_unknown_deal_is_404() -> None:
    store = fake_store()
    with pytest.raises(Problem) as info:
        await get_deal(fake_uow(store), "generic", "nope")
    assert info.value.status == 404 and info.value.detail == "no deal generic:nope"


async def test_deals_list_filters_and_pages_by_deal_key_cursor() -> None:
    store = fake_store()
    for n, (owner, status) in enumerate(
        [("rep-1", "won"), ("rep-2", "won"), ("rep-1", "lost"), ("rep-1", "won")]
    ):
        await store_deal(store, f"m{n}", f"d{n}", owner=owner, status=status)
    first = await list_deals(fake_uow(store), owner="rep-1", limit=2)
    assert [d.key for d in first.deals] == ["generic:d0", "generic:d2"] and first.next == "generic:d2"
    second = await list_deals(fake_uow(store), owner="rep-1", limit=2, after=first.next)
    assert [d.key for d in second.deals] == ["generic:d3"] and second.next is None
    won = await list_deals(fake_uow(store), status="won")
    assert [d.document["external_id"] for d in won.deals] == ["d0", "d1", "d3"]
    since = await list_deals(fake_uow(store), changed_since=datetime(2027, 2, 4, tzinfo=UTC))
    assert since.deals == []
