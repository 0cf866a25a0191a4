"""Payroll's pull API: `GET /payroll/batches`, `GET /payroll/batches/{id}`,
`GET /payroll/batches/{id}/lines.csv`, `POST /payroll/batches/{id}/ack`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, Field

from payout_service.api.deps import Layout, Payroll, PayrollReader
from payout_service.domain.batches import SENT, Ack, encode_cursor, total
from payout_service.domain.payroll import lines_csv, reference
from payout_service.service_layer import payroll
from payout_service.service_layer.batches import BatchWithLines
from provisio_common.deps import UoW
from provisio_common.money import format_minor
from provisio_common.problems import problem_responses

router = APIRouter(tags=["payroll"])


class PayrollBatchSummary(BaseModel):
    """An approved batch: its total and how many lines it sends."""

    id: str
    pay_period: str
    pay_date: date
    currency: str
    total: str
    lines: int
    status: str = Field(description="approved, settled or cancelled")
    cursor: str = Field(description="this batch's position: pass it as `after` to continue after it")


class PayrollPage(BaseModel):
    """Batches in approval order; keep `next` and pass it as `after`: batches approved
    later appear after it (`next` is the cursor given when nothing new was found)."""

    batches: list[PayrollBatchSummary]
    next: str | None


class PayrollLineView(BaseModel):
    """One line to pay (the CSV row, with the payee and its settlement)."""

    line_id: str
    employee_id: str | None = Field(description="the payee's payroll id")
    payee: str
    pay_period: str
    earning_code: str
    amount: str
    currency: str
    cash: bool
    reference: str
    status: str = Field(description="pending, paid or rejected")
    payroll_ref: str | None
    reason: str | None
    carried_from: str | None


class PayrollBatchView(BaseModel):
    """An approved batch with its lines."""

    id: str
    pay_period: str
    pay_date: date
    currency: str
    total: str
    status: str
    approved_at: datetime | None
    lines: list[PayrollLineView]


class AckLineIn(BaseModel):
    """Payroll's word on one line."""

    line_id: str = Field(min_length=1)
    status: Literal["paid", "rejected"]
    payroll_ref: str | None = None
    reason: str | None = None


class AckIn(BaseModel):
    """Lines payroll paid or rejected."""

    lines: list[AckLineIn] = Field(min_length=1)


class AckLineView(BaseModel):
    """A line's settlement after the acknowledgement."""

    line_id: str
    status: str
    payroll_ref: str | None
    reason: str | None


class AckView(BaseModel):
    """The batch's status (`settled` once every line is), the lines this request settled,
    and every line's status."""

    batch_id: str
    status: str
    settled: list[str]
    lines: list[AckLineView]


def summary(found: BatchWithLines) -> PayrollBatchSummary:
    b = found.batch
    assert b.approval_seq is not None
    return PayrollBatchSummary(
        id=b.id,
        pay_period=b.pay_period,
        pay_date=b.pay_date,
        currency=b.currency,
        total=format_minor(total(found.lines), b.currency),
        lines=len([line for line in found.lines if line.status in SENT]),
        status=b.status,
        cursor=encode_cursor(b.approval_seq),
    )


def detail(found: BatchWithLines) -> PayrollBatchView:
    b = found.batch
    return PayrollBatchView(
        id=b.id,
        pay_period=b.pay_period,
        pay_date=b.pay_date,
        currency=b.currency,
        total=format_minor(total(found.lines), b.currency),
        status=b.status,
        approved_at=b.approved_at,
        lines=[
            PayrollLineView(
                line_id=line.id,
                employee_id=line.payroll_id,
                payee=line.payee,
                pay_period=line.pay_period,
                earning_code=line.earning_code,
                amount=format_minor(line.amount, line.currency),
                currency=line.currency,
                cash=line.cash,
                reference=reference(line),
                status=line.status,
                payroll_ref=line.payroll_ref,
                reason=line.reason,
                carried_from=line.carried_from,
            )
            for line in found.lines
            if line.status in SENT
        ],
    )


@router.get("/payroll/batches", response_model=PayrollPage, responses=problem_responses(401, 403, 422))
async def list_payroll_batches(
    uow: UoW,
    principal: PayrollReader,
    status: str = "approved",
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PayrollPage:
    """Approved batches to pull, in approval order (status `approved` by default; also
    `settled`, `cancelled`), after the opaque cursor `after`.

    Roles: payroll, admin, ops.
    """
    page, cursor = await payroll.pull_page(uow, status, after, limit)
    return PayrollPage(batches=[summary(found) for found in page], next=cursor)


@router.get(
    "/payroll/batches/{batch_id}", response_model=PayrollBatchView, responses=problem_responses(401, 403, 404)
)
async def get_payroll_batch(batch_id: str, uow: UoW, principal: PayrollReader) -> PayrollBatchView:
    """An approved batch with its lines. Payroll's first pull marks it pulled: it can no
    longer be cancelled.

    Roles: payroll, admin, ops.
    """
    return detail(await payroll.pull_batch(uow, principal, batch_id))


@router.get(
    "/payroll/batches/{batch_id}/lines.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "the lines, one CSV row each"},
        **problem_responses(401, 403, 404),
    },
)
async def get_payroll_csv(batch_id: str, uow: UoW, principal: PayrollReader, layout: Layout) -> Response:
    """The batch's lines as CSV (`text/csv`): header
    `batch_id,line_id,employee_id,earning_code,amount,currency,cash,pay_date,reference`,
    amounts as plain decimals in the currency's minor unit. Column names and earning codes
    follow `PROVISIO_PAYROLL_CSV_COLUMNS` and `PROVISIO_PAYROLL_EARNING_CODES`. Payroll's
    first pull marks the batch pulled.

    Roles: payroll, admin, ops.
    """
    found = await payroll.pull_batch(uow, principal, batch_id)
    return Response(
        lines_csv(found.batch, found.lines, layout),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="batch-{batch_id}.csv"'},
    )


@router.post(
    "/payroll/batches/{batch_id}/ack",
    response_model=AckView,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def acknowledge(
    batch_id: str,
    body: AckIn,
    uow: UoW,
    principal: Payroll,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key")] = "",
) -> AckView:
    """Acknowledge lines as paid or rejected, with an `Idempotency-Key` header: the same key
    and body again answer as the first time and change nothing; the same key with another
    body is a 422; a line already settled with another status is a 409; a line the batch
    does not have is a 422 naming it. A batch whose lines are all settled is `settled`.
    Each settled line is published as `payout.line_settled`. Rejected lines are carried
    into the next batch built. Audited.

    Roles: payroll.
    """
    acks = [Ack(a.line_id, a.status, a.payroll_ref, a.reason) for a in body.lines]
    return AckView.model_validate(
        await payroll.acknowledge_lines(uow, principal, batch_id, idempotency_key, acks)
    )
