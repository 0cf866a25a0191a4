"""Repair and inspection: the raw delivery log, and replaying snapshots through the outbox."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from deal_ingest.domain.records import LoggedDelivery
from deal_ingest.service_layer import deliveries as delivery_log
from deal_ingest.service_layer.replay import published_revisions, replay_deals, replay_snapshots
from provisio_common.deps import Admin, Ops, UoW
from provisio_common.inputs import MAX_DEALS_PER_REQUEST, PublishedRevisionsPage
from provisio_common.params import Instant, Name, RowId
from provisio_common.problems import problem_responses

router = APIRouter(tags=["admin"])


class DeliveryView(BaseModel):
    """One accepted delivery verbatim: `body` if it is UTF-8 text, else `body_base64`."""

    id: int
    source: str
    delivery_id: str
    received_at: str = Field(description="ISO 8601")
    headers: dict[str, str] = Field(description="the headers kept (never credentials)")
    outcome: str
    detail: str | None
    body: str | None = None
    body_base64: str | None = None


class DeliveryList(BaseModel):
    """A page of the raw log, newest first; `next` is the `before` cursor of the next page."""

    deliveries: list[DeliveryView]
    next: int | None


@router.get(
    "/deliveries",
    response_model=DeliveryList,
    response_model_exclude_unset=True,
    responses=problem_responses(401, 403, 422),
)
async def list_deliveries(
    uow: UoW,
    principal: Ops,
    source: str | None = None,
    outcome: str | None = None,
    since: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[
        RowId | None, Query(description="cursor: the `id` of the last row of the previous page")
    ] = None,
) -> DeliveryList:
    """The raw log, newest first: every accepted delivery verbatim with its outcome.

    Roles: admin, ops.
    """
    page = await delivery_log.list_deliveries(
        uow, source=source, outcome=outcome, since=since, before=before, limit=limit
    )
    return DeliveryList(deliveries=[_delivery(d) for d in page.deliveries], next=page.next)


def _delivery(delivery: LoggedDelivery) -> DeliveryView:
    view = DeliveryView(
        id=delivery.id,
        source=delivery.source,
        delivery_id=delivery.delivery_id,
        received_at=delivery.received_at.isoformat(),
        headers=delivery.headers,
        outcome=delivery.outcome,
        detail=delivery.detail,
    )
    try:
        view.body = delivery.body.decode("utf-8")
    except UnicodeDecodeError:
        view.body_base64 = base64.b64encode(delivery.body).decode()
    return view


# `source:external_id`, each part within the door's limit of 200 characters.
DealKey = Annotated[str, StringConstraints(min_length=3, max_length=401, pattern=r"^[^:\x00]+:[^\x00]+$")]


class ReplayRequest(BaseModel):
    """Either a window of one source (`source`, `since`, `until`: the current snapshot of
    each deal stored in it) or `deals` (every published revision of each one named)."""

    model_config = ConfigDict(extra="forbid")
    source: Name | None = Field(
        default=None, description="generic, hubspot, pipedrive or salesforce (or a generic sub-source)"
    )
    since: AwareDatetime | None = Field(
        default=None, description="snapshots stored at or after this moment (with an offset)"
    )
    until: AwareDatetime | None = Field(default=None, description="... and before this one")
    deals: list[DealKey] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_DEALS_PER_REQUEST,
        description="deal keys (`source:external_id`): every published revision of each",
    )

    @model_validator(mode="after")
    def _one_form(self) -> ReplayRequest:
        window = (self.source, self.since, self.until)
        if self.deals is not None:
            if any(v is not None for v in window):
                raise ValueError("give either deals or source, since and until")
            return self
        if any(v is None for v in window):
            raise ValueError("give source, since and until (or deals)")
        assert self.since is not None and self.until is not None
        if self.until <= self.since:
            raise ValueError("until must be after since")
        return self


class ReplayAnswer(BaseModel):
    """How many deals were queued again, and their keys."""

    republished: int
    deals: list[str]


@router.post("/admin/replay", response_model=ReplayAnswer, responses=problem_responses(401, 403, 422))
async def replay(request: ReplayRequest, uow: UoW, principal: Admin) -> ReplayAnswer:
    """Re-publish through the outbox either the current snapshot of every deal of one source
    whose snapshot was stored in [since, until) (heals a broker that lost data), or every
    published revision of the `deals` named (heals a consumer that lost one; calc-engine's
    `POST /recompute` asks for it). Consumers drop a revision they already hold, so a replay
    never changes a number twice. Audited.

    Roles: admin.
    """
    if request.deals is not None:
        keys = await replay_deals(uow, principal, request.deals)
    else:
        assert request.source is not None and request.since is not None and request.until is not None
        keys = await replay_snapshots(uow, principal, request.source, request.since, request.until)
    return ReplayAnswer(republished=len(keys), deals=keys)


@router.get(
    "/admin/published-revisions",
    response_model=PublishedRevisionsPage,
    responses=problem_responses(401, 403, 422),
)
async def get_published_revisions(
    uow: UoW,
    principal: Ops,
    after: Annotated[str | None, Query(description="cursor: the last `deal` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_DEALS_PER_REQUEST)] = 1000,
) -> PublishedRevisionsPage:
    """Every deal's published revisions (`source:external_id` -> revision numbers), in key
    order: what every consumer of `deals.v1` must hold. calc-engine's `POST /recompute`
    compares it with its own and asks `POST /admin/replay` for what it lacks.

    Roles: admin, ops.
    """
    return await published_revisions(uow, after, limit)
