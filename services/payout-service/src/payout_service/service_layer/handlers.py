"""Event handlers: replicate the ledger (`ledger.v1`) and the payee hierarchy (`payees.v1`).

They run inside the consumer's unit of work (which records the event in the inbox and
commits); they never commit.
"""

from __future__ import annotations

from payout_service.domain.payees import Payee
from payout_service.domain.statements import LedgerEntry
from payout_service.service_layer import PayoutUoW
from provisio_common.events import LedgerEntryRecord, PayeeRecord


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
    """Store the entry. The entry id is the ledger's own key: a re-published entry (a new
    envelope, so the inbox does not catch it) is stored once."""
    await uow.repos.ledger.add(ledger_entry(record))


async def on_payee(uow: PayoutUoW, record: PayeeRecord) -> None:
    """Insert or update the payee's name and manager (the last record wins)."""
    await uow.repos.payees.upsert(Payee(id=record.id, name=record.name, manager=record.manager))
