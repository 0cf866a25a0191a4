"""Activities on the fake: kept once, published on activities.v1 next to their deal."""

from __future__ import annotations

from datetime import UTC, datetime

from ingest_fakes import IngestStore, fake_store, fake_uow

from deal_ingest.domain.outcomes import StoreResult
from deal_ingest.service_layer.deals import applying_activity
from deal_ingest.service_layer.deliveries import receive_delivery
from provisio_common.events import ActivityRecord


def call(external_id: str = "9120", deal: str | None = "4711") -> ActivityRecord:
    return ActivityRecord(
        source="pipedrive",
        external_id=external_id,
        kind="call",
        owner="pipedrive:42",
        occurred_at=datetime(2027, 2, 3, 11, 0, tzinfo=UTC),
        deal=deal,
    )


async def deliver(store: IngestStore, delivery_id: str, activity: ActivityRecord) -> StoreResult | None:
    apply = applying_activity(activity)
    return await receive_delivery(fake_uow(store), "pipedrive", delivery_id, {}, b"{}", apply)


async def test_a_new_activity_is_published_on_activities_v1_keyed_by_its_deal() -> None:
    store = fake_store()
    result = await deliver(store, "a1", call())
    assert result == StoreResult("new_activity", "pipedrive:9120")
    [message] = store.outbox
    assert (message.topic, message.key) == ("activities.v1", "pipedrive:4711")
    assert (message.envelope.type, message.envelope.subject) == ("activity", "pipedrive:9120")
    assert message.envelope.data["owner"] == "pipedrive:42"
    assert await store.repos.activities.get("pipedrive", "9120") == call()


async def test_an_activity_without_a_deal_is_keyed_by_its_owner() -> None:
    store = fake_store()
    await deliver(store, "a1", call(deal=None))
    assert store.outbox[0].key == "pipedrive:42"


async def test_an_activity_already_kept_is_unchanged_and_not_published_again() -> None:
    store = fake_store()
    await deliver(store, "a1", call())
    again = await deliver(store, "a2", call())
    assert again == StoreResult("unchanged", "pipedrive:9120")
    assert len(store.outbox) == 1
