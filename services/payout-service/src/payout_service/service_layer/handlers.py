"""Event handlers: replicate the ledger (`ledger.v1`), the payees (`payees.v1`) and every
plan version (`plans.v1`).

They run inside the consumer's unit of work (which records the event in the inbox and
commits); they never commit.
"""

from __future__ import annotations

from dataclasses import replace

from payout_service.adapters import metrics
from payout_service.domain.payees import Assignment, Payee
from payout_service.domain.periods import Calendar
from payout_service.domain.plans import PlanVersionDoc
from payout_service.domain.statements import LedgerEntry
from payout_service.service_layer import PayoutUoW
from payout_service.service_layer.pay_periods import refresh_pay_period_gauge
from provisio_common.events import LedgerEntryRecord, PayeeRecord, PlanVersion
from provisio_common.inbox import applying


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
    envelope, so the inbox does not catch it) is stored once.

    An entry stored for the first time whose envelope carries `accepted_at` (the webhook it
    descends from) is observed in `provisio_webhook_to_statement_seconds` once committed; a
    pay period the pay-period gauge does not count yet refreshes it."""
    repos = uow.repos
    await repos.pay_periods.lock(exclusive=False)  # a close waits for this entry, or it for the close
    calendar = Calendar.of(await repos.pay_periods.closed())
    entry = ledger_entry(record)
    landing = calendar.landing(entry.pay_period)
    landed_in = landing if landing != entry.pay_period else None
    stored = await repos.ledger.add(replace(entry, landed_in=landed_in))
    envelope = applying()
    if stored and envelope is not None and envelope.accepted_at is not None:
        accepted_at = envelope.accepted_at
        uow.after_commit(lambda: metrics.observe_webhook_to_statement(accepted_at))
    if stored and not metrics.counts_pay_period(landing):
        await refresh_pay_period_gauge(uow)


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
