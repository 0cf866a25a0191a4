"""deal-ingest's repositories: the ports (what the service layer may ask of its store), their
Postgres implementations, and the bundle a unit of work carries (`uow.repos`).

Writers of one deal serialize on a per-deal advisory lock taken before the deal's row is
read `FOR UPDATE` (even a deal not stored yet), which keeps its outbox rows in revision
order: the relay's per-key ordering relies on it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession
from typing_extensions import override

from deal_ingest.adapters.tables import (
    activities,
    crm_deal_state,
    crm_events,
    deal_revisions,
    deal_snapshots,
    deliveries,
)
from deal_ingest.domain.hubspot_changes import DealState
from deal_ingest.domain.records import CurrentDeal, LoggedDelivery, Revision
from deal_ingest.domain.snapshots import Stored
from provisio_common.events import ActivityRecord, DealSnapshot

# ---------------------------------------------------------------------------------------
# Ports


class Deliveries(ABC):
    """The raw log: every accepted delivery verbatim, once per (source, delivery id)."""

    @abstractmethod
    async def claim(self, source: str, delivery_id: str) -> int | None:
        """The row id this delivery will be kept under, or None if it is kept already."""

    @abstractmethod
    async def record(
        self,
        delivery: int,
        source: str,
        delivery_id: str,
        headers: dict[str, str],
        body: bytes,
        outcome: str,
        detail: str | None,
    ) -> bool:
        """Keep the claimed delivery verbatim with what it did (one insert, no update);
        False if the same (source, delivery id) was kept meanwhile (a concurrent
        redelivery that committed first)."""

    @abstractmethod
    async def find(
        self,
        *,
        source: str | None,
        outcome: str | None,
        since: datetime | None,
        before: int | None,
        limit: int,
    ) -> list[LoggedDelivery]:
        """Deliveries newest first (`before`: only ids below it), at most `limit`."""


class Deals(ABC):
    """Current deal snapshots and every revision of them."""

    @abstractmethod
    async def lock_history(self, source: str, external_id: str) -> list[Stored]:
        """Lock the deal for this transaction (even one not stored yet); every revision kept."""

    @abstractmethod
    async def add_revision(
        self, snapshot: DealSnapshot, delivery: int, *, current: bool, published: bool = True
    ) -> None:
        """Keep `snapshot` (its revision assigned) as a revision, published or kept back; with
        `current`, it is also the deal's current snapshot (the last in its history)."""

    @abstractmethod
    async def mark_published(self, source: str, external_id: str, revision: int) -> None:
        """Note that a kept-back revision has now been published."""

    @abstractmethod
    async def current(self, source: str, external_id: str) -> dict[str, Any] | None:
        """The current snapshot document, or None for a deal never stored."""

    @abstractmethod
    async def revisions(self, source: str, external_id: str) -> list[Revision]:
        """Every revision of a deal, oldest first."""

    @abstractmethod
    async def find(
        self,
        *,
        status: str | None,
        owner: str | None,
        changed_since: datetime | None,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[CurrentDeal]:
        """Current deals ordered by (source, external_id), after the cursor, at most `limit`."""

    @abstractmethod
    async def stored_between(self, source: str, since: datetime, until: datetime) -> list[CurrentDeal]:
        """Lock and return the deals of `source` whose snapshot was stored in [since, until)."""

    @abstractmethod
    async def published_revisions(
        self, after: tuple[str, str] | None, limit: int
    ) -> list[tuple[str, str, list[int]]]:
        """(source, external_id, revisions published, ascending) of every deal, ordered by
        (source, external_id), after the cursor, at most `limit` deals."""


class Activities(ABC):
    """Activities, each kept once."""

    @abstractmethod
    async def add(self, activity: ActivityRecord, delivery: int) -> bool:
        """Keep an activity; False if this (source, external id) is already kept."""

    @abstractmethod
    async def get(self, source: str, external_id: str) -> ActivityRecord | None:
        """A kept activity."""


class CrmEvents(ABC):
    """CRM events inside batched deliveries (HubSpot events, Salesforce notifications)."""

    @abstractmethod
    async def claim(self, source: str, event_key: str, delivery: int) -> bool:
        """Record one event (outcome `received`); False if this event was already received."""

    @abstractmethod
    async def set_outcome(self, source: str, event_key: str, outcome: str) -> None:
        """Say what the event did."""

    @abstractmethod
    async def outcome(self, source: str, event_key: str) -> str | None:
        """What the event did, or None for an event never received."""


class CrmDealStates(ABC):
    """The merged state of deals whose CRM sends only changed properties (HubSpot)."""

    @abstractmethod
    async def lock(self, source: str, external_id: str) -> DealState | None:
        """Lock the deal for this transaction (even one without state yet); its state."""

    @abstractmethod
    async def save(self, source: str, external_id: str, state: DealState) -> None:
        """Keep the deal's merged state."""


@dataclass
class IngestRepositories:
    """Everything deal-ingest's use cases read and write (`uow.repos`)."""

    deliveries: Deliveries
    deals: Deals
    activities: Activities
    crm_events: CrmEvents
    crm_deal_states: CrmDealStates


# ---------------------------------------------------------------------------------------
# Postgres


async def _lock_deal(session: AsyncSession, deal_key: str) -> None:
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(deal_key))))


class SqlDeliveries(Deliveries):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def claim(self, source: str, delivery_id: str) -> int | None:
        t = deliveries
        kept = sa.exists().where(t.c.source == source, t.c.delivery_id == delivery_id)
        sequence = sa.func.pg_get_serial_sequence(t.name, t.c.id.name)
        row = (
            await self.session.execute(sa.select(sa.func.nextval(sequence).label("id"), kept.label("kept")))
        ).one()
        return None if row.kept else int(row.id)

    @override
    async def record(
        self,
        delivery: int,
        source: str,
        delivery_id: str,
        headers: dict[str, str],
        body: bytes,
        outcome: str,
        detail: str | None,
    ) -> bool:
        row = (
            await self.session.execute(
                insert(deliveries)
                .values(
                    id=delivery,
                    source=source,
                    delivery_id=delivery_id,
                    headers=headers,
                    body=body,
                    outcome=outcome,
                    detail=detail,
                )
                .on_conflict_do_nothing(constraint="deliveries_source_delivery_id")
                .returning(deliveries.c.id)
            )
        ).first()
        return row is not None

    @override
    async def find(
        self,
        *,
        source: str | None,
        outcome: str | None,
        since: datetime | None,
        before: int | None,
        limit: int,
    ) -> list[LoggedDelivery]:
        t = deliveries
        query = sa.select(t).order_by(t.c.id.desc())
        if source:
            query = query.where(t.c.source == source)
        if outcome:
            query = query.where(t.c.outcome == outcome)
        if since:
            query = query.where(t.c.received_at >= since)
        if before:
            query = query.where(t.c.id < before)
        rows = (await self.session.execute(query.limit(limit))).all()
        return [
            LoggedDelivery(
                id=r.id,
                source=r.source,
                delivery_id=r.delivery_id,
                received_at=r.received_at,
                headers=r.headers,
                body=bytes(r.body),
                outcome=r.outcome,
                detail=r.detail,
            )
            for r in rows
        ]


class SqlDeals(Deals):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def lock_history(self, source: str, external_id: str) -> list[Stored]:
        await _lock_deal(self.session, f"{source}:{external_id}")
        t = deal_revisions
        rows = (
            await self.session.execute(
                sa.select(t.c.revision, t.c.changed_at, t.c.document, t.c.published)
                .where(t.c.source == source, t.c.external_id == external_id)
                .order_by(t.c.revision)
            )
        ).all()
        return [Stored(r.revision, r.changed_at, r.document, r.published) for r in rows]

    @override
    async def mark_published(self, source: str, external_id: str, revision: int) -> None:
        t = deal_revisions
        await self.session.execute(
            t.update()
            .where(t.c.source == source, t.c.external_id == external_id, t.c.revision == revision)
            .values(published=True)
        )

    @override
    async def add_revision(
        self, snapshot: DealSnapshot, delivery: int, *, current: bool, published: bool = True
    ) -> None:
        document: dict[str, Any] = snapshot.to_data()
        revision = deal_revisions.insert().values(
            source=snapshot.source,
            external_id=snapshot.external_id,
            revision=snapshot.revision,
            delivery=delivery,
            changed_at=snapshot.changed_at,
            document=document,
            published=published,
        )
        if not current:
            await self.session.execute(revision)
            return
        values = {
            "revision": snapshot.revision,
            "status": snapshot.status,
            "owner": snapshot.owner,
            "changed_at": snapshot.changed_at,
            "document": document,
        }
        # One round trip: the revision is inserted by the upsert's CTE.
        kept = revision.returning(deal_revisions.c.revision).cte("kept")
        await self.session.execute(
            insert(deal_snapshots)
            .add_cte(kept)
            .values(source=snapshot.source, external_id=snapshot.external_id, **values)
            .on_conflict_do_update(
                index_elements=[deal_snapshots.c.source, deal_snapshots.c.external_id],
                set_={**values, "updated_at": sa.func.now()},
            )
        )

    @override
    async def current(self, source: str, external_id: str) -> dict[str, Any] | None:
        key = (deal_snapshots.c.source == source) & (deal_snapshots.c.external_id == external_id)
        document: dict[str, Any] | None = (
            await self.session.execute(sa.select(deal_snapshots.c.document).where(key))
        ).scalar()
        return document

    @override
    async def revisions(self, source: str, external_id: str) -> list[Revision]:
        t = deal_revisions
        rows = (
            await self.session.execute(
                sa.select(t.c.revision, t.c.changed_at, t.c.recorded_at, t.c.document)
                .where(t.c.source == source, t.c.external_id == external_id)
                .order_by(t.c.revision)
            )
        ).all()
        return [Revision(r.revision, r.changed_at, r.recorded_at, r.document) for r in rows]

    @override
    async def find(
        self,
        *,
        status: str | None,
        owner: str | None,
        changed_since: datetime | None,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[CurrentDeal]:
        t = deal_snapshots
        query = sa.select(t.c.source, t.c.external_id, t.c.document).order_by(t.c.source, t.c.external_id)
        if status:
            query = query.where(t.c.status == status)
        if owner:
            query = query.where(t.c.owner == owner)
        if changed_since:
            query = query.where(t.c.changed_at >= changed_since)
        if after:
            source, external_id = after
            query = query.where(
                sa.tuple_(t.c.source, t.c.external_id)
                > sa.tuple_(sa.literal(source), sa.literal(external_id))
            )
        rows = (await self.session.execute(query.limit(limit))).all()
        return [CurrentDeal(r.source, r.external_id, r.document) for r in rows]

    @override
    async def stored_between(self, source: str, since: datetime, until: datetime) -> list[CurrentDeal]:
        t = deal_snapshots
        rows = (
            await self.session.execute(
                sa.select(t.c.source, t.c.external_id, t.c.document)
                .where(t.c.source == source, t.c.updated_at >= since, t.c.updated_at < until)
                .order_by(t.c.source, t.c.external_id)
                .with_for_update()
            )
        ).all()
        return [CurrentDeal(r.source, r.external_id, r.document) for r in rows]

    @override
    async def published_revisions(
        self, after: tuple[str, str] | None, limit: int
    ) -> list[tuple[str, str, list[int]]]:
        t = deal_revisions
        revisions = sa.func.array_agg(aggregate_order_by(t.c.revision, t.c.revision))
        query = (
            sa.select(t.c.source, t.c.external_id, revisions.label("revisions"))
            .where(t.c.published)
            .group_by(t.c.source, t.c.external_id)
            .order_by(t.c.source, t.c.external_id)
        )
        if after:
            query = query.where(
                sa.tuple_(t.c.source, t.c.external_id) > sa.tuple_(sa.literal(after[0]), sa.literal(after[1]))
            )
        rows = (await self.session.execute(query.limit(limit))).all()
        return [(r.source, r.external_id, list(r.revisions)) for r in rows]


class SqlActivities(Activities):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def add(self, activity: ActivityRecord, delivery: int) -> bool:
        inserted = (
            await self.session.execute(
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
        return inserted is not None

    @override
    async def get(self, source: str, external_id: str) -> ActivityRecord | None:
        key = (activities.c.source == source) & (activities.c.external_id == external_id)
        document = (await self.session.execute(sa.select(activities.c.document).where(key))).scalar()
        return None if document is None else ActivityRecord.model_validate(document)


class SqlCrmEvents(CrmEvents):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def claim(self, source: str, event_key: str, delivery: int) -> bool:
        row = (
            await self.session.execute(
                insert(crm_events)
                .values(source=source, event_key=event_key, delivery=delivery, outcome="received")
                .on_conflict_do_nothing()
                .returning(crm_events.c.event_key)
            )
        ).first()
        return row is not None

    @override
    async def set_outcome(self, source: str, event_key: str, outcome: str) -> None:
        await self.session.execute(
            crm_events.update()
            .where(crm_events.c.source == source, crm_events.c.event_key == event_key)
            .values(outcome=outcome)
        )

    @override
    async def outcome(self, source: str, event_key: str) -> str | None:
        key = (crm_events.c.source == source) & (crm_events.c.event_key == event_key)
        outcome: str | None = (
            await self.session.execute(sa.select(crm_events.c.outcome).where(key))
        ).scalar()
        return outcome


class SqlCrmDealStates(CrmDealStates):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def lock(self, source: str, external_id: str) -> DealState | None:
        await _lock_deal(self.session, f"{source}:{external_id}")
        where = (crm_deal_state.c.source == source) & (crm_deal_state.c.external_id == external_id)
        row = (
            await self.session.execute(sa.select(crm_deal_state.c.state).where(where).with_for_update())
        ).first()
        return None if row is None else dict(row.state)

    @override
    async def save(self, source: str, external_id: str, state: DealState) -> None:
        await self.session.execute(
            insert(crm_deal_state)
            .values(source=source, external_id=external_id, state=state)
            .on_conflict_do_update(
                index_elements=[crm_deal_state.c.source, crm_deal_state.c.external_id],
                set_={"state": state, "updated_at": sa.func.now()},
            )
        )


def sql_repositories(session: AsyncSession) -> IngestRepositories:
    """deal-ingest's repositories on one session (one unit of work)."""
    return IngestRepositories(
        deliveries=SqlDeliveries(session),
        deals=SqlDeals(session),
        activities=SqlActivities(session),
        crm_events=SqlCrmEvents(session),
        crm_deal_states=SqlCrmDealStates(session),
    )
