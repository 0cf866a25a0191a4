"""In-memory repositories of quota-service, for unit tests of the service layer.

They pass the same conformance suite as the SQL ones (`integration/test_repository_conformance.py`),
and are plain data, so `FakeUnitOfWork` can deep-copy them on enter.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from datetime import UTC, date, datetime
from typing import Any

from typing_extensions import override

from provisio_common.testing.fakes import FakeStore, FakeUnitOfWork
from quota_service.adapters.repositories import (
    Activities,
    Commissions,
    Credits,
    Deals,
    FxRates,
    Payees,
    PlanVersions,
    QuotaRepositories,
    Quotas,
    Targets,
    Teams,
    Territories,
)
from quota_service.domain.credits import Commission, Credit, replaces
from quota_service.domain.fx import FxRate
from quota_service.domain.payees import PayeeLink
from quota_service.domain.plans import StoredPlanVersion
from quota_service.domain.quotas import Quota
from quota_service.domain.targets import Target
from quota_service.domain.teams import Team
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
    async def won(self, payees: Collection[str], first: date, last: date) -> list[Credit]:
        return [
            c
            for _, c in sorted(self.rows.items())
            if c.payee in payees
            and c.status == "won"
            and c.close_date is not None
            and first <= c.close_date <= last
        ]


class MemoryTeams(Teams):
    def __init__(self) -> None:
        self.rows: dict[str, Team] = {}

    @override
    async def get(self, team_id: str, *, for_update: bool = False) -> Team | None:
        return self.rows.get(team_id)

    @override
    async def all(self) -> list[Team]:
        return [team for _, team in sorted(self.rows.items())]

    @override
    async def put(self, team: Team) -> None:
        self.rows[team.id] = team


class MemoryTerritories(Territories):
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    @override
    async def get(self, territory_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
        return copy.deepcopy(self.rows.get(territory_id))

    @override
    async def all(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(document) for _, document in sorted(self.rows.items())]

    @override
    async def put(self, territory_id: str, document: dict[str, Any]) -> None:
        self.rows[territory_id] = copy.deepcopy(document)


class MemoryTargets(Targets):
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], Target] = {}

    @override
    async def get(self, subject: str, kpi: str, period: str, *, for_update: bool = False) -> Target | None:
        return self.rows.get((subject, kpi, period))

    @override
    async def find(self, subjects: Collection[str] | None = None, kpi: str | None = None) -> list[Target]:
        return [
            t
            for _, t in sorted(self.rows.items())
            if (subjects is None or t.subject in subjects) and (kpi is None or t.kpi == kpi)
        ]

    @override
    async def put(self, target: Target) -> None:
        self.rows[(target.subject, target.kpi, target.period)] = target


def _within(day: date | None, first: date, last: date) -> bool:
    return day is not None and first <= day <= last


class MemoryDeals(Deals):
    def __init__(self) -> None:
        self.rows: dict[str, tuple[dict[str, Any], tuple[str, ...], date | None, date | None]] = {}

    @override
    async def current(self, key: str, *, for_update: bool = False) -> dict[str, Any] | None:
        row = self.rows.get(key)
        return None if row is None else copy.deepcopy(row[0])

    @override
    async def put(
        self,
        key: str,
        document: dict[str, Any],
        people: list[str],
        created_day: date | None,
        close_day: date | None,
    ) -> None:
        self.rows[key] = (copy.deepcopy(document), tuple(people), created_day, close_day)

    @override
    async def touching(
        self, first: date, last: date, people: Collection[str] | None = None
    ) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(document)
            for _, (document, named, created, closed) in sorted(self.rows.items())
            if (_within(created, first, last) or _within(closed, first, last))
            and (people is None or set(named) & set(people))
        ]


class MemoryActivities(Activities):
    def __init__(self) -> None:
        self.rows: dict[str, tuple[dict[str, Any], str, date]] = {}

    @override
    async def add(self, key: str, document: dict[str, Any], owner: str, day: date) -> bool:
        if key in self.rows:
            return False
        self.rows[key] = (copy.deepcopy(document), owner, day)
        return True

    @override
    async def between(
        self, first: date, last: date, owners: Collection[str] | None = None
    ) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(document)
            for _, (document, owner, day) in sorted(self.rows.items())
            if first <= day <= last and (owners is None or owner in owners)
        ]


class MemoryCommissions(Commissions):
    def __init__(self) -> None:
        self.rows: dict[str, Commission] = {}

    @override
    async def add(self, entry: Commission) -> bool:
        if entry.entry_id in self.rows:
            return False
        self.rows[entry.entry_id] = entry
        return True

    @override
    async def between(
        self, first: date, last: date, payees: Collection[str] | None = None
    ) -> list[Commission]:
        return [
            e
            for _, e in sorted(self.rows.items())
            if first <= e.entry_date <= last and (payees is None or e.payee in payees)
        ]


def memory_repositories() -> QuotaRepositories:
    """Empty in-memory repositories."""
    return QuotaRepositories(
        plans=MemoryPlanVersions(),
        payees=MemoryPayees(),
        quotas=MemoryQuotas(),
        fx_rates=MemoryFxRates(),
        credits=MemoryCredits(),
        teams=MemoryTeams(),
        territories=MemoryTerritories(),
        targets=MemoryTargets(),
        deals=MemoryDeals(),
        activities=MemoryActivities(),
        commissions=MemoryCommissions(),
    )


def fake_store() -> FakeStore[QuotaRepositories]:
    """An empty fake database of quota-service."""
    return FakeStore(memory_repositories())


def fake_uow(store: FakeStore[QuotaRepositories]) -> QuotaUoW:
    """A unit of work on `store`, as quota-service."""
    return FakeUnitOfWork(store, SERVICE)
