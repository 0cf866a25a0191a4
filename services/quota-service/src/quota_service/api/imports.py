"""Bulk import: `POST /import/payees`, `/import/quotas`, `/import/targets` (CSV, `?dry_run=`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from pydantic import BaseModel

from provisio_common.auth import Principal
from provisio_common.deps import UoW
from provisio_common.problems import Problem, invalid, problem_responses
from quota_service.api.deps import Admin
from quota_service.service_layer import imports
from quota_service.service_layer.changes import QuotaUoW
from quota_service.service_layer.imports import ImportReport

router = APIRouter(tags=["import"])

CSV_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}}
MAX_CSV_BYTES = 4 * 1024 * 1024


class RowErrorView(BaseModel):
    """One problem: the file's line (1 = the header), the column, what is wrong."""

    row: int
    field: str
    message: str


class ImportReportView(BaseModel):
    """What an import did (or, with `dry_run`, would do): rows read, created, updated,
    unchanged; or, dry, every problem with its row (`valid` false)."""

    kind: str
    dry_run: bool
    valid: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    errors: list[RowErrorView]


Importer = Callable[[QuotaUoW, Principal, str, bool], Awaitable[ImportReport]]


async def _run(
    importer: Importer, request: Request, uow: QuotaUoW, principal: Principal, dry_run: bool
) -> ImportReportView:
    raw = await request.body()
    if len(raw) > MAX_CSV_BYTES:
        raise Problem(413, f"imports are limited to {MAX_CSV_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid([{"field": "body", "message": "not UTF-8 text"}]) from exc
    report = await importer(uow, principal, text, dry_run)
    return ImportReportView(
        kind=report.kind,
        dry_run=report.dry_run,
        valid=not report.errors,
        rows=report.rows,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        errors=[RowErrorView(row=e.row, field=e.field, message=e.message) for e in report.errors],
    )


RESPONSES = problem_responses(401, 403, 409, 413, 422)


@router.post("/import/payees", openapi_extra=CSV_BODY, response_model=ImportReportView, responses=RESPONSES)
async def import_payees(
    request: Request, uow: UoW, principal: Admin, dry_run: bool = False
) -> ImportReportView:
    """PAYEES.csv (`id,name,manager,roles,team,territories`; `roles` and `territories`
    split on `|`; only `id` is required). A row creates the payee or replaces the fields
    it has a column for; other fields (`crm_ids`, `assignments`, ...) keep what is stored.
    `?dry_run=true` checks every row and answers every problem with its row; a real run
    with any problem is refused whole (422, each error `row N: column`); otherwise all
    rows are written in one transaction, each change published on `payees.v1` and audited.

    Roles: admin.
    """
    return await _run(imports.import_payees, request, uow, principal, dry_run)


@router.post("/import/quotas", openapi_extra=CSV_BODY, response_model=ImportReportView, responses=RESPONSES)
async def import_quotas(
    request: Request, uow: UoW, principal: Admin, dry_run: bool = False
) -> ImportReportView:
    """QUOTAS.csv (`payee,period,amount`): as `/import/payees`; each change published on
    `quotas.v1` and audited.

    Roles: admin.
    """
    return await _run(imports.import_quotas, request, uow, principal, dry_run)


@router.post("/import/targets", openapi_extra=CSV_BODY, response_model=ImportReportView, responses=RESPONSES)
async def import_targets(
    request: Request, uow: UoW, principal: Admin, dry_run: bool = False
) -> ImportReportView:
    """TARGETS.csv (`subject,kpi,period,value`; subject `payee:<id>` or `team:<id>`): as
    `/import/payees`; each change audited (targets are not published).

    Roles: admin.
    """
    return await _run(imports.import_targets, request, uow, principal, dry_run)
