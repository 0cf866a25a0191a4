"""In-memory repositories of payout-service, for unit tests on `FakeUnitOfWork`.

They pass the same conformance suite as the SQL ones
(`tests/integration/test_repository_conformance.py`). Deep-copyable: the fake unit of
work copies them on enter and writes the copy back on commit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from typing_extensions import override

from payout_service.adapters.repositories import (
    Adjustments,
    Batches,
    Deals,
    Disputes,
    LedgerEntries,
    Payees,
    PayoutRepositories,
    PayPeriods,
    PlanVersions,
)
from payout_service.domain.accounting import DealTerms
from payout_service.domain.adjustments import Adjustment
from payout_service.domain.batches import LIVE, AckRecord, Batch, BatchLine
from payout_service.domain.disputes import Dispute, DisputeMessage
from payout_service.domain.errors import Conflict
from payout_service.domain.payees import Payee
from payout_service.domain.periods import ClosedPayPeriod
from payout_service.domain.plans import PlanVersionDoc
from payout_service.domain.statements import LedgerEntry, StatementRow
from provisio_common.events import DealSnapshot, LedgerEntryRecord, PayeeRecord, PlanVersion
from provisio_common.testing.fakes import FakeStore, FakeUnitOfWork


class MemoryLedgerEntries(LedgerEntries):
    def __init__(self) -> None:
        self.entries: dict[str, LedgerEntry] = {}

    @override
    async def add(self, entry: LedgerEntry) -> bool:
        if entry.entry_id in self.entries:
            return False
        self.entries[entry.entry_id] = entry
        return True

    def _sorted(self, entries: list[LedgerEntry]) -> list[LedgerEntry]:
        return sorted(entries, key=lambda e: (e.entry_date, e.entry_id))

    @override
    async def by_payee(self, payee: str) -> list[LedgerEntry]:
        return self._sorted([e for e in self.entries.values() if e.payee == payee])

    @override
    async def by_payee_and_pay_period(self, payee: str, pay_period: str) -> list[LedgerEntry]:
        return self._sorted(
            [e for e in self.entries.values() if e.payee == payee and e.paid_in == pay_period]
        )

    @override
    async def payees(self) -> set[str]:
        return {e.payee for e in self.entries.values()}

    @override
    async def pay_periods(self) -> set[str]:
        return {e.pay_period for e in self.entries.values()} | {
            e.landed_in for e in self.entries.values() if e.landed_in is not None
        }

    @override
    async def dated_through(self, day: date) -> list[LedgerEntry]:
        return self._sorted([e for e in self.entries.values() if e.entry_date <= day])

    @override
    async def by_deal(self, deal: str) -> list[LedgerEntry]:
        return self._sorted([e for e in self.entries.values() if e.deal == deal])


class MemoryDeals(Deals):
    def __init__(self) -> None:
        self.terms: dict[str, DealTerms] = {}

    @override
    async def get(self, deal: str, *, for_update: bool = False) -> DealTerms | None:
        return self.terms.get(deal)

    @override
    async def put(self, terms: DealTerms) -> None:
        self.terms[terms.deal] = terms

    @override
    async def many(self, deals: Iterable[str]) -> dict[str, DealTerms]:
        return {deal: self.terms[deal] for deal in set(deals) if deal in self.terms}


class MemoryPayees(Payees):
    def __init__(self) -> None:
        self.payees: dict[str, Payee] = {}

    @override
    async def upsert(self, payee: Payee) -> None:
        self.payees[payee.id] = payee

    @override
    async def get(self, payee_id: str) -> Payee | None:
        return self.payees.get(payee_id)

    @override
    async def all(self) -> list[Payee]:
        return [self.payees[k] for k in sorted(self.payees)]

    @override
    async def managers(self) -> dict[str, str | None]:
        return {p.id: p.manager for p in self.payees.values()}


class MemoryPlanVersions(PlanVersions):
    def __init__(self) -> None:
        self.versions: dict[tuple[str, int], PlanVersionDoc] = {}

    @override
    async def add(self, doc: PlanVersionDoc) -> bool:
        key = (doc.plan_id, doc.version)
        if key in self.versions:
            return False
        self.versions[key] = doc
        return True

    @override
    async def latest(self) -> dict[str, PlanVersionDoc]:
        found: dict[str, PlanVersionDoc] = {}
        for (plan_id, _), doc in sorted(self.versions.items()):
            found[plan_id] = doc
        return found

    @override
    async def get(self, plan_id: str, version: int) -> PlanVersionDoc | None:
        return self.versions.get((plan_id, version))


class MemoryPayPeriods(PayPeriods):
    def __init__(self) -> None:
        self.closes: dict[str, ClosedPayPeriod] = {}
        self.rows: list[StatementRow] = []

    @override
    async def lock(self, *, exclusive: bool) -> None:
        return None

    @override
    async def closed(self) -> list[ClosedPayPeriod]:
        return [self.closes[k] for k in sorted(self.closes)]

    @override
    async def close(self, closed: ClosedPayPeriod, rows: Sequence[StatementRow]) -> None:
        if closed.pay_period in self.closes:
            raise Conflict(f"{closed.pay_period} is already closed")
        self.closes[closed.pay_period] = closed
        self.rows += rows

    @override
    async def frozen(self, payee: str) -> list[StatementRow]:
        return sorted((r for r in self.rows if r.payee == payee), key=lambda r: (r.pay_period, r.currency))

    @override
    async def frozen_in(self, pay_period: str) -> list[StatementRow]:
        return sorted(
            (r for r in self.rows if r.pay_period == pay_period), key=lambda r: (r.payee, r.currency)
        )


class MemoryAdjustments(Adjustments):
    def __init__(self) -> None:
        self.adjustments: dict[str, Adjustment] = {}

    @override
    async def add(self, adjustment: Adjustment) -> None:
        self.adjustments[adjustment.id] = adjustment

    @override
    async def get(self, adjustment_id: str) -> Adjustment | None:
        return self.adjustments.get(adjustment_id)

    @override
    async def save(self, adjustment: Adjustment) -> None:
        self.adjustments[adjustment.id] = adjustment

    @override
    async def find(self, payee: str | None = None, status: str | None = None) -> list[Adjustment]:
        return sorted(
            (
                a
                for a in self.adjustments.values()
                if (payee is None or a.payee == payee) and (status is None or a.status == status)
            ),
            key=lambda a: (a.created_at, a.id),
        )


class MemoryDisputes(Disputes):
    def __init__(self) -> None:
        self.disputes: dict[str, Dispute] = {}
        self.messages: dict[tuple[str, int], DisputeMessage] = {}

    @override
    async def add(self, dispute: Dispute) -> None:
        if dispute.id in self.disputes:
            raise Conflict(f"dispute {dispute.id} exists")
        self.disputes[dispute.id] = dispute

    @override
    async def get(self, dispute_id: str, *, for_update: bool = False) -> Dispute | None:
        return self.disputes.get(dispute_id)

    @override
    async def save(self, dispute: Dispute) -> None:
        self.disputes[dispute.id] = dispute

    @override
    async def find(self, payees: Collection[str] | None = None, status: str | None = None) -> list[Dispute]:
        return sorted(
            (
                d
                for d in self.disputes.values()
                if (payees is None or d.payee in payees) and (status is None or d.status == status)
            ),
            key=lambda d: (d.opened_at, d.id),
        )

    @override
    async def add_message(self, message: DisputeMessage) -> None:
        key = (message.dispute_id, message.position)
        if key in self.messages:
            raise Conflict(f"dispute {message.dispute_id} already has message {message.position}")
        self.messages[key] = message

    @override
    async def thread(self, dispute_id: str) -> list[DisputeMessage]:
        mine = [m for m in self.messages.values() if m.dispute_id == dispute_id]
        return sorted(mine, key=lambda m: m.position)

    @override
    async def open_summary(self) -> tuple[int, datetime | None]:
        open_since = [d.open_since for d in self.disputes.values() if d.status == "open"]
        return len(open_since), min(open_since) if open_since else None


class MemoryBatches(Batches):
    def __init__(self) -> None:
        self.batches: dict[str, Batch] = {}
        self.lines_by_id: dict[str, BatchLine] = {}
        self.acks: dict[str, AckRecord] = {}
        self.seq = 0

    @override
    async def lock(self, name: str) -> None:
        return None

    @override
    async def add(self, batch: Batch, lines: Sequence[BatchLine]) -> None:
        if (
            await self.for_pay_period(batch.pay_period, batch.currency) is not None
            or batch.id in self.batches
        ):
            raise Conflict(f"batch {batch.id} overlaps a batch that is not cancelled")
        live = {e for line in self.lines_by_id.values() if line.status in LIVE for e in line.entry_ids}
        carried = {line.carried_from for line in self.lines_by_id.values() if line.status != "cancelled"}
        new_live = [e for line in lines if line.status in LIVE for e in line.entry_ids]
        new_carried = [line.carried_from for line in lines if line.carried_from is not None]
        if (
            live & set(new_live)
            or len(new_live) != len(set(new_live))
            or carried & set(new_carried)
            or len(new_carried) != len(set(new_carried))
            or any(line.id in self.lines_by_id for line in lines)
        ):
            raise Conflict(f"batch {batch.id} overlaps a batch that is not cancelled")
        self.batches[batch.id] = batch
        for line in lines:
            self.lines_by_id[line.id] = line

    @override
    async def get(self, batch_id: str) -> Batch | None:
        return self.batches.get(batch_id)

    @override
    async def save(self, batch: Batch) -> None:
        self.batches[batch.id] = batch

    @override
    async def save_lines(self, lines: Sequence[BatchLine]) -> None:
        for line in lines:
            known = self.lines_by_id[line.id]
            self.lines_by_id[line.id] = replace(
                known,
                status=line.status,
                payroll_ref=line.payroll_ref,
                reason=line.reason,
                settled_at=line.settled_at,
            )

    @override
    async def lines(self, batch_ids: Iterable[str]) -> dict[str, list[BatchLine]]:
        found: dict[str, list[BatchLine]] = {batch_id: [] for batch_id in batch_ids}
        for line in self.lines_by_id.values():  # insertion order is the batch's order
            if line.batch_id in found:
                found[line.batch_id].append(line)
        return found

    @override
    async def lines_of_payee(self, payee: str) -> list[BatchLine]:
        return [line for line in self.lines_by_id.values() if line.payee == payee]

    @override
    async def carryable(self, currency: str | None = None) -> list[BatchLine]:
        carried = {line.carried_from for line in self.lines_by_id.values() if line.status != "cancelled"}
        order = {batch_id: (b.built_at, batch_id) for batch_id, b in self.batches.items()}
        found = [
            line
            for line in self.lines_by_id.values()
            if currency in (None, line.currency)
            and line.status in ("rejected", "exception")
            and line.id not in carried
        ]
        return sorted(found, key=lambda line: order[line.batch_id])

    @override
    async def for_pay_period(self, pay_period: str, currency: str) -> Batch | None:
        for batch in self.batches.values():
            if (batch.pay_period, batch.currency) == (pay_period, currency) and batch.status != "cancelled":
                return batch
        return None

    @override
    async def find(self, status: str | None = None) -> list[Batch]:
        found = [b for b in self.batches.values() if status is None or b.status == status]
        return sorted(found, key=lambda b: (b.built_at, b.id), reverse=True)

    @override
    async def approved_after(self, statuses: Sequence[str], after: int, limit: int) -> list[Batch]:
        found = [
            b
            for b in self.batches.values()
            if b.approval_seq is not None and b.approval_seq > after and b.status in statuses
        ]
        return sorted(found, key=lambda b: b.approval_seq or 0)[:limit]

    @override
    async def next_approval_seq(self) -> int:
        self.seq += 1
        return self.seq

    @override
    async def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        batches: dict[str, int] = {}
        lines: dict[str, int] = {}
        for b in self.batches.values():
            batches[b.status] = batches.get(b.status, 0) + 1
        for line in self.lines_by_id.values():
            lines[line.status] = lines.get(line.status, 0) + 1
        return batches, lines

    @override
    async def oldest_unsettled_approval(self) -> datetime | None:
        found = [b.approved_at for b in self.batches.values() if b.status == "approved" and b.approved_at]
        return min(found) if found else None

    @override
    async def ack(self, key: str) -> AckRecord | None:
        return self.acks.get(key)

    @override
    async def add_ack(self, record: AckRecord) -> None:
        if record.key in self.acks:
            raise Conflict(f"acknowledgement {record.key} is already recorded")
        self.acks[record.key] = record


def memory_repositories() -> PayoutRepositories:
    return PayoutRepositories(
        ledger=MemoryLedgerEntries(),
        payees=MemoryPayees(),
        plans=MemoryPlanVersions(),
        pay_periods=MemoryPayPeriods(),
        adjustments=MemoryAdjustments(),
        disputes=MemoryDisputes(),
        batches=MemoryBatches(),
        deals=MemoryDeals(),
    )


def fake_store() -> FakeStore[PayoutRepositories]:
    return FakeStore(memory_repositories())


def fake_uow(store: FakeStore[PayoutRepositories]) -> FakeUnitOfWork[PayoutRepositories]:
    return FakeUnitOfWork(store, "payout-service")


def ledger_record(entry_id: str, payee: str = "ann", **fields: Any) -> LedgerEntryRecord:
    """A valid `ledger.v1` record; `fields` override the defaults (JSON values)."""
    data: dict[str, Any] = {
        "entry_id": entry_id,
        "payee": payee,
        "plan": "flat",
        "plan_version": 1,
        "component": "commission",
        "period": "2027-02",
        "entry_date": "2027-02-10",
        "pay_period": "2027-02",
        "amount": "125",
        "currency": "USD",
        "rounding": "half_up",
        "cash": True,
        "deal": "generic:D-1",
        "cause_event": f"evt-{entry_id}",
        "explanation": {"rate": "0.10", "value": "1250"},
        "posted_at": "2027-02-10T12:00:00Z",
        **fields,
    }
    return LedgerEntryRecord.model_validate(data)


def payee_record(
    payee_id: str,
    manager: str | None = None,
    name: str | None = None,
    *,
    payroll_id: str | None = None,
    plans: Sequence[str] = (),
) -> PayeeRecord:
    """A `payees.v1` record with what payout-service keeps (open-ended assignments to `plans`)."""
    return PayeeRecord.model_validate(
        {
            "id": payee_id,
            "name": name or payee_id.title(),
            "manager": manager,
            "payroll_id": payroll_id,
            "assignments": [{"plan": plan} for plan in plans],
        }
    )


def plan_document(plan_id: str = "flat", **fields: Any) -> dict[str, Any]:
    """A valid monthly USD plan for 2027 (a 10% commission, a bonus, a contest)."""
    return {
        "id": plan_id,
        "currency": "USD",
        "period": "quarter",
        "pay_frequency": "month",
        "effective": {"from": "2027-01-01", "to": "2027-12-31"},
        "components": [
            {"id": "commission", "kind": "commission", "rate": "0.10"},
            {"id": "club", "kind": "bonus", "amount": "1000", "when": {"attainment_at_least": 100}},
            {
                "id": "trip",
                "kind": "contest",
                "window": {"from": "2027-01-01", "to": "2027-03-31"},
                "rank_by": {"metric": "amount"},
                "prizes": [{"rank": 1, "reward": "Trip", "value": "3000", "cash": False}],
            },
        ],
        **fields,
    }


def plan_record(plan_id: str = "flat", version: int = 1, **fields: Any) -> PlanVersion:
    """A `plans.v1` record of `plan_document`."""
    return PlanVersion(
        plan_id=plan_id,
        version=version,
        document=plan_document(plan_id, **fields),
        created_at=datetime(2027, 1, 1, tzinfo=UTC),
    )


def deal_record(external_id: str = "D-1", **fields: Any) -> DealSnapshot:
    """A won generic `deals.v1` snapshot (key `generic:<external_id>`); `fields` override."""
    return DealSnapshot.model_validate(
        {
            "source": "generic",
            "external_id": external_id,
            "revision": 1,
            "status": "won",
            "amount": "24000",
            "currency": "USD",
            "close_date": "2027-01-15",
            "changed_at": "2027-01-15T12:00:00Z",
            "owner": "generic:ann",
            **fields,
        }
    )
