"""Store a verified delivery: raw log, snapshot and revision, outbox row, one transaction."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from deal_ingest.adapters.tables import (
    activities,
    crm_deal_state,
    crm_events,
    deal_revisions,
    deal_snapshots,
    deliveries,
    outbox,
)
from deal_ingest.domain import hubspot
from deal_ingest.domain.snapshots import Stored, decide
from provisio_common.events import ActivityRecord, DealSnapshot, envelope
from provisio_common.outbox import add_to_outbox
from provisio_common.topics import ACTIVITIES, DEALS


@dataclass(frozen=True)
class StoreResult:
    outcome: str
    deal: str | None = None
    revision: int | None = None


async def record_delivery(
    session: AsyncSession, source: str, delivery_id: str, headers: dict[str, str], body: bytes
) -> int | None:
    """Insert the raw delivery; None if this (source, delivery id) was already received."""
    row = (
        await session.execute(
            insert(deliveries)
            .values(source=source, delivery_id=delivery_id, headers=headers, body=body, outcome="received")
            .on_conflict_do_nothing(constraint="deliveries_source_delivery_id")
            .returning(deliveries.c.id)
        )
    ).first()
    return None if row is None else int(row.id)


async def set_outcome(session: AsyncSession, delivery: int, outcome: str, detail: str | None = None) -> None:
    await session.execute(
        deliveries.update().where(deliveries.c.id == delivery).values(outcome=outcome, detail=detail)
    )


async def store_deal(session: AsyncSession, delivery: int, incoming: DealSnapshot) -> StoreResult:
    """Apply one incoming snapshot (revision not yet assigned)."""
    key = (deal_snapshots.c.source == incoming.source) & (
        deal_snapshots.c.external_id == incoming.external_id
    )
    # A per-deal lock serializes writers of one deal (even a new one), which keeps its outbox rows
    # in revision order (the relay's per-key ordering relies on it).
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(incoming.key))))
    row = (await session.execute(sa.select(deal_snapshots).where(key).with_for_update())).first()
    stored = None if row is None else Stored(row.revision, row.changed_at, row.document)
    decision = decide(stored, incoming)
    if decision.outcome != "new_revision":
        await set_outcome(session, delivery, decision.outcome)
        return StoreResult(decision.outcome, incoming.key, decision.revision)
    snapshot = incoming.model_copy(update={"revision": decision.revision})
    document: dict[str, Any] = snapshot.to_data()
    values = {
        "revision": snapshot.revision,
        "status": snapshot.status,
        "owner": snapshot.owner,
        "changed_at": snapshot.changed_at,
        "document": document,
    }
    await session.execute(
        insert(deal_snapshots)
        .values(source=snapshot.source, external_id=snapshot.external_id, **values)
        .on_conflict_do_update(
            index_elements=[deal_snapshots.c.source, deal_snapshots.c.external_id],
            set_={**values, "updated_at": sa.func.now()},
        )
    )
    await session.execute(
        deal_revisions.insert().values(
            source=snapshot.source,
            external_id=snapshot.external_id,
            revision=snapshot.revision,
            delivery=delivery,
            changed_at=snapshot.changed_at,
            document=document,
        )
    )
    await add_to_outbox(
        session,
        outbox,
        DEALS.name,
        snapshot.key,
        envelope("deal.snapshot", "deal-ingest", snapshot.key, snapshot),
    )
    await set_outcome(session, delivery, "new_revision")
    return StoreResult("new_revision", snapshot.key, snapshot.revision)


async def store_activity(session: AsyncSession, delivery: int, activity: ActivityRecord) -> StoreResult:
    key = f"{activity.source}:{activity.external_id}"
    inserted = (
        await session.execute(
            insert(activities)
            .values(
                source=activity.source,
                external_id=activity.external_id,
                document=activity.to_data(),
                delivery=delivery,
            )
            .on_conflict_do_nothing()
            .returning(activities.c.external_id)
        )
    ).first()
    if inserted is None:
        await set_outcome(session, delivery, "unchanged")
        return StoreResult("unchanged", key)
    partition_key = (activity.deal and f"{activity.source}:{activity.deal}") or activity.owner
    await add_to_outbox(
        session, outbox, ACTIVITIES.name, partition_key, envelope("activity", "deal-ingest", key, activity)
    )
    await set_outcome(session, delivery, "new_activity")
    return StoreResult("new_activity", key)


async def claim_event(session: AsyncSession, source: str, event_key: str, delivery: int) -> bool:
    """Record one CRM event of a batch; False if this event was already received."""
    row = (
        await session.execute(
            insert(crm_events)
            .values(source=source, event_key=event_key, delivery=delivery, outcome="received")
            .on_conflict_do_nothing()
            .returning(crm_events.c.event_key)
        )
    ).first()
    return row is not None


async def _event_outcome(session: AsyncSession, source: str, event_key: str, outcome: str) -> None:
    await session.execute(
        crm_events.update()
        .where(crm_events.c.source == source, crm_events.c.event_key == event_key)
        .values(outcome=outcome)
    )


@dataclass
class BatchResult:
    """What one batched delivery did: per-event counts and per-deal outcomes."""

    events: Counter[str] = field(default_factory=Counter)
    deals: list[StoreResult] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """The delivery's outcome for the raw log and the metrics."""
        if any(d.outcome == "new_revision" for d in self.deals):
            return "new_revision"
        if self.events and set(self.events) <= {"duplicate"}:
            return "duplicate"
        if any(d.outcome == "incomplete" for d in self.deals):
            return "incomplete"
        if self.deals:
            return self.deals[0].outcome if len({d.outcome for d in self.deals}) == 1 else "unchanged"
        return "ignored"

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "events": dict(self.events),
            "deals": [{"deal": d.deal, "outcome": d.outcome, "revision": d.revision} for d in self.deals],
        }


async def apply_hubspot_batch(
    session: AsyncSession, delivery: int, events: list[hubspot.HubSpotEvent], mapping: hubspot.HubSpotMapping
) -> BatchResult:
    """Merge a batch of HubSpot events into each deal's state; one new revision per changed deal."""
    result = BatchResult()
    fresh: dict[str, list[hubspot.HubSpotEvent]] = {}
    for event in events:
        if not event.is_deal_event or event.subscription_type not in hubspot.DEAL_EVENTS:
            result.events["ignored"] += 1
            continue
        if not await claim_event(session, "hubspot", event.key, delivery):
            result.events["duplicate"] += 1
            continue
        fresh.setdefault(event.object_id, []).append(event)
    # deals in a fixed order, so two concurrent batches lock them in the same order
    for object_id in sorted(fresh):
        deal_key = f"hubspot:{object_id}"
        await session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(deal_key))))
        where = (crm_deal_state.c.source == "hubspot") & (crm_deal_state.c.external_id == object_id)
        row = (
            await session.execute(sa.select(crm_deal_state.c.state).where(where).with_for_update())
        ).first()
        state: hubspot.DealState = dict(row.state) if row is not None else {}
        applied = 0
        for event in sorted(fresh[object_id], key=lambda e: (e.occurred_at, e.event_id)):
            outcome = "applied" if hubspot.merge(state, event) else "older_than_stored"
            applied += outcome == "applied"
            result.events[outcome] += 1
            await _event_outcome(session, "hubspot", event.key, outcome)
        if not applied:
            result.deals.append(StoreResult("older_than_stored", deal_key))
            continue
        await session.execute(
            insert(crm_deal_state)
            .values(source="hubspot", external_id=object_id, state=state)
            .on_conflict_do_update(
                index_elements=[crm_deal_state.c.source, crm_deal_state.c.external_id],
                set_={"state": state, "updated_at": sa.func.now()},
            )
        )
        built = hubspot.build_snapshot(object_id, state, mapping)
        if built.snapshot is None:
            result.deals.append(StoreResult("incomplete", deal_key))
            continue
        result.deals.append(await store_deal(session, delivery, built.snapshot))
    await set_outcome(session, delivery, result.outcome, json.dumps(result.to_json()))
    return result


async def apply_deal_notifications(
    session: AsyncSession, source: str, delivery: int, notifications: list[tuple[str, DealSnapshot]]
) -> BatchResult:
    """Store whole snapshots that arrived as separately retried notifications (Salesforce)."""
    result = BatchResult()
    for event_key, snapshot in notifications:
        if not await claim_event(session, source, event_key, delivery):
            result.events["duplicate"] += 1
            continue
        stored = await store_deal(session, delivery, snapshot)
        result.events[stored.outcome] += 1
        result.deals.append(stored)
        await _event_outcome(session, source, event_key, stored.outcome)
    await set_outcome(session, delivery, result.outcome, json.dumps(result.to_json()))
    return result


async def replay_snapshots(session: AsyncSession, source: str, since: Any, until: Any) -> list[str]:
    """Queue the current snapshot of every deal of `source` stored in [since, until) again."""
    t = deal_snapshots
    rows = (
        await session.execute(
            sa.select(t.c.source, t.c.external_id, t.c.document)
            .where(t.c.source == source, t.c.updated_at >= since, t.c.updated_at < until)
            .order_by(t.c.source, t.c.external_id)
            .with_for_update()
        )
    ).all()
    keys = []
    for row in rows:
        snapshot = DealSnapshot.model_validate(row.document)
        await add_to_outbox(
            session,
            outbox,
            DEALS.name,
            snapshot.key,
            envelope("deal.snapshot", "deal-ingest", snapshot.key, snapshot),
        )
        keys.append(snapshot.key)
    return keys
