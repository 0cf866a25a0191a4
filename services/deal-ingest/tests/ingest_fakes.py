"""In-memory repositories of deal-ingest, for service-layer unit tests on `FakeUnitOfWork`.

They pass the same conformance suite as the SQL repositories
(`tests/integration/test_repository_conformance.py`). JSONB columns are mimicked by a JSON
round trip, so a fake never hands back something Postgres would not.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from typing_extensions import override

from deal_ingest.adapters.repositories import (
    Activities,
    CrmDealStates,
    CrmEvents,
    Deals,
    Deliveries,
    IngestRepositories,
)
from deal_ingest.domain.hubspot_changes import DealState
from deal_ingest.domain.records import CurrentDeal, LoggedDelivery, Revision
from deal_ingest.domain.snapshots import Stored
from provisio_common.events import ActivityRecord, DealSnapshot
from provisio_common.problems import CommitConflict
from provisio_common.testing.fakes import FakeStore, FakeUnitOfWork

T = TypeVar("T")


def _jsonb(value: T) -> T:
    result: T = json.loads(json.dumps(value))
    return result


def _now() -> datetime:
    return datetime.now(UTC)


class MemoryDeliveries(Deliveries):
    def __init__(self) -> None:
        self.rows: dict[int, LoggedDelivery] = {}
        self.claimed = 0  # a sequence: a claimed id is never handed out again

    @override
    async def claim(self, source: str, delivery_id: str) -> int | None:
        if any((d.source, d.delivery_id) == (source, delivery_id) for d in self.rows.values()):
            return None
        self.claimed += 1
        return self.claimed

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
        if any((d.source, d.delivery_id) == (source, delivery_id) for d in self.rows.values()):
            return False
        self.rows[delivery] = LoggedDelivery(
            delivery, source, delivery_id, _now(), _jsonb(headers), bytes(body), outcome, detail
        )
        return True

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
        rows = [
            d
            for d in sorted(self.rows.values(), key=lambda d: -d.id)
            if (not source or d.source == source)
            and (not outcome or d.outcome == outcome)
            and (not since or d.received_at >= since)
            and (not before or d.id < before)
        ]
        return rows[:limit]


class MemoryDeals(Deals):
    def __init__(self) -> None:
        # (source, external_id) -> (current snapshot document, when it was stored)
        self.current_rows: dict[tuple[str, str], tuple[dict[str, Any], datetime]] = {}
        self.revision_rows: dict[tuple[str, str], list[Revision]] = {}
        # (source, external_id, revision) of revisions kept but not published
        self.kept_back: set[tuple[str, str, int]] = set()

    @override
    async def lock_history(self, source: str, external_id: str) -> list[Stored]:
        return [
            Stored(
                r.revision,
                r.changed_at,
                _jsonb(r.document),
                (source, external_id, r.revision) not in self.kept_back,
            )
            for r in sorted(self.revision_rows.get((source, external_id), []), key=lambda r: r.revision)
        ]

    @override
    async def mark_published(self, source: str, external_id: str, revision: int) -> None:
        self.kept_back.discard((source, external_id, revision))

    @override
    async def add_revision(
        self, snapshot: DealSnapshot, delivery: int, *, current: bool, published: bool = True
    ) -> None:
        key = (snapshot.source, snapshot.external_id)
        if not published:
            self.kept_back.add((snapshot.source, snapshot.external_id, snapshot.revision))
        revisions = self.revision_rows.setdefault(key, [])
        if any(r.revision == snapshot.revision for r in revisions):
            raise CommitConflict(f"revision {snapshot.revision} of {snapshot.key} is already kept")
        document = _jsonb(snapshot.to_data())
        if current:
            self.current_rows[key] = (document, _now())
        revisions.append(Revision(snapshot.revision, snapshot.changed_at, _now(), _jsonb(document)))

    @override
    async def current(self, source: str, external_id: str) -> dict[str, Any] | None:
        row = self.current_rows.get((source, external_id))
        return None if row is None else _jsonb(row[0])

    @override
    async def revisions(self, source: str, external_id: str) -> list[Revision]:
        return sorted(self.revision_rows.get((source, external_id), []), key=lambda r: r.revision)

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
        out = []
        for key in sorted(self.current_rows):
            document = self.current_rows[key][0]
            snapshot = DealSnapshot.model_validate(document)
            if (
                (not status or snapshot.status == status)
                and (not owner or snapshot.owner == owner)
                and (not changed_since or snapshot.changed_at >= changed_since)
                and (not after or key > after)
            ):
                out.append(CurrentDeal(key[0], key[1], _jsonb(document)))
        return out[:limit]

    @override
    async def stored_between(self, source: str, since: datetime, until: datetime) -> list[CurrentDeal]:
        return [
            CurrentDeal(key[0], key[1], _jsonb(document))
            for key, (document, stored_at) in sorted(self.current_rows.items())
            if key[0] == source and since <= stored_at < until
        ]

    @override
    async def published_revisions(
        self, after: tuple[str, str] | None, limit: int
    ) -> list[tuple[str, str, list[int]]]:
        out = []
        for key in sorted(self.revision_rows):
            published = sorted(
                r.revision for r in self.revision_rows[key] if (*key, r.revision) not in self.kept_back
            )
            if published and (after is None or key > after):
                out.append((key[0], key[1], published))
        return out[:limit]


class MemoryActivities(Activities):
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[dict[str, Any], int]] = {}

    @override
    async def add(self, activity: ActivityRecord, delivery: int) -> bool:
        key = (activity.source, activity.external_id)
        if key in self.rows:
            return False
        self.rows[key] = (_jsonb(activity.to_data()), delivery)
        return True

    @override
    async def get(self, source: str, external_id: str) -> ActivityRecord | None:
        row = self.rows.get((source, external_id))
        return None if row is None else ActivityRecord.model_validate(row[0])


class MemoryCrmEvents(CrmEvents):
    def __init__(self) -> None:
        # (source, event_key) -> (delivery, outcome)
        self.rows: dict[tuple[str, str], tuple[int, str]] = {}

    @override
    async def claim(self, source: str, event_key: str, delivery: int) -> bool:
        if (source, event_key) in self.rows:
            return False
        self.rows[(source, event_key)] = (delivery, "received")
        return True

    @override
    async def set_outcome(self, source: str, event_key: str, outcome: str) -> None:
        if (source, event_key) in self.rows:
            self.rows[(source, event_key)] = (self.rows[(source, event_key)][0], outcome)

    @override
    async def outcome(self, source: str, event_key: str) -> str | None:
        row = self.rows.get((source, event_key))
        return None if row is None else row[1]


class MemoryCrmDealStates(CrmDealStates):
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], DealState] = {}

    @override
    async def lock(self, source: str, external_id: str) -> DealState | None:
        state = self.rows.get((source, external_id))
        return None if state is None else copy.deepcopy(state)

    @override
    async def save(self, source: str, external_id: str, state: DealState) -> None:
        self.rows[(source, external_id)] = _jsonb(state)


def memory_repositories() -> IngestRepositories:
    """Empty in-memory repositories."""
    return IngestRepositories(
        deliveries=MemoryDeliveries(),
        deals=MemoryDeals(),
        activities=MemoryActivities(),
        crm_events=MemoryCrmEvents(),
        crm_deal_states=MemoryCrmDealStates(),
    )


IngestStore = FakeStore[IngestRepositories]


async def raw_log(store: IngestStore) -> list[LoggedDelivery]:
    """Every committed delivery of the raw log, newest first."""
    return await store.repos.deliveries.find(source=None, outcome=None, since=None, before=None, limit=10**6)


def fake_store() -> IngestStore:
    """An empty fake database of deal-ingest."""
    return FakeStore(memory_repositories())


def fake_uow(store: IngestStore) -> FakeUnitOfWork[IngestRepositories]:
    """A unit of work on `store`, publishing as deal-ingest."""
    return FakeUnitOfWork(store, "deal-ingest")
