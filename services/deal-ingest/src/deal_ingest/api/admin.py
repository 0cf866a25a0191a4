"""Repair and inspection: the raw delivery log, and replaying snapshots through the outbox."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from deal_ingest.adapters.tables import audit, deliveries
from deal_ingest.service_layer import replay_snapshots
from provisio_common.audit import record_audit
from provisio_common.deps import Admin, Ops, Session

router = APIRouter(tags=["admin"])

SOURCES = ("generic", "hubspot", "pipedrive", "salesforce")


@router.get("/deliveries")
async def list_deliveries(
    session: Session,
    principal: Ops,
    source: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[
        int | None, Query(description="cursor: the `id` of the last row of the previous page")
    ] = None,
) -> dict[str, Any]:
    """The raw log, newest first: every accepted delivery verbatim with its outcome (admin, ops)."""
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
    rows = (await session.execute(query.limit(limit + 1))).all()
    page = rows[:limit]
    return {
        "deliveries": [_delivery(r) for r in page],
        "next": page[-1].id if len(rows) > limit else None,
    }


def _delivery(row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "source": row.source,
        "delivery_id": row.delivery_id,
        "received_at": row.received_at.isoformat(),
        "headers": row.headers,
        "outcome": row.outcome,
        "detail": row.detail,
    }
    try:
        out["body"] = bytes(row.body).decode("utf-8")
    except UnicodeDecodeError:
        out["body_base64"] = base64.b64encode(bytes(row.body)).decode()
    return out


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(description="generic, hubspot, pipedrive or salesforce (or a generic sub-source)")
    since: datetime = Field(description="snapshots stored at or after this moment")
    until: datetime = Field(description="... and before this one")

    @model_validator(mode="after")
    def _ordered(self) -> ReplayRequest:
        if self.until <= self.since:
            raise ValueError("until must be after since")
        return self


@router.post("/admin/replay")
async def replay(request: ReplayRequest, session: Session, principal: Admin) -> dict[str, Any]:
    """Re-publish, through the outbox, the current snapshot of every deal of one source
    whose snapshot was stored in [since, until): heals a broker that lost data. Consumers
    drop a revision they already hold, so a replay never changes a number twice.
    """
    keys = await replay_snapshots(session, request.source, request.since, request.until)
    await record_audit(
        session,
        audit,
        principal,
        "replay",
        f"deals:{request.source}",
        None,
        {"since": request.since.isoformat(), "until": request.until.isoformat(), "deals": len(keys)},
    )
    return {"republished": len(keys), "deals": keys}
