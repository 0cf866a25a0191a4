"""Commission expense (ASC 340-40): each deal's contract terms from `deals.v1`, and the
read-only use cases over the ledger replica: the monthly report, one month's journal and
the schedules of a deal's entries.

Everything is computed on read from the entries, the plan versions that posted them and
the deals' latest terms, so a late entry or late terms show in the next read. Roles are
checked by the routes (admin, payroll, ops).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from payout_service.domain.accounting import (
    AccountingPolicy,
    Accounts,
    DealTerms,
    EntrySchedule,
    JournalLine,
    MonthFigures,
    commission_expense,
    entry_schedule,
    journal,
    month_range,
    parse_month,
    postings,
    treat,
)
from payout_service.domain.plans import PlanVersionDoc
from payout_service.domain.statements import LedgerEntry
from payout_service.service_layer import PayoutUoW, rules
from provisio_calc import PlanInvalid
from provisio_common.events import DealSnapshot


async def on_deal(uow: PayoutUoW, snapshot: DealSnapshot) -> None:
    """Keep the deal's terms when the snapshot is later in its history than the one held
    (`changed_at`, then content: `provisio_common.events.revision_order`), so any arrival
    order and any duplicate leave the latest terms. Runs in the consumer's unit of work."""
    terms = DealTerms.of(snapshot.key, snapshot.to_data())
    held = await uow.repos.deals.get(snapshot.key, for_update=True)
    if held is not None and terms.order <= held.order:
        return
    await uow.repos.deals.put(terms)


def _end_of(month: int) -> date:
    """The last day of a month number."""
    following = month + 1
    if following // 12 > date.max.year:
        return date.max
    return date(following // 12, following % 12 + 1, 1) - timedelta(days=1)


Policies = dict[tuple[str, int], AccountingPolicy]


async def _policies(uow: PayoutUoW, entries: Sequence[LedgerEntry]) -> Policies:
    """The accounting policy of each (plan, version) that posted an entry; a version not
    replicated yet falls back to the plan's latest (none known: its entries are expensed)."""
    latest: dict[str, PlanVersionDoc] | None = None
    found: Policies = {}
    for key in sorted({(e.plan, e.plan_version) for e in entries}):
        doc = await uow.repos.plans.get(*key)
        if doc is None:
            latest = latest if latest is not None else await uow.repos.plans.latest()
            doc = latest.get(key[0])
        if doc is None:
            continue
        try:
            found[key] = doc.accounting()
        except PlanInvalid:
            continue  # quota-service validated it; a newer libs/calc may not read it
    return found


async def _schedules(uow: PayoutUoW, entries: Sequence[LedgerEntry]) -> list[EntrySchedule]:
    """Every entry with its treatment and schedule (inside an entered unit of work)."""
    policies = await _policies(uow, entries)
    terms = await uow.repos.deals.many(e.deal for e in entries if e.deal is not None)
    return [
        entry_schedule(
            e,
            treat(e, policies.get((e.plan, e.plan_version)), terms.get(e.deal) if e.deal else None),
        )
        for e in entries
    ]


async def expense_report(uow: PayoutUoW, first_text: str, last_text: str) -> list[MonthFigures]:
    """Rule 4 for each month `from`..`to` and currency (422 naming `from` or `to`)."""
    with rules():
        first, last = month_range(first_text, last_text)
    async with uow:
        entries = await uow.repos.ledger.dated_through(_end_of(last))
        schedules = await _schedules(uow, entries)
    return commission_expense(postings(schedules), first, last)


@dataclass(frozen=True)
class Journal:
    """One month's journal lines, debits and credits per currency."""

    month: int
    lines: list[JournalLine]


async def month_journal(uow: PayoutUoW, month_text: str, accounts: Accounts) -> Journal:
    """Rule 5 for one month (422 naming `month`)."""
    with rules():
        month = parse_month(month_text, "month")
    async with uow:
        entries = await uow.repos.ledger.dated_through(_end_of(month))
        schedules = await _schedules(uow, entries)
    return Journal(month, journal(postings(schedules), month, accounts))


async def deal_schedules(uow: PayoutUoW, deal: str | None) -> list[EntrySchedule]:
    """Each entry of the deal (every entry when none is given) with its treatment and
    schedule, by entry date then id."""
    async with uow:
        if deal is None:
            entries = await uow.repos.ledger.dated_through(date.max)
        else:
            entries = await uow.repos.ledger.by_deal(deal)
        return await _schedules(uow, entries)
