"""Disputes: `POST /disputes`, `GET /disputes`, `GET /disputes/{id}`,
`POST /disputes/{id}/comments`, `POST /disputes/{id}/resolve`, `POST /disputes/{id}/reopen`.

A rep disputes their own pay; a manager for their subtree; an admin or a manager above the
payee resolves (never the payee); ops reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from payout_service.api.adjustments import AdjustmentView
from payout_service.api.adjustments import view as adjustment_view
from payout_service.api.deps import DisputeCommenter, DisputeParty, DisputeResolver, PayeeReader
from payout_service.domain.disputes import MAX_TEXT
from payout_service.service_layer import disputes
from payout_service.service_layer.disputes import AdjustmentAsk, DisputeDetail
from provisio_common.deps import UoW
from provisio_common.events import Amount
from provisio_common.problems import problem_responses

router = APIRouter(tags=["disputes"])

Text = Annotated[
    str, Field(min_length=1, max_length=MAX_TEXT, description="not blank, at most 4000 characters")
]


class DisputeIn(BaseModel):
    """What is disputed: a pay period of a payee, optionally one ledger entry of theirs in it
    (and/or a component), and why."""

    payee: str = Field(min_length=1)
    pay_period: str = Field(min_length=1, description="as statements name it: 2027-01, 2027-Q1, …")
    entry_id: str | None = Field(default=None, description="an entry of the payee in that pay period")
    component: str | None = None
    message: Text


class MessageIn(BaseModel):
    """A comment, or the reason for reopening."""

    message: Text


class AdjustmentAskIn(BaseModel):
    """The amount an accepted dispute adjusts by: a decimal string, not zero."""

    amount: Amount
    currency: str = Field(min_length=3, max_length=3)


class ResolutionIn(BaseModel):
    """The outcome, why, and (accepted only) the adjustment to make."""

    outcome: Literal["accepted", "rejected"]
    note: Text
    adjustment: AdjustmentAskIn | None = Field(
        default=None, description="accepted only: a pending adjustment another admin approves"
    )


class ThreadMessageView(BaseModel):
    """One entry of the thread: `opened` (the first message), `comment`, `resolved` (the
    resolution note) or `reopened` (the reason)."""

    position: int
    kind: str
    author: str
    role: str
    message: str
    at: datetime


class DisputeView(BaseModel):
    """A dispute: `open` or `resolved` (`outcome` accepted or rejected). `adjustment` is the
    adjustment an accepted dispute created, as it is now (`pending` until another admin
    approves or rejects it)."""

    id: str
    payee: str
    pay_period: str
    entry_id: str | None
    component: str | None
    message: str = Field(description="the opening message")
    status: str
    outcome: str | None
    opened_by: str
    opened_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None
    reopened: bool = Field(description="reopened once already (it cannot be reopened again)")
    reopened_at: datetime | None
    adjustment: AdjustmentView | None


class DisputeDetailView(DisputeView):
    """A dispute with its thread, oldest first."""

    thread: list[ThreadMessageView]


def _fields(found: DisputeDetail) -> dict[str, object]:
    d = found.dispute
    return {
        "id": d.id,
        "payee": d.payee,
        "pay_period": d.pay_period,
        "entry_id": d.entry_id,
        "component": d.component,
        "message": d.message,
        "status": d.status,
        "outcome": d.outcome,
        "opened_by": d.opened_by,
        "opened_at": d.opened_at,
        "resolved_by": d.resolved_by,
        "resolved_at": d.resolved_at,
        "reopened": d.reopens > 0,
        "reopened_at": d.reopened_at,
        "adjustment": None if found.adjustment is None else adjustment_view(found.adjustment),
    }


def view(found: DisputeDetail) -> DisputeView:
    return DisputeView.model_validate(_fields(found))


def detail_view(found: DisputeDetail) -> DisputeDetailView:
    thread = [
        ThreadMessageView(
            position=m.position, kind=m.kind, author=m.author, role=m.role, message=m.body, at=m.at
        )
        for m in found.thread
    ]
    return DisputeDetailView.model_validate({**_fields(found), "thread": thread})


@router.post(
    "/disputes",
    status_code=201,
    response_model=DisputeDetailView,
    responses=problem_responses(401, 403, 422),
)
async def open_dispute(body: DisputeIn, uow: UoW, principal: DisputeParty) -> DisputeDetailView:
    """Open a dispute about a payee's pay period (or one of their entries in it). An unknown
    payee or pay period, or an entry not of that payee in that pay period, is a 422 naming
    the field. Publishes `dispute.opened`. Audited.

    Roles: rep (self), manager (subtree).
    """
    opened = await disputes.open_dispute(
        uow,
        principal,
        payee=body.payee,
        pay_period=body.pay_period,
        entry_id=body.entry_id,
        component=body.component,
        message=body.message,
    )
    return detail_view(opened)


@router.get("/disputes", response_model=list[DisputeView], responses=problem_responses(401, 403, 422))
async def list_disputes(
    uow: UoW, principal: PayeeReader, status: str | None = None, payee: str | None = None
) -> list[DisputeView]:
    """Disputes oldest first, in a status (`open`, `resolved`) and/or of a payee, without
    their threads. A rep sees their own, a manager their subtree's.

    Roles: admin, ops, manager (subtree), rep (self).
    """
    return [view(d) for d in await disputes.list_disputes(uow, principal, payee=payee, status=status)]


@router.get(
    "/disputes/{dispute_id}", response_model=DisputeDetailView, responses=problem_responses(401, 403, 404)
)
async def get_dispute(dispute_id: str, uow: UoW, principal: PayeeReader) -> DisputeDetailView:
    """One dispute with its thread and its adjustment's current state.

    Roles: admin, ops, manager (subtree), rep (self).
    """
    return detail_view(await disputes.get_dispute(uow, principal, dispute_id))


@router.post(
    "/disputes/{dispute_id}/comments",
    status_code=201,
    response_model=DisputeDetailView,
    responses=problem_responses(401, 403, 404, 422),
)
async def comment_dispute(
    dispute_id: str, body: MessageIn, uow: UoW, principal: DisputeCommenter
) -> DisputeDetailView:
    """Add a comment to the thread (open or resolved); answers the dispute with its thread.
    Audited.

    Roles: admin, manager (subtree), rep (self).
    """
    return detail_view(await disputes.comment_dispute(uow, principal, dispute_id, body.message))


@router.post(
    "/disputes/{dispute_id}/resolve",
    response_model=DisputeDetailView,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def resolve_dispute(
    dispute_id: str, body: ResolutionIn, uow: UoW, principal: DisputeResolver
) -> DisputeDetailView:
    """Accept or reject an open dispute (409 when resolved already). Accepted with an
    `adjustment`: a pending adjustment in the dispute's pay period, which another admin
    approves or rejects on `/adjustments/{id}/approve|reject`; an adjustment with
    `rejected` is a 422 naming `adjustment`. Publishes `dispute.resolved`. Audited.

    Roles: admin, manager (above the payee); never the payee.
    """
    ask = (
        None
        if body.adjustment is None
        else AdjustmentAsk(body.adjustment.amount, body.adjustment.currency.upper())
    )
    resolved = await disputes.resolve_dispute(
        uow, principal, dispute_id, outcome=body.outcome, note=body.note, adjustment=ask
    )
    return detail_view(resolved)


@router.post(
    "/disputes/{dispute_id}/reopen",
    response_model=DisputeDetailView,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def reopen_dispute(
    dispute_id: str, body: MessageIn, uow: UoW, principal: DisputeParty
) -> DisputeDetailView:
    """Reopen a rejected dispute, once, with a new message (409 for a second reopen, or for
    an open or accepted dispute). Publishes `dispute.opened` (`reopened: true`). Audited.

    Roles: rep (self), manager (subtree).
    """
    return detail_view(await disputes.reopen_dispute(uow, principal, dispute_id, body.message))
