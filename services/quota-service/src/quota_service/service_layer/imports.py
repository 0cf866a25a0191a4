"""Bulk import of payees, quotas and targets from CSV in the `provisio calc` formats.

Every row is checked first and every problem reported with its row. A dry run stops
there and says what a real run would do; a real run with any problem is refused whole
(422) and writes nothing; otherwise every row is written in ONE transaction, each change
published (payees.v1, quotas.v1), the unchanged rows left alone, and the import audited
once: one row whose `before` and `after` map each changed record's entity (as its PUT
names it, `payee:ann`) to its value.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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
from quota_service.service_layer.changes import QuotaUoW, upsert_publish


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


@dataclass
class ImportTrail:
    """The one audit row of an import: each changed record's entity, before and after."""

    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)

    async def write(
        self,
        uow: QuotaUoW,
        entity: str,
        before: Any,
        after: Any,
        upsert: Callable[[], Awaitable[Any]],
        shown: Callable[[Any], Any] = lambda value: value,
    ) -> None:
        """Store and publish one row's change (nothing when unchanged) and note it as
        `shown` (amounts as their decimal text)."""
        if await upsert_publish(uow, before=before, after=after, upsert=upsert):
            if before is not None:
                self.before[entity] = shown(before)
            self.after[entity] = shown(after)

    async def commit(self, uow: QuotaUoW, principal: Principal, action: str, kind: str) -> None:
        """Audit the import (when it changed anything) and commit it."""
        if self.after:
            await uow.audit(principal, action, f"import:{kind}", self.before, self.after)
        await uow.commit()


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
        trail = ImportTrail()
        for _, payee_id, payee in parsed:
            record = PayeeRecord(id=payee_id, **payee.model_dump())
            document = record.to_data()
            before = existing.get(payee_id)
            report.count(before, document)
            if dry_run:
                continue
            upsert = _payee_upsert(uow, record, document)
            await trail.write(uow, f"payee:{payee_id}", before, document, upsert)
        if not dry_run:
            await trail.commit(uow, principal, "payee.import", "payees")
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
        trail = ImportTrail()
        for _, payee, period, amount in parsed:
            held = await uow.repos.quotas.get(payee, period, for_update=True)
            before = None if held is None else held.amount
            report.count(before, amount)
            if dry_run:
                continue
            quota = Quota(payee, period, amount)
            await trail.write(uow, f"quota:{payee}:{period}", before, amount, _quota_upsert(uow, quota), str)
        if not dry_run:
            await trail.commit(uow, principal, "quota.import", "quotas")
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
        trail = ImportTrail()
        for _, subject, kpi, period, value in parsed:
            held = await uow.repos.targets.get(subject, kpi, period, for_update=True)
            before = None if held is None else held.value
            report.count(before, value)
            if dry_run:
                continue
            target = Target(subject, kpi, period, value)
            entity = f"target:{subject}:{kpi}:{period}"
            await trail.write(uow, entity, before, value, _target_upsert(uow, target), str)
        if not dry_run:
            await trail.commit(uow, principal, "target.import", "targets")
    return report
