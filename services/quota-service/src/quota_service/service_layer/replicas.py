"""The replicas the KPI catalogue reads: `deals.v1` (each deal's current snapshot),
`activities.v1` and `ledger.v1` (commission earned). Handlers run inside the consumer's
unit of work, which commits with the inbox row; they never commit."""

from __future__ import annotations

from provisio_common.events import ActivityRecord, DealSnapshot, LedgerEntryRecord, revision_order
from quota_service.domain.credits import Commission
from quota_service.domain.kpis import day_of
from quota_service.service_layer.changes import QuotaUoW


async def on_deal(uow: QuotaUoW, snapshot: DealSnapshot) -> None:
    """Hold the snapshot if it is later in the deal's history than the one held (history
    is ordered by `changed_at`, then content: `provisio_common.events.revision_order`), so
    any arrival order and any duplicate leave the same current snapshot."""
    document = snapshot.to_data()
    held = await uow.repos.deals.current(snapshot.key, for_update=True)
    if held is not None and revision_order(document) <= revision_order(held):
        return
    people = sorted({snapshot.owner, *(split.payee for split in snapshot.splits)})
    await uow.repos.deals.put(
        snapshot.key, document, people, day_of(snapshot.created_date), day_of(snapshot.close_date)
    )


async def on_activity(uow: QuotaUoW, record: ActivityRecord) -> None:
    """Keep an activity once (a repeat of one already held changes nothing, as in deal-ingest
    and calc-engine)."""
    await uow.repos.activities.add(
        f"{record.source}:{record.external_id}", record.to_data(), record.owner, record.occurred_at.date()
    )


async def on_ledger_entry(uow: QuotaUoW, record: LedgerEntryRecord) -> None:
    """Keep a ledger entry once (by entry id): commission earned, for `cost_of_sales`."""
    await uow.repos.commissions.add(
        Commission(record.entry_id, record.payee, record.entry_date, record.amount, record.currency)
    )
