"""Parked outbox rows over HTTP, the same in every service (mounted by `create_app`):
`GET /outbox/parked` lists the rows the relay set aside because they can never be
published (too large, unserializable) and the rows of their keys held behind them;
`POST /outbox/parked/{id}/release` hands a parked row (and the rows of its key behind it)
back to the relay, for instance after `PROVISIO_KAFKA_MAX_MESSAGE_BYTES` was raised."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from provisio_common import metrics
from provisio_common.auth import Principal
from provisio_common.deps import Admin, Ops, UoW
from provisio_common.outbox import ParkedRow
from provisio_common.params import RowId
from provisio_common.problems import Problem, problem_responses
from provisio_common.uow import UnitOfWork


class ParkedRowView(BaseModel):
    """One parked outbox row (its payload is not shown; `size` says how large it is)."""

    id: int
    event_id: str
    topic: str
    key: str
    size: int = Field(description="payload bytes")
    created_at: datetime
    parked_at: datetime
    park_error: str = Field(description="why it cannot be published, or which parked row it waits behind")
    publish_count: int


class Released(BaseModel):
    """What a release handed back to the relay."""

    released: list[int] = Field(description="outbox ids, in the order the relay publishes them")


def _view(row: ParkedRow) -> ParkedRowView:
    return ParkedRowView(**vars(row))


async def list_parked(uow: UnitOfWork[Any], *, limit: int) -> list[ParkedRow]:
    """Parked rows, oldest first."""
    async with uow:
        return await uow.parked_outbox.find(limit=limit)


async def release_parked(uow: UnitOfWork[Any], row_id: int, principal: Principal) -> list[int]:
    """Un-park a row and the parked rows of its key after it (audited); 404 if not parked."""
    async with uow:
        released = await uow.parked_outbox.release(row_id)
        if not released:
            raise Problem(404, f"outbox row {row_id} is not parked")
        await uow.audit(
            principal, "outbox.release", f"outbox:{row_id}", {"parked": released}, {"released": released}
        )
        left = await uow.parked_outbox.count()
        await uow.commit()
    metrics.OUTBOX_PARKED.labels(uow.source).set(left)
    return released


router = APIRouter(tags=["outbox"])


@router.get("/outbox/parked", response_model=list[ParkedRowView], responses=problem_responses(401, 403, 422))
async def get_parked(
    uow: UoW, principal: Ops, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[ParkedRowView]:
    """Outbox rows this service could never publish, oldest first, with the error, and the
    later rows of their keys held behind them (per-key order). Counted in
    `provisio_outbox_parked_rows`.

    Roles: admin, ops.
    """
    return [_view(row) for row in await list_parked(uow, limit=limit)]


@router.post(
    "/outbox/parked/{row_id}/release",
    response_model=Released,
    responses=problem_responses(401, 403, 404, 422),
)
async def post_release(row_id: RowId, uow: UoW, principal: Admin) -> Released:
    """Hand a parked row, and the parked rows of its key after it, back to the relay
    (audited); it tries them again in order and parks them again if they still cannot go.

    Roles: admin.
    """
    return Released(released=await release_parked(uow, row_id, principal))
