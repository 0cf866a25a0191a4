"""Store a verified delivery: raw log, snapshot and revision, outbox row, one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from deal_ingest.adapters.tables import activities, deal_revisions, deal_snapshots, deliveries, outbox
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
            .values(source=source, delivery_id=delivery_id, headers=headers, body=body,
                    outcome="received")
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
    await session.execute(
        sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(incoming.key)))
    )
    row = (await session.execute(sa.select(deal_snapshots).where(key).with_for_update())).first()
    stored = None if row is None else Stored(row.revision, row.changed_at, row.document)
    decision = decide(stored, incoming)
    if decision.outcome != "new_revision":
        await set_outcome(session, delivery, decision.outcome)
        return StoreResult(decision.outcome, incoming.key, decision.revision)
    snapshot = incoming.model_copy(update={"revision": decision.revision})
    document: dict[str, Any] = snapshot.to_data()
    values = {"revision": snapshot.revision, "status": snapshot.status, "owner": snapshot.owner,
              "changed_at": snapshot.changed_at, "document": document}
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
            source=snapshot.source, external_id=snapshot.external_id, revision=snapshot.revision,
            delivery=delivery, changed_at=snapshot.changed_at, document=document,
        )
    )
    await add_to_outbox(session, outbox, DEALS.name, snapshot.key,
                        envelope("deal.snapshot", "deal-ingest", snapshot.key, snapshot))
    await set_outcome(session, delivery, "new_revision")
    return StoreResult("new_revision", snapshot.key, snapshot.revision)


async def store_activity(session: AsyncSession, delivery: int, activity: ActivityRecord) -> StoreResult:
    key = f"{activity.source}:{activity.external_id}"
    inserted = (
        await session.execute(
            insert(activities)
            .values(source=activity.source, external_id=activity.external_id,
                    document=activity.to_data(), delivery=delivery)
            .on_conflict_do_nothing()
            .returning(activities.c.external_id)
        )
    ).first()
    if inserted is None:
        await set_outcome(session, delivery, "unchanged")
        return StoreResult("unchanged", key)
    partition_key = activity.deal and f"{activity.source}:{activity.deal}" or activity.owner
    await add_to_outbox(session, outbox, ACTIVITIES.name, partition_key,
                        envelope("activity", "deal-ingest", key, activity))
    await set_outcome(session, delivery, "new_activity")
    return StoreResult("new_activity", key)
