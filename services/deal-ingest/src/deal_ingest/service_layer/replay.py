"""Repair: re-publish current snapshots through the outbox (a broker that lost data)."""

from __future__ import annotations

from datetime import datetime

from deal_ingest.service_layer import IngestUoW
from provisio_common.auth import Principal
from provisio_common.events import DealSnapshot
from provisio_common.inputs import PublishedRevisions, PublishedRevisionsPage


async def replay_snapshots(
    uow: IngestUoW, principal: Principal, source: str, since: datetime, until: datetime
) -> list[str]:
    """Queue again the current snapshot of every deal of `source` stored in [since, until)
    (new event ids, same revisions), audited; the deal keys, in key order. Consumers drop
    a revision they already hold, so a replay never changes a number twice."""
    async with uow:
        keys = []
        for deal in await uow.repos.deals.stored_between(source, since, until):
            snapshot = DealSnapshot.model_validate(deal.document)
            await uow.publish(snapshot)
            keys.append(snapshot.key)
        await uow.audit(
            principal,
            "replay",
            f"deals:{source}",
            None,
            {"since": since.isoformat(), "until": until.isoformat(), "deals": len(keys)},
        )
        await uow.commit()
    return keys


async def replay_deals(uow: IngestUoW, principal: Principal, deals: list[str]) -> list[str]:
    """Queue again every published revision of each deal named (`source:external_id`; new
    event ids, same revisions, oldest first), audited; the keys of the deals held, in key
    order. Heals a consumer that lost a revision (calc-engine's `POST /recompute` asks for
    it); one that holds a revision drops it."""
    async with uow:
        keys = []
        for key in sorted(set(deals)):
            source, _, external_id = key.partition(":")
            history = await uow.repos.deals.lock_history(source, external_id)
            published = [r for r in sorted(history, key=lambda r: r.revision) if r.published]
            for stored in published:
                await uow.publish(DealSnapshot.model_validate(stored.document))
            if published:
                keys.append(key)
        await uow.audit(principal, "replay", "deals", None, {"deals": keys, "asked": len(set(deals))})
        await uow.commit()
    return keys


async def published_revisions(uow: IngestUoW, after: str | None, limit: int) -> PublishedRevisionsPage:
    """A page of every deal's published revisions, in key order, after the cursor
    `source:external_id` (what calc-engine must hold)."""
    cursor = None
    if after:
        source, _, external_id = after.partition(":")
        cursor = (source, external_id)
    async with uow:
        rows = await uow.repos.deals.published_revisions(cursor, limit + 1)
    page = [PublishedRevisions(deal=f"{s}:{e}", revisions=revisions) for s, e, revisions in rows[:limit]]
    return PublishedRevisionsPage(deals=page, next=page[-1].deal if len(rows) > limit else None)
