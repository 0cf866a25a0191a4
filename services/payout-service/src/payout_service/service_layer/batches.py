"""Batches: built from a closed pay period by one admin, approved by another (publishing
`payout.batch_approved`), cancelled while payroll has not pulled them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from payout_service.adapters import metrics
from payout_service.domain.batches import (
    BATCH_STATUSES,
    SENT,
    Batch,
    BatchLine,
    approve,
    cancel,
    carried,
    payee_lines,
    total,
)
from payout_service.domain.errors import Conflict, Unprocessable
from payout_service.domain.periods import check_pay_period, last_day
from payout_service.domain.plans import PlanVersionDoc
from payout_service.domain.statements import LedgerEntry
from payout_service.service_layer import PayoutUoW, now, rules
from payout_service.service_layer.statements import calendar
from provisio_common.auth import Principal
from provisio_common.events import PayoutBatchApproved, PayoutLine
from provisio_common.ids import new_id
from provisio_common.money import plain_decimal
from provisio_common.problems import Problem


@dataclass(frozen=True)
class BatchWithLines:
    """A batch and every line it holds (sent to payroll or held back as exceptions)."""

    batch: Batch
    lines: list[BatchLine]


def payout_line(line: BatchLine) -> PayoutLine:
    """A line as `payouts.v1` carries it."""
    return PayoutLine(
        line_id=line.id,
        payee=line.payee,
        payroll_id=line.payroll_id,
        pay_period=line.pay_period,
        earning_code=line.earning_code,
        amount=line.amount,
        currency=line.currency,
        cash=line.cash,
        entry_ids=list(line.entry_ids),
        adjustment_ids=list(line.adjustment_ids),
        carried_from=line.carried_from,
    )


def audit_view(found: BatchWithLines) -> dict[str, Any]:
    """The batch as the audit log keeps it."""
    batch = found.batch
    return {
        "status": batch.status,
        "pay_period": batch.pay_period,
        "currency": batch.currency,
        "pay_date": batch.pay_date.isoformat(),
        "total": plain_decimal(total(found.lines)),
        "lines": len([line for line in found.lines if line.status in SENT]),
        "exceptions": len([line for line in found.lines if line.status == "exception"]),
    }


class _Kinds:
    """An entry's component kind, read from the plan version that posted it (else the
    latest; `commission` when the plan is unknown)."""

    def __init__(self, uow: PayoutUoW, latest: dict[str, PlanVersionDoc]) -> None:
        self.uow = uow
        self.latest = latest
        self.cache: dict[tuple[str, int], dict[str, str]] = {}

    async def load(self, entries: list[LedgerEntry]) -> None:
        for entry in entries:
            key = (entry.plan, entry.plan_version)
            if key not in self.cache:
                doc = await self.uow.repos.plans.get(*key) or self.latest.get(entry.plan)
                self.cache[key] = doc.kinds() if doc is not None else {}

    def __call__(self, entry: LedgerEntry) -> str:
        return self.cache[(entry.plan, entry.plan_version)].get(entry.component, "commission")


async def _currency(uow: PayoutUoW, pay_period: str, currency: str | None) -> str:
    rows = await uow.repos.pay_periods.frozen_in(pay_period)
    due = {r.currency for r in rows if r.payable > 0 or r.non_cash > 0}
    if not due:
        due = {line.currency for line in await uow.repos.batches.carryable()}
    if currency is not None:
        return currency
    if len(due) > 1:
        raise Unprocessable("currency", f"{pay_period} pays in {', '.join(sorted(due))}; name one")
    if not due:
        raise Conflict(f"nothing to pay in {pay_period}")
    return due.pop()


async def build_batch(
    uow: PayoutUoW, principal: Principal, pay_period: str, currency: str | None, pay_date: date | None
) -> BatchWithLines:
    """A draft batch of a closed pay period in one currency: a line per (payee, earning
    code) of each frozen statement, and every rejected or held-back line not yet carried.
    A payee without a payroll id has their lines held back (`exception`), not dropped."""
    with rules():
        check_pay_period(pay_period)
    async with uow:
        repos = uow.repos
        await repos.batches.lock("build")
        with rules():
            if not (await calendar(uow)).is_closed(pay_period):
                raise Conflict(f"pay period {pay_period} is open; close it before building its batch")
            currency = await _currency(uow, pay_period, currency)
            existing = await repos.batches.for_pay_period(pay_period, currency)
            if existing is not None:
                raise Conflict(
                    f"batch {existing.id} ({existing.status}) already pays {pay_period} in {currency}"
                )
        batch = Batch(
            id=new_id(),
            pay_period=pay_period,
            currency=currency,
            pay_date=pay_date or last_day(pay_period),
            status="draft",
            built_by=principal.sub,
            built_at=now(),
        )
        payroll = {p.id: p.payroll_id for p in await repos.payees.all()}
        kind = _Kinds(uow, await repos.plans.latest())
        lines: list[BatchLine] = []

        def line_id() -> str:
            return f"{batch.id}-{len(lines) + 1}"

        for row in await repos.pay_periods.frozen_in(pay_period):
            if row.currency != currency:
                continue
            entries = [
                e
                for e in await repos.ledger.by_payee_and_pay_period(row.payee, pay_period)
                if e.currency == currency
            ]
            await kind.load(entries)
            adjustments = [
                a
                for a in await repos.adjustments.find(payee=row.payee, status="approved")
                if a.paid_in == pay_period and a.currency == currency
            ]
            payroll_id = payroll.get(row.payee)
            for code, amount, cash, entry_ids, adjustment_ids in payee_lines(row, entries, adjustments, kind):
                lines.append(
                    BatchLine(
                        id=line_id(),
                        batch_id=batch.id,
                        payee=row.payee,
                        payroll_id=payroll_id,
                        pay_period=pay_period,
                        currency=currency,
                        earning_code=code,
                        amount=amount,
                        cash=cash,
                        status="pending" if payroll_id else "exception",
                        entry_ids=entry_ids,
                        adjustment_ids=adjustment_ids,
                    )
                )
        for old in await repos.batches.carryable(currency):
            lines.append(carried(old, batch.id, line_id(), payroll.get(old.payee)))
        if not lines:
            raise Problem(409, f"nothing to pay in {pay_period} ({currency})")
        with rules():
            await repos.batches.add(batch, lines)
        found = BatchWithLines(batch, lines)
        await uow.audit(principal, "batch.build", f"batch:{batch.id}", None, audit_view(found))
        await uow.commit()
        await metrics.show_batches(repos.batches)
    return found


async def _get(uow: PayoutUoW, batch_id: str) -> BatchWithLines:
    batch = await uow.repos.batches.get(batch_id)
    if batch is None:
        raise Problem(404, f"no batch {batch_id!r}")
    return BatchWithLines(batch, (await uow.repos.batches.lines([batch_id]))[batch_id])


async def approve_batch(uow: PayoutUoW, principal: Principal, batch_id: str) -> BatchWithLines:
    """Approve a draft (an admin other than its builder) and publish `payout.batch_approved`."""
    async with uow:
        repos = uow.repos
        await repos.batches.lock("approvals")  # approval positions follow commit order
        found = await _get(uow, batch_id)
        with rules():
            approve(found.batch, principal.sub, now(), 0)
        approved = approve(found.batch, principal.sub, now(), await repos.batches.next_approval_seq())
        await repos.batches.save(approved)
        sent = [line for line in found.lines if line.status in SENT]
        assert approved.approved_by is not None and approved.approved_at is not None
        await uow.publish(
            PayoutBatchApproved(
                batch_id=approved.id,
                pay_period=approved.pay_period,
                currency=approved.currency,
                pay_date=approved.pay_date,
                total=total(sent),
                built_by=approved.built_by,
                approved_by=approved.approved_by,
                approved_at=approved.approved_at,
                lines=[payout_line(line) for line in sent],
            )
        )
        after = BatchWithLines(approved, found.lines)
        await uow.audit(principal, "batch.approve", f"batch:{batch_id}", audit_view(found), audit_view(after))
        await uow.commit()
        metrics.count_approved(approved.currency, total(sent))
        await metrics.show_batches(repos.batches)
    return after


async def cancel_batch(uow: PayoutUoW, principal: Principal, batch_id: str) -> BatchWithLines:
    """Cancel a draft or an approved batch payroll has not pulled: its lines are cancelled
    and their entries (and carried lines) are free for the next batch."""
    async with uow:
        repos = uow.repos
        await repos.batches.lock(f"batch:{batch_id}")
        found = await _get(uow, batch_id)
        with rules():
            cancelled = cancel(found.batch, principal.sub, now())
        lines = [replace(line, status="cancelled") for line in found.lines]
        await repos.batches.save(cancelled)
        await repos.batches.save_lines(lines)
        after = BatchWithLines(cancelled, lines)
        await uow.audit(principal, "batch.cancel", f"batch:{batch_id}", audit_view(found), audit_view(after))
        await uow.commit()
        await metrics.show_batches(repos.batches)
    return after


async def get_batch(uow: PayoutUoW, batch_id: str) -> BatchWithLines:
    """One batch with its lines (read only)."""
    async with uow:
        return await _get(uow, batch_id)


async def list_batches(uow: PayoutUoW, status: str | None) -> list[BatchWithLines]:
    """Batches (in a status), newest built first, with their lines."""
    if status is not None and status not in BATCH_STATUSES:
        with rules():
            raise Unprocessable("status", f"must be one of {', '.join(BATCH_STATUSES)}")
    async with uow:
        found = await uow.repos.batches.find(status)
        lines = await uow.repos.batches.lines([b.id for b in found])
    return [BatchWithLines(b, lines[b.id]) for b in found]
