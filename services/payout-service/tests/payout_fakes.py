"""In-memory repositories of payout-service, for unit tests on `FakeUnitOfWork`.

They pass the same conformance suite as the SQL ones
(`tests/integration/test_repository_conformance.py`). Deep-copyable: the fake unit of
work copies them on enter and writes the copy back on commit.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from payout_service.adapters.repositories import LedgerEntries, Payees, PayoutRepositories
from payout_service.domain.payees import Payee
from payout_service.domain.statements import LedgerEntry
from provisio_common.events import LedgerEntryRecord, PayeeRecord
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
            [e for e in self.entries.values() if e.payee == payee and e.pay_period == pay_period]
        )


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
    async def managers(self) -> dict[str, str | None]:
        return {p.id: p.manager for p in self.payees.values()}


def memory_repositories() -> PayoutRepositories:
    return PayoutRepositories(ledger=MemoryLedgerEntries(), payees=MemoryPayees())


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


def payee_record(payee_id: str, manager: str | None = None, name: str | None = None) -> PayeeRecord:
    """A `payees.v1` record with what payout-service keeps."""
    return PayeeRecord(id=payee_id, name=name or payee_id.title(), manager=manager)
