"""Repair: re-publish current snapshots through the outbox (a broker that lost data)."""

from __future__ import annotations

from datetime import datetime

from deal_ingest.service_layer import IngestUoW
from provisio_common.auth import Principal
from provisio_common.events import DealSnapshot


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
