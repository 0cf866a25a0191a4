"""Reading deals: the current snapshot with its revision history, and a filtered list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query

from deal_ingest.adapters.tables import deal_revisions, deal_snapshots
from provisio_common.auth import Principal, require_roles
from provisio_common.deps import Session
from provisio_common.problems import Problem

router = APIRouter(tags=["deals"])
Reader = Annotated[Principal, Depends(require_roles("admin", "ops"))]


@router.get("/deals/{source}/{external_id}")
async def get_deal(source: str, external_id: str, session: Session, principal: Reader) -> dict[str, Any]:
    """The current snapshot and every revision, oldest first."""
    key = (deal_snapshots.c.source == source) & (deal_snapshots.c.external_id == external_id)
    current = (await session.execute(sa.select(deal_snapshots.c.document).where(key))).scalar()
    if current is None:
        raise Problem(404, f"no deal {source}:{external_id}")
    revisions = (
        await session.execute(
            sa.select(
                deal_revisions.c.revision,
                deal_revisions.c.changed_at,
                deal_revisions.c.recorded_at,
                deal_revisions.c.document,
            )
            .where(deal_revisions.c.source == source, deal_revisions.c.external_id == external_id)
            .order_by(deal_revisions.c.revision)
        )
    ).all()
    return {
        "deal": f"{source}:{external_id}",
        "current": current,
        "revisions": [
            {
                "revision": r.revision,
                "changed_at": r.changed_at.isoformat(),
                "recorded_at": r.recorded_at.isoformat(),
                "snapshot": r.document,
            }
            for r in revisions
        ],
    }


@router.get("/deals")
async def list_deals(
    session: Session,
    principal: Reader,
    status: str | None = None,
    owner: str | None = None,
    changed_since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(description="cursor: the last `deal` of the previous page")] = None,
) -> dict[str, Any]:
    """Current snapshots, filtered, ordered by deal key, paginated by cursor."""
    t = deal_snapshots
    query = sa.select(t.c.source, t.c.external_id, t.c.document).order_by(t.c.source, t.c.external_id)
    if status:
        query = query.where(t.c.status == status)
    if owner:
        query = query.where(t.c.owner == owner)
    if changed_since:
        query = query.where(t.c.changed_at >= changed_since)
    if after:
        source, _, external_id = after.partition(":")
        query = query.where(
            sa.tuple_(t.c.source, t.c.external_id) > sa.tuple_(sa.literal(source), sa.literal(external_id))
        )
    rows = (await session.execute(query.limit(limit + 1))).all()
    page = rows[:limit]
    return {
        "deals": [r.document for r in page],
        "next": f"{page[-1].source}:{page[-1].external_id}" if len(rows) > limit else None,
    }
