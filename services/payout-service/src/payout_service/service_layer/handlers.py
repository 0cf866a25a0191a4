"""Event handlers: replicate the ledger (`ledger.v1`), the payees (`payees.v1`) and every
plan version (`plans.v1`).

They run inside the consumer's unit of work (which records the event in the inbox and
commits); they never commit.
"""

from __future__ import annotations

from dataclasses import replace

from payout_service.domain.payees import Assignment, Payee
from payout_service.domain.periods import Calendar
from payout_service.domain.plans import PlanVersionDoc
from payout_service.domain.statements import LedgerEntry
from payout_service.service_layer import PayoutUoW
from provisio_common.events import LedgerEntryRecord, PayeeRecord, PlanVersion


def ledger_entry(record: LedgerEntryRecord) -> LedgerEntry:
    """The replica entry of a `ledger.v1` record (its cause event stays in calc-engine)."""
    return LedgerEntry(
        entry_id=record.entry_id,
        payee=record.payee,
        plan=record.plan,
        plan_version=record.plan_version,
        component=record.component,
        period=record.period,
        entry_date=record.entry_date,
        pay_period=record.pay_period,
        amount=record.amount,
        currency=record.currency,
        rounding=record.rounding,
        cash=record.cash,
        deal=record.deal,
        explanation=record.explanation,
        posted_at=record.posted_at,
    )


async def on_ledger_entry(uow: PayoutUoW, record: LedgerEntryRecord) -> None:
    """Store the entry, in its pay period or, if that one is closed, as a late entry in the
    first open one. The entry id is the ledger's own key: a re-published entry (a new
    envelope, so the inbox does not catch it) is stored once."""
    repos = uow.repos
    await repos.pay_periods.lock(exclusive=False)  # a close waits for this entry, or it for the close
    calendar = Calendar.of(await repos.pay_periods.closed())
    entry = ledger_entry(record)
    landing = calendar.landing(entry.pay_period)
    await repos.ledger.add(replace(entry, landed_in=landing if landing != entry.pay_period else None))


def payee(record: PayeeRecord) -> Payee:
    """The replica payee of a `payees.v1` record."""
    return Payee(
        id=record.id,
        name=record.name,
        manager=record.manager,
        payroll_id=record.payroll_id,
        assignments=tuple(Assignment(a.plan, a.valid_from, a.valid_to) for a in record.assignments),
    )


async def on_payee(uow: PayoutUoW, record: PayeeRecord) -> None:
    """Insert or replace the payee (the last record wins)."""
    await uow.repos.payees.upsert(payee(record))


async def on_plan_version(uow: PayoutUoW, record: PlanVersion) -> None:
    """Keep every version of every plan (a re-published version is stored once)."""
    await uow.repos.plans.add(
        PlanVersionDoc(record.plan_id, record.version, record.document, record.created_at)
    )
