"""Batches (admin): `POST /batches`, `GET /batches`, `GET /batches/{id}`,
`POST /batches/{id}/approve`, `POST /batches/{id}/cancel`."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from payout_service.api.deps import Admin, AdminOrOps
from payout_service.domain.batches import BatchLine, total
from payout_service.service_layer import batches
from payout_service.service_layer.batches import BatchWithLines
from provisio_common.deps import UoW
from provisio_common.money import format_minor
from provisio_common.problems import problem_responses

router = APIRouter(tags=["batches"])


class BatchIn(BaseModel):
    """Build a batch of a closed pay period."""

    pay_period: str = Field(min_length=1)
    currency: str | None = Field(default=None, description="needed only when the pay period pays in several")
    pay_date: date | None = Field(default=None, description="default: the last day of the pay period")


class BatchLineView(BaseModel):
    """One line: what one payee is paid under one earning code."""

    id: str
    payee: str
    payroll_id: str | None
    pay_period: str
    earning_code: str
    amount: str
    currency: str
    cash: bool
    status: str = Field(description="pending, paid, rejected, exception (no payroll id) or cancelled")
    entry_ids: list[str] = Field(description="the ledger entries the line pays")
    adjustment_ids: list[str]
    carried_from: str | None = Field(description="the rejected or held-back line this one carries")
    payroll_ref: str | None
    reason: str | None
    settled_at: datetime | None


class BatchView(BaseModel):
    """A batch: `lines` go to payroll; `exceptions` are held back (payee without a payroll id)."""

    id: str
    pay_period: str
    currency: str
    pay_date: date
    status: str = Field(description="draft, approved, settled or cancelled")
    total: str = Field(description="the sum of the cash lines payroll is asked to pay")
    built_by: str
    built_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    cancelled_by: str | None
    cancelled_at: datetime | None
    pulled_at: datetime | None
    settled_at: datetime | None
    lines: list[BatchLineView]
    exceptions: list[BatchLineView]


def line_view(line: BatchLine) -> BatchLineView:
    return BatchLineView(
        id=line.id,
        payee=line.payee,
        payroll_id=line.payroll_id,
        pay_period=line.pay_period,
        earning_code=line.earning_code,
        amount=format_minor(line.amount, line.currency),
        currency=line.currency,
        cash=line.cash,
        status=line.status,
        entry_ids=list(line.entry_ids),
        adjustment_ids=list(line.adjustment_ids),
        carried_from=line.carried_from,
        payroll_ref=line.payroll_ref,
        reason=line.reason,
        settled_at=line.settled_at,
    )


def view(found: BatchWithLines) -> BatchView:
    b = found.batch
    return BatchView(
        id=b.id,
        pay_period=b.pay_period,
        currency=b.currency,
        pay_date=b.pay_date,
        status=b.status,
        total=format_minor(total(found.lines), b.currency),
        built_by=b.built_by,
        built_at=b.built_at,
        approved_by=b.approved_by,
        approved_at=b.approved_at,
        cancelled_by=b.cancelled_by,
        cancelled_at=b.cancelled_at,
        pulled_at=b.pulled_at,
        settled_at=b.settled_at,
        lines=[line_view(line) for line in found.lines if line.status != "exception"],
        exceptions=[line_view(line) for line in found.lines if line.status == "exception"],
    )


@router.post(
    "/batches", status_code=201, response_model=BatchView, responses=problem_responses(401, 403, 409, 422)
)
async def build_batch(body: BatchIn, uow: UoW, principal: Admin) -> BatchView:
    """Build a draft batch from a closed pay period (open: 409; one batch per pay period and
    currency that is not cancelled: 409): one line per (payee, earning code) summing to the
    payee's payable, plus every line payroll rejected (or held back) earlier, carried.
    Audited.

    Roles: admin.
    """
    currency = body.currency.upper() if body.currency else None
    return view(await batches.build_batch(uow, principal, body.pay_period, currency, body.pay_date))


@router.get("/batches", response_model=list[BatchView], responses=problem_responses(401, 403, 422))
async def list_batches(uow: UoW, principal: AdminOrOps, status: str | None = None) -> list[BatchView]:
    """Batches, newest first, optionally in one status.

    Roles: admin, ops.
    """
    return [view(found) for found in await batches.list_batches(uow, status)]


@router.get("/batches/{batch_id}", response_model=BatchView, responses=problem_responses(401, 403, 404))
async def get_batch(batch_id: str, uow: UoW, principal: AdminOrOps) -> BatchView:
    """One batch with its lines and exceptions.

    Roles: admin, ops.
    """
    return view(await batches.get_batch(uow, batch_id))


@router.post(
    "/batches/{batch_id}/approve", response_model=BatchView, responses=problem_responses(401, 403, 404, 409)
)
async def approve_batch(batch_id: str, uow: UoW, principal: Admin) -> BatchView:
    """Approve a draft: an admin other than its builder (two-person rule; 409 otherwise).
    Publishes `payout.batch_approved` on `payouts.v1`; payroll can pull it. Audited.

    Roles: admin.
    """
    return view(await batches.approve_batch(uow, principal, batch_id))


@router.post(
    "/batches/{batch_id}/cancel", response_model=BatchView, responses=problem_responses(401, 403, 404, 409)
)
async def cancel_batch(batch_id: str, uow: UoW, principal: Admin) -> BatchView:
    """Cancel a draft or an approved batch payroll has not pulled yet (409 otherwise); its
    pay period can be built again. Audited.

    Roles: admin.
    """
    return view(await batches.cancel_batch(uow, principal, batch_id))
