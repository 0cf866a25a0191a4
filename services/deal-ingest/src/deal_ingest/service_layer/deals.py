"""Deals and activities: store a whole snapshot as a new revision (or not), keep an
activity once, and read deals back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deal_ingest.domain.outcomes import StoreResult
from deal_ingest.domain.records import CurrentDeal, Revision
from deal_ingest.domain.snapshots import decide
from deal_ingest.service_layer import IngestUoW
from deal_ingest.service_layer.deliveries import Apply
from provisio_common.events import ActivityRecord, DealSnapshot
from provisio_common.problems import Problem


async def store_deal(uow: IngestUoW, delivery: int, incoming: DealSnapshot) -> StoreResult:
    """Apply one incoming snapshot (revision not yet assigned): a snapshot not kept yet is
    kept as the next revision (a late one too) and published on deals.v1 when it says
    something the snapshot before it in history does not; kept-back revisions it makes
    meaningful are published with it (`domain.snapshots.decide`)."""
    deals = uow.repos.deals
    history = await deals.lock_history(incoming.source, incoming.external_id)
    decision = decide(history, incoming)
    if decision.revision not in {r.revision for r in history}:
        snapshot = incoming.model_copy(update={"revision": decision.revision})
        await deals.add_revision(snapshot, delivery, current=decision.current, published=decision.publish)
        if decision.publish:
            await uow.publish(snapshot)
    for kept in (r for r in history if r.revision in decision.now_meaningful):
        await deals.mark_published(incoming.source, incoming.external_id, kept.revision)
        await uow.publish(DealSnapshot.model_validate(kept.document))
    return StoreResult(decision.outcome, incoming.key, decision.revision)


async def store_activity(uow: IngestUoW, delivery: int, activity: ActivityRecord) -> StoreResult:
    """Keep an activity once and publish it on activities.v1; a known one changes nothing."""
    key = f"{activity.source}:{activity.external_id}"
    if not await uow.repos.activities.add(activity, delivery):
        return StoreResult("unchanged", key)
    await uow.publish(activity)
    return StoreResult("new_activity", key)


def applying_deal(snapshot: DealSnapshot) -> Apply[StoreResult]:
    """A delivery whose content is one whole deal snapshot."""

    async def apply(uow: IngestUoW, delivery: int) -> StoreResult:
        return await store_deal(uow, delivery, snapshot)

    return apply


def applying_activity(activity: ActivityRecord) -> Apply[StoreResult]:
    """A delivery whose content is one activity."""

    async def apply(uow: IngestUoW, delivery: int) -> StoreResult:
        return await store_activity(uow, delivery, activity)

    return apply


def ignoring(reason: str | None) -> Apply[StoreResult]:
    """A delivery kept in the raw log with nothing to publish (an entity deal-ingest does not read)."""

    async def apply(uow: IngestUoW, delivery: int) -> StoreResult:
        return StoreResult("ignored", detail=reason)

    return apply


@dataclass(frozen=True)
class DealHistory:
    """A deal's current snapshot and every revision, oldest first."""

    deal: str
    current: dict[str, Any]
    revisions: list[Revision]


async def get_deal(uow: IngestUoW, source: str, external_id: str) -> DealHistory:
    """The current snapshot and every revision; 404 for a deal never stored."""
    async with uow:
        current = await uow.repos.deals.current(source, external_id)
        if current is None:
            raise Problem(404, f"no deal {source}:{external_id}")
        revisions = await uow.repos.deals.revisions(source, external_id)
    return DealHistory(f"{source}:{external_id}", current, revisions)


@dataclass(frozen=True)
class DealPage:
    """One page of current deals ordered by deal key; `next` is the following page's cursor."""

    deals: list[CurrentDeal]
    next: str | None


async def list_deals(
    uow: IngestUoW,
    *,
    status: str | None = None,
    owner: str | None = None,
    changed_since: datetime | None = None,
    after: str | None = None,
    limit: int = 100,
) -> DealPage:
    """Current snapshots, filtered, ordered by deal key, after the cursor `source:external_id`."""
    cursor = None
    if after:
        source, _, external_id = after.partition(":")
        cursor = (source, external_id)
    async with uow:
        rows = await uow.repos.deals.find(
            status=status, owner=owner, changed_since=changed_since, after=cursor, limit=limit + 1
        )
    page = rows[:limit]
    return DealPage(page, page[-1].key if len(rows) > limit else None)
