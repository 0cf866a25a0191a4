"""Bulk import of payees, quotas and targets from CSV in the `provisio calc` formats.

Every row is checked first and every problem reported with its row. A dry run stops
there and says what a real run would do; a real run with any problem is refused whole
(422) and writes nothing; otherwise every row is written in ONE transaction, each change
published (payees.v1, quotas.v1) and audited like its PUT, and the unchanged rows left
alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from provisio_common.auth import Principal
from provisio_common.events import PayeeRecord, QuotaRecord
from provisio_common.problems import invalid
from quota_service.domain.imports import (
    PAYEE_COLUMNS,
    QUOTA_COLUMNS,
    TARGET_COLUMNS,
    RowError,
    payee_rows,
    quota_rows,
    read_csv,
    target_rows,
)
from quota_service.domain.quotas import Quota
from quota_service.domain.targets import Target
from quota_service.service_layer.changes import QuotaUoW, upsert_publish_audit


@dataclass
class ImportReport:
    """What an import did (or, dry, would do), or why it cannot."""

    kind: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    def count(self, before: Any, after: Any) -> None:
        if before is None:
            self.created += 1
        elif before == after:
            self.unchanged += 1
        else:
            self.updated += 1


def _refuse(report: ImportReport) -> ImportReport:
    """A dry run answers its errors; a real run with errors is refused whole."""
    report.errors.sort(key=lambda e: (e.row, e.field))
    if report.dry_run:
        return report
    raise invalid(
        [{"field": f"row {e.row}: {e.field}", "message": e.message} for e in report.errors],
        detail=f"{len(report.errors)} problem(s) in the {report.kind} file; nothing was imported",
    )


async def import_payees(uow: QuotaUoW, principal: Principal, text: str, dry_run: bool) -> ImportReport:
    """PAYEES.csv: `id,name,manager,roles,team,territories`. A row creates the payee or
    replaces the fields it has a column for (other fields, such as `crm_ids` and
    `assignments`, keep what is stored); managers may be other rows of the file."""
    report = ImportReport("payees", dry_run)
    rows, report.errors = read_csv(text, ("id",), PAYEE_COLUMNS)
    if report.errors:
        return _refuse(report)
    async with uow:
        await uow.repos.payees.lock_hierarchy()
        existing = {d["id"]: d for d in await uow.repos.payees.documents()}
        parsed, report.errors = payee_rows(rows, existing, await uow.repos.payees.managers())
        if report.errors:
            return _refuse(report)
        report.rows = len(parsed)
        for _, payee_id, payee in parsed:
            record = PayeeRecord(id=payee_id, **payee.model_dump())
            document = record.to_data()
            before = existing.get(payee_id)
            report.count(before, document)
            if dry_run:
                continue
            await upsert_publish_audit(
                uow,
                principal,
                before=before,
                after=document,
                upsert=_payee_upsert(uow, record, document),
                action="payee.import",
                entity=f"payee:{payee_id}",
            )
        if not dry_run:
            await uow.commit()
    return report


async def import_quotas(uow: QuotaUoW, principal: Principal, text: str, dry_run: bool) -> ImportReport:
    """QUOTAS.csv: `payee,period,amount`; each payee must exist."""
    report = ImportReport("quotas", dry_run)
    rows, report.errors = read_csv(text, QUOTA_COLUMNS, QUOTA_COLUMNS)
    if report.errors:
        return _refuse(report)
    async with uow:
        parsed, report.errors = quota_rows(rows, set(await uow.repos.payees.managers()))
        if report.errors:
            return _refuse(report)
        report.rows = len(parsed)
        for _, payee, period, amount in parsed:
            held = await uow.repos.quotas.get(payee, period, for_update=True)
            before = None if held is None else held.amount
            report.count(before, amount)
            if dry_run:
                continue
            quota = Quota(payee, period, amount)
            await _write(
                uow,
                principal,
                before,
                amount,
                _quota_upsert(uow, quota),
                "quota.import",
                f"quota:{payee}:{period}",
            )
        if not dry_run:
            await uow.commit()
    return report


def _payee_upsert(
    uow: QuotaUoW, record: PayeeRecord, document: dict[str, Any]
) -> Callable[[], Awaitable[PayeeRecord]]:
    async def upsert() -> PayeeRecord:
        await uow.repos.payees.put(record.id, document, record.manager, record.crm_ids)
        return record

    return upsert


def _quota_upsert(uow: QuotaUoW, quota: Quota) -> Callable[[], Awaitable[QuotaRecord]]:
    async def upsert() -> QuotaRecord:
        await uow.repos.quotas.put(quota)
        return QuotaRecord(payee=quota.payee, period=quota.period, amount=quota.amount)

    return upsert


def _target_upsert(uow: QuotaUoW, target: Target) -> Callable[[], Awaitable[None]]:
    async def upsert() -> None:
        await uow.repos.targets.put(target)

    return upsert


async def _write(
    uow: QuotaUoW,
    principal: Principal,
    before: Decimal | None,
    after: Decimal,
    upsert: Callable[[], Awaitable[Any]],
    action: str,
    entity: str,
) -> None:
    await upsert_publish_audit(
        uow, principal, before=before, after=after, upsert=upsert, action=action, entity=entity, audited=str
    )


async def import_targets(uow: QuotaUoW, principal: Principal, text: str, dry_run: bool) -> ImportReport:
    """TARGETS.csv: `subject,kpi,period,value`; each subject (`payee:<id>`, `team:<id>`) must exist."""
    report = ImportReport("targets", dry_run)
    rows, report.errors = read_csv(text, TARGET_COLUMNS, TARGET_COLUMNS)
    if report.errors:
        return _refuse(report)
    async with uow:
        payees = set(await uow.repos.payees.managers())
        teams = {t.id for t in await uow.repos.teams.all()}
        parsed, report.errors = target_rows(rows, payees, teams)
        if report.errors:
            return _refuse(report)
        report.rows = len(parsed)
        for _, subject, kpi, period, value in parsed:
            held = await uow.repos.targets.get(subject, kpi, period, for_update=True)
            before = None if held is None else held.value
            report.count(before, value)
            if dry_run:
                continue
            target = Target(subject, kpi, period, value)
            await _write(
                uow,
                principal,
                before,
                value,
                _target_upsert(uow, target),
                "target.import",
                f"target:{subject}:{kpi}:{period}",
            )
        if not dry_run:
            await uow.commit()
    return report
