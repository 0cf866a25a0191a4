"""The audit trail over HTTP: `GET /audit`, the same in every service (mounted by
`create_app`). Newest first, filtered by entity, actor, action and time, paged with an
opaque cursor: `next` is the `after` of the following page (send the same filters)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from provisio_common.audit import AuditEntry, AuditFilter, decode_cursor, encode_cursor
from provisio_common.deps import Ops, UoW
from provisio_common.params import Instant
from provisio_common.problems import invalid, problem_responses
from provisio_common.uow import UnitOfWork

MAX_LIMIT = 500


class AuditEntryView(BaseModel):
    """One audit row: who did what to which entity, with the state before and after."""

    id: int
    at: datetime
    actor: str = Field(description="the token's `sub`")
    role: str = Field(description="the token's `role`")
    action: str = Field(description="what was done, `<entity kind>.<verb>` (`batch.approve`)")
    entity: str = Field(description="what it was done to, `<kind>:<id>` (`batch:01J...`)")
    before: Any = Field(description="the entity before (null when it was created)")
    after: Any = Field(description="the entity after, or what the operation did")
    request_id: str | None = Field(description="the request's `X-Request-ID`")


class AuditPage(BaseModel):
    """One page of the audit trail, newest first."""

    items: list[AuditEntryView]
    next: str | None = Field(description="`after` for the next page; null on the last page")


def _view(entry: AuditEntry) -> AuditEntryView:
    return AuditEntryView(**vars(entry))


async def read_audit_page(uow: UnitOfWork[Any], where: AuditFilter, limit: int) -> AuditPage:
    """One page of matching rows, newest first, and the cursor of the next (None if none)."""
    async with uow:
        found = await uow.audit_log.find(where, limit + 1)
    page = found[:limit]
    more = len(found) > limit
    return AuditPage(items=[_view(e) for e in page], next=encode_cursor(page[-1].id) if more else None)


def _cursor(after: str | None) -> int | None:
    if not after:
        return None
    try:
        return decode_cursor(after)
    except ValueError as exc:
        raise invalid([{"field": "after", "message": "not a cursor this endpoint gave (`next`)"}]) from exc


router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=AuditPage, responses=problem_responses(401, 403, 422))
async def get_audit(
    uow: UoW,
    principal: Ops,
    entity: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Instant | None = None,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> AuditPage:
    """Every state-changing request this service answered: who (`actor`, `role`), what
    (`action`), to which `entity`, before and after, and the request id; newest first.

    Filters (empty means no filter): `entity` exact, or a prefix ending in `*`
    (`entity=batch:*`); `actor` and `action` exact; `from` (inclusive) and `to`
    (exclusive), ISO 8601 timestamps with a timezone. `limit` rows a page (1-500, 100 by
    default); `next` is the `after` of the following page, asked with the same filters.

    Roles: admin, ops.
    """
    where = AuditFilter(
        entity=entity or None,
        actor=actor or None,
        action=action or None,
        since=from_,
        until=to,
        below=_cursor(after),
    )
    return await read_audit_page(uow, where, limit)
