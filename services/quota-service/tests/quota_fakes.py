"""In-memory repositories of quota-service, for unit tests of the service layer.

They pass the same conformance suite as the SQL ones (`integration/test_repository_conformance.py`),
and are plain data, so `FakeUnitOfWork` can deep-copy them on enter.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from typing_extensions import override

from provisio_common.testing.fakes import FakeStore, FakeUnitOfWork
from quota_service.adapters.repositories import (
    Credits,
    FxRates,
    Payees,
    PlanVersions,
    QuotaRepositories,
    Quotas,
)
from quota_service.domain.credits import Credit, replaces
from quota_service.domain.fx import FxRate
from quota_service.domain.payees import PayeeLink
from quota_service.domain.plans import StoredPlanVersion
from quota_service.domain.quotas import Quota
from quota_service.service_layer.changes import QuotaUoW

SERVICE = "quota-service"


class MemoryPlanVersions(PlanVersions):
    def __init__(self) -> None:
        self.versions: dict[tuple[str, int], StoredPlanVersion] = {}

    @override
    async def lock(self, plan_id: str) -> None:
        # One fake unit of work runs at a time: nothing to wait for.
        return None

    @override
    async def latest(self, plan_id: str) -> StoredPlanVersion | None:
        mine = [v for (pid, _), v in self.versions.items() if pid == plan_id]
        return max(mine, key=lambda v: v.version, default=None)

    @override
    async def version(self, plan_id: str, version: int) -> StoredPlanVersion | None:
        return self.versions.get((plan_id, version))

    @override
    async def latest_of_each(self) -> list[StoredPlanVersion]:
        latest: dict[str, StoredPlanVersion] = {}
        for (plan_id, _), stored in sorted(self.versions.items()):
            latest[plan_id] = stored
        return [latest[plan_id] for plan_id in sorted(latest)]

    @override
    async def add(
        self, plan_id: str, version: int, document: dict[str, Any], source_text: str, created_by: str
    ) -> StoredPlanVersion:
        if (plan_id, version) in self.versions:
            raise KeyError(f"plan {plan_id!r} already has version {version}")
        stored = StoredPlanVersion(
            plan_id, version, copy.deepcopy(document), source_text, created_by, datetime.now(UTC)
        )
        self.versions[(plan_id, version)] = stored
        return stored


class MemoryPayees(Payees):
    def __init__(self) -> None:
        self.rows: dict[str, tuple[dict[str, Any], str | None, tuple[str, ...]]] = {}

    @override
    async def lock_hierarchy(self) -> None:
        return None

    @override
    async def links(self) -> list[PayeeLink]:
        return [PayeeLink(pid, manager, crm) for pid, (_, manager, crm) in sorted(self.rows.items())]

    @override
    async def managers(self) -> dict[str, str | None]:
        return {pid: manager for pid, (_, manager, _) in self.rows.items()}

    @override
    async def exists(self, payee_id: str) -> bool:
        return payee_id in self.rows

    @override
    async def document(self, payee_id: str) -> dict[str, Any] | None:
        row = self.rows.get(payee_id)
        return None if row is None else copy.deepcopy(row[0])

    @override
    async def documents(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(document) for _, (document, _, _) in sorted(self.rows.items())]

    @override
    async def put(
        self, payee_id: str, document: dict[str, Any], manager: str | None, crm_ids: list[str]
    ) -> None:
        self.rows[payee_id] = (copy.deepcopy(document), manager, tuple(crm_ids))


class MemoryQuotas(Quotas):
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Quota] = {}

    @override
    async def get(self, payee: str, period: str, *, for_update: bool = False) -> Quota | None:
        return self.rows.get((payee, period))

    @override
    async def find(self, payee: str | None = None) -> list[Quota]:
        return [q for key, q in sorted(self.rows.items()) if payee is None or key[0] == payee]

    @override
    async def put(self, quota: Quota) -> None:
        self.rows[(quota.payee, quota.period)] = quota


class MemoryFxRates(FxRates):
    def __init__(self) -> None:
        self.rows: dict[tuple[date, str, str], FxRate] = {}

    @override
    async def get(self, day: date, source: str, target: str, *, for_update: bool = False) -> FxRate | None:
        return self.rows.get((day, source, target))

    @override
    async def all_rates(self) -> list[FxRate]:
        return [rate for _, rate in sorted(self.rows.items())]

    @override
    async def put(self, rate: FxRate) -> None:
        self.rows[(rate.day, rate.source, rate.target)] = rate


class MemoryCredits(Credits):
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Credit] = {}

    @override
    async def get(self, deal: str, payee: str) -> Credit | None:
        return self.rows.get((deal, payee))

    @override
    async def keep_latest(self, credit: Credit) -> None:
        if replaces(credit, self.rows.get((credit.deal, credit.payee))):
            self.rows[(credit.deal, credit.payee)] = credit

    @override
    async def won_value(self, payee: str, first: date, last: date) -> Decimal:
        return sum(
            (
                c.amount
                for c in self.rows.values()
                if c.payee == payee
                and c.status == "won"
                and c.close_date is not None
                and first <= c.close_date <= last
            ),
            Decimal(0),
        )


def memory_repositories() -> QuotaRepositories:
    """Empty in-memory repositories."""
    return QuotaRepositories(
        plans=MemoryPlanVersions(),
        payees=MemoryPayees(),
        quotas=MemoryQuotas(),
        fx_rates=MemoryFxRates(),
        credits=MemoryCredits(),
    )


def fake_store() -> FakeStore[QuotaRepositories]:
    """An empty fake database of quota-service."""
    return FakeStore(memory_repositories())


def fake_uow(store: FakeStore[QuotaRepositories]) -> QuotaUoW:
    """A unit of work on `store`, as quota-service."""
    return FakeUnitOfWork(store, SERVICE)
