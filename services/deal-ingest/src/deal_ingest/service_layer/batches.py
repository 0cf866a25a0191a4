"""Batched deliveries: HubSpot's property changes merged into each deal's state, and
Salesforce Outbound Message notifications, each event of a batch applied once."""

from __future__ import annotations

from collections import Counter

from deal_ingest.adapters.crm.hubspot import Built, HubSpotMapping, build_snapshot
from deal_ingest.domain.hubspot_changes import HubSpotEvent, as_of, is_merged, merge, merge_order
from deal_ingest.domain.outcomes import BatchResult, StoreResult
from deal_ingest.service_layer import IngestUoW
from deal_ingest.service_layer.deals import store_deal
from deal_ingest.service_layer.deliveries import Apply
from provisio_common.events import DealSnapshot


async def apply_hubspot_batch(
    uow: IngestUoW, delivery: int, events: list[HubSpotEvent], mapping: HubSpotMapping
) -> BatchResult:
    """Merge a batch of HubSpot events into each deal's state; one new revision per changed deal."""
    result = BatchResult()
    fresh: dict[str, list[HubSpotEvent]] = {}
    for event in events:
        if not is_merged(event):
            result.events["ignored"] += 1
            continue
        if not await uow.repos.crm_events.claim("hubspot", event.key, delivery):
            result.events["duplicate"] += 1
            continue
        fresh.setdefault(event.object_id, []).append(event)
    # deals in a fixed order, so two concurrent batches lock them in the same order
    for object_id in sorted(fresh):
        result.deals.append(
            await _merge_deal(uow, delivery, object_id, fresh[object_id], mapping, result.events)
        )
    return result


async def _merge_deal(
    uow: IngestUoW,
    delivery: int,
    object_id: str,
    events: list[HubSpotEvent],
    mapping: HubSpotMapping,
    counts: Counter[str],
) -> StoreResult:
    """Merge one deal's new events; store the snapshot as of each late change (history is
    ordered by when changes happened, not by arrival) and the current one."""
    deal_key = f"hubspot:{object_id}"
    state = await uow.repos.crm_deal_states.lock("hubspot", object_id) or {}
    applied = 0
    late: set[int] = set()
    for event in sorted(events, key=merge_order):
        outcome = "applied" if merge(state, event) else "older_than_stored"
        applied += outcome == "applied"
        if outcome == "older_than_stored":
            late.add(event.occurred_at)
        counts[outcome] += 1
        await uow.repos.crm_events.set_outcome("hubspot", event.key, outcome)
    await uow.repos.crm_deal_states.save("hubspot", object_id, state)
    stored = [
        await _store_built(uow, delivery, deal_key, build_snapshot(object_id, as_of(state, t), mapping, t))
        for t in sorted(late)
    ]
    if applied:
        stored.append(await _store_built(uow, delivery, deal_key, build_snapshot(object_id, state, mapping)))
    new = [r for r in stored if r.outcome == "new_revision"]
    if new:
        return new[-1]
    return stored[-1] if stored else StoreResult("older_than_stored", deal_key)


async def _store_built(uow: IngestUoW, delivery: int, deal_key: str, built: Built) -> StoreResult:
    if built.snapshot is None:
        return StoreResult("incomplete", deal_key)
    return await store_deal(uow, delivery, built.snapshot)


async def apply_deal_notifications(
    uow: IngestUoW, source: str, delivery: int, notifications: list[tuple[str, DealSnapshot]]
) -> BatchResult:
    """Store whole snapshots that arrived as separately retried notifications (Salesforce),
    each `(event key, snapshot)` once."""
    result = BatchResult()
    for event_key, snapshot in notifications:
        if not await uow.repos.crm_events.claim(source, event_key, delivery):
            result.events["duplicate"] += 1
            continue
        stored = await store_deal(uow, delivery, snapshot)
        result.events[stored.outcome] += 1
        result.deals.append(stored)
        await uow.repos.crm_events.set_outcome(source, event_key, stored.outcome)
    return result


def applying_hubspot_batch(events: list[HubSpotEvent], mapping: HubSpotMapping) -> Apply[BatchResult]:
    """A delivery whose content is a HubSpot event batch."""

    async def apply(uow: IngestUoW, delivery: int) -> BatchResult:
        return await apply_hubspot_batch(uow, delivery, events, mapping)

    return apply


def applying_notifications(source: str, notifications: list[tuple[str, DealSnapshot]]) -> Apply[BatchResult]:
    """A delivery whose content is several separately keyed deal notifications."""

    async def apply(uow: IngestUoW, delivery: int) -> BatchResult:
        return await apply_deal_notifications(uow, source, delivery, notifications)

    return apply
