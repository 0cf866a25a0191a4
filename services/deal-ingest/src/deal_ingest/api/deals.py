"""Reading deals: the current snapshot with its revision history, and a filtered list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from deal_ingest.service_layer import deals
from provisio_common.deps import Ops, UoW
from provisio_common.params import IsoDatetime
from provisio_common.problems import problem_responses

router = APIRouter(tags=["deals"])


class RevisionView(BaseModel):
    """One revision: when it changed in the CRM, when deal-ingest recorded it, the snapshot."""

    revision: int
    changed_at: str = Field(description="ISO 8601")
    recorded_at: str = Field(description="ISO 8601")
    snapshot: dict[str, Any] = Field(description="the deals.v1 snapshot of this revision")


class DealView(BaseModel):
    """A deal's current snapshot and every revision, oldest first."""

    deal: str = Field(description="`source:external_id`")
    current: dict[str, Any] = Field(description="the current deals.v1 snapshot")
    revisions: list[RevisionView]


class DealList(BaseModel):
    """Current snapshots; `next` is the cursor of the next page (null on the last)."""

    deals: list[dict[str, Any]] = Field(description="deals.v1 snapshots")
    next: str | None


@router.get(
    "/deals/{source}/{external_id:path}",
    response_model=DealView,
    responses=problem_responses(401, 403, 404),
)
async def get_deal(source: str, external_id: str, uow: UoW, principal: Ops) -> DealView:
    """The current snapshot and every revision, oldest first. An external id may contain
    `/` (`/deals/generic/ACME/2027/001`); a source never does.

    Roles: admin, ops.
    """
    history = await deals.get_deal(uow, source, external_id)
    return DealView(
        deal=history.deal,
        current=history.current,
        revisions=[
            RevisionView(
                revision=r.revision,
                changed_at=r.changed_at.isoformat(),
                recorded_at=r.recorded_at.isoformat(),
                snapshot=r.document,
            )
            for r in history.revisions
        ],
    )


@router.get("/deals", response_model=DealList, responses=problem_responses(401, 403, 422))
async def list_deals(
    uow: UoW,
    principal: Ops,
    status: str | None = None,
    owner: str | None = None,
    changed_since: IsoDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(description="cursor: the last `deal` of the previous page")] = None,
) -> DealList:
    """Current snapshots, filtered, ordered by deal key, paginated by cursor.

    Roles: admin, ops.
    """
    page = await deals.list_deals(
        uow, status=status, owner=owner, changed_since=changed_since, after=after, limit=limit
    )
    return DealList(deals=[d.document for d in page.deals], next=page.next)
