"""The repositories of quota-service: the ports the service layer uses, their SQL
implementations, and the bundle a unit of work carries (`uow.repos`).

The in-memory implementations live with the tests (`tests/quota_fakes.py`); both pass
the same conformance suite (`tests/integration/test_repository_conformance.py`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession
from typing_extensions import override

from quota_service.adapters.tables import (
    activities,
    commissions,
    credits,
    deals,
    fx_rates,
    payees,
    plan_versions,
    quotas,
    targets,
    teams,
    territories,
)
from quota_service.domain.credits import Commission, Credit
from quota_service.domain.fx import FxRate
from quota_service.domain.payees import PayeeLink
from quota_service.domain.plans import StoredPlanVersion
from quota_service.domain.quotas import Quota
from quota_service.domain.targets import Target
from quota_service.domain.teams import Team

# --- ports -------------------------------------------------------------------------------


class PlanVersions(ABC):
    """Every stored version of every plan."""

    @abstractmethod
    async def lock(self, plan_id: str) -> None:
        """Serialize writers of one plan until the transaction ends."""

    @abstractmethod
    async def latest(self, plan_id: str) -> StoredPlanVersion | None:
        """The newest version of a plan."""

    @abstractmethod
    async def version(self, plan_id: str, version: int) -> StoredPlanVersion | None:
        """One version of a plan."""

    @abstractmethod
    async def latest_of_each(self) -> list[StoredPlanVersion]:
        """Every plan at its newest version, by plan id."""

    @abstractmethod
    async def add(
        self, plan_id: str, version: int, document: dict[str, Any], source_text: str, created_by: str
    ) -> StoredPlanVersion:
        """Store a new version (stamped with the time of this transaction)."""


class Payees(ABC):
    """Payees: their whole documents and the hierarchy they form."""

    @abstractmethod
    async def lock_hierarchy(self) -> None:
        """Keep other writers of the hierarchy out until the transaction ends, so two
        concurrent changes cannot build a loop (or share a CRM id) together."""

    @abstractmethod
    async def links(self) -> list[PayeeLink]:
        """Each payee's manager and CRM ids, by payee id."""

    @abstractmethod
    async def managers(self) -> dict[str, str | None]:
        """Each payee's manager (the hierarchy)."""

    @abstractmethod
    async def exists(self, payee_id: str) -> bool:
        """Whether the payee is known."""

    @abstractmethod
    async def document(self, payee_id: str) -> dict[str, Any] | None:
        """The payee's document (`payees.v1` data)."""

    @abstractmethod
    async def documents(self) -> list[dict[str, Any]]:
        """Every payee's document, by payee id."""

    @abstractmethod
    async def put(
        self, payee_id: str, document: dict[str, Any], manager: str | None, crm_ids: list[str]
    ) -> None:
        """Create or replace a payee."""


class Quotas(ABC):
    """Quotas, one per payee and period."""

    @abstractmethod
    async def get(self, payee: str, period: str, *, for_update: bool = False) -> Quota | None:
        """One quota; `for_update` holds it against concurrent writers."""

    @abstractmethod
    async def find(self, payee: str | None = None) -> list[Quota]:
        """Quotas (of one payee, or all) by payee and period."""

    @abstractmethod
    async def put(self, quota: Quota) -> None:
        """Create or replace a quota."""


class FxRates(ABC):
    """FX rates by day and currency pair."""

    @abstractmethod
    async def get(self, day: date, source: str, target: str, *, for_update: bool = False) -> FxRate | None:
        """One rate; `for_update` holds it against concurrent writers."""

    @abstractmethod
    async def all_rates(self) -> list[FxRate]:
        """Every rate, by day and source currency."""

    @abstractmethod
    async def put(self, rate: FxRate) -> None:
        """Create or replace a rate."""


class Credits(ABC):
    """The credits replica: the latest credit per (deal, payee)."""

    @abstractmethod
    async def get(self, deal: str, payee: str) -> Credit | None:
        """The credit held for a deal and payee."""

    @abstractmethod
    async def keep_latest(self, credit: Credit) -> None:
        """Store `credit` unless an older revision than the one held (domain `replaces`)."""

    @abstractmethod
    async def won(self, payees: Collection[str], first: date, last: date) -> list[Credit]:
        """The credits of `payees` on won deals closing between `first` and `last`, by deal
        and payee."""


class Teams(ABC):
    """Teams: a lead and members over date ranges."""

    @abstractmethod
    async def get(self, team_id: str, *, for_update: bool = False) -> Team | None:
        """One team; `for_update` holds it against concurrent writers."""

    @abstractmethod
    async def all(self) -> list[Team]:
        """Every team, by id."""

    @abstractmethod
    async def put(self, team: Team) -> None:
        """Create or replace a team."""


class Territories(ABC):
    """Territories: named sets of the `territory` values deals carry."""

    @abstractmethod
    async def get(self, territory_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
        """One territory's document."""

    @abstractmethod
    async def all(self) -> list[dict[str, Any]]:
        """Every territory's document, by id."""

    @abstractmethod
    async def put(self, territory_id: str, document: dict[str, Any]) -> None:
        """Create or replace a territory."""


class Targets(ABC):
    """KPI targets, one per (subject, KPI, period)."""

    @abstractmethod
    async def get(self, subject: str, kpi: str, period: str, *, for_update: bool = False) -> Target | None:
        """One target; `for_update` holds it against concurrent writers."""

    @abstractmethod
    async def find(self, subjects: Collection[str] | None = None, kpi: str | None = None) -> list[Target]:
        """Targets (of these subjects, of one KPI, or all) by subject, KPI and period."""

    @abstractmethod
    async def put(self, target: Target) -> None:
        """Create or replace a target."""


class Deals(ABC):
    """The deals replica (`deals.v1`): each deal's current snapshot."""

    @abstractmethod
    async def current(self, key: str, *, for_update: bool = False) -> dict[str, Any] | None:
        """The snapshot held for a deal (`source:external_id`)."""

    @abstractmethod
    async def put(
        self,
        key: str,
        document: dict[str, Any],
        people: list[str],
        created_day: date | None,
        close_day: date | None,
    ) -> None:
        """Hold `document` as the deal's current snapshot; `people` are its owner and split
        payees as sent."""

    @abstractmethod
    async def touching(
        self, first: date, last: date, people: Collection[str] | None = None
    ) -> list[dict[str, Any]]:
        """Snapshots created or closed between `first` and `last` (of deals naming one of
        `people`, if given), by key."""


class Activities(ABC):
    """The activities replica (`activities.v1`)."""

    @abstractmethod
    async def add(self, key: str, document: dict[str, Any], owner: str, day: date) -> bool:
        """Keep an activity; False (and nothing changed) if one with this key is held."""

    @abstractmethod
    async def between(
        self, first: date, last: date, owners: Collection[str] | None = None
    ) -> list[dict[str, Any]]:
        """Activities on days between `first` and `last` (of these owners as sent, if given), by key."""


class Commissions(ABC):
    """The ledger replica (`ledger.v1`): commission earned, entry by entry."""

    @abstractmethod
    async def add(self, entry: Commission) -> bool:
        """Keep an entry; False if one with its id is held."""

    @abstractmethod
    async def between(
        self, first: date, last: date, payees: Collection[str] | None = None
    ) -> list[Commission]:
        """Entries dated between `first` and `last` (of these payees, if given), by id."""


@dataclass
class QuotaRepositories:
    """What `uow.repos` holds in quota-service."""

    plans: PlanVersions
    payees: Payees
    quotas: Quotas
    fx_rates: FxRates
    credits: Credits
    teams: Teams
    territories: Territories
    targets: Targets
    deals: Deals
    activities: Activities
    commissions: Commissions


# --- SQL -----------------------------------------------------------------------------------


def _plan_version(row: Any) -> StoredPlanVersion:
    return StoredPlanVersion(
        plan_id=row.plan_id,
        version=row.version,
        document=row.document,
        source_text=row.source_text,
        created_by=row.created_by,
        created_at=row.created_at,
    )


class SqlPlanVersions(PlanVersions):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def lock(self, plan_id: str) -> None:
        await self.session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(plan_id))))

    @override
    async def latest(self, plan_id: str) -> StoredPlanVersion | None:
        row = (
            await self.session.execute(
                sa.select(plan_versions)
                .where(plan_versions.c.plan_id == plan_id)
                .order_by(plan_versions.c.version.desc())
                .limit(1)
            )
        ).first()
        return None if row is None else _plan_version(row)

    @override
    async def version(self, plan_id: str, version: int) -> StoredPlanVersion | None:
        row = (
            await self.session.execute(
                sa.select(plan_versions).where(
                    plan_versions.c.plan_id == plan_id, plan_versions.c.version == version
                )
            )
        ).first()
        return None if row is None else _plan_version(row)

    @override
    async def latest_of_each(self) -> list[StoredPlanVersion]:
        latest = (
            sa.select(plan_versions)
            .ext(distinct_on(plan_versions.c.plan_id))
            .order_by(plan_versions.c.plan_id, plan_versions.c.version.desc())
        )
        return [_plan_version(r) for r in (await self.session.execute(latest)).all()]

    @override
    async def add(
        self, plan_id: str, version: int, document: dict[str, Any], source_text: str, created_by: str
    ) -> StoredPlanVersion:
        row = (
            await self.session.execute(
                plan_versions.insert()
                .values(
                    plan_id=plan_id,
                    version=version,
                    document=document,
                    source_text=source_text,
                    created_by=created_by,
                )
                .returning(*plan_versions.c)
            )
        ).one()
        return _plan_version(row)


class SqlPayees(Payees):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def lock_hierarchy(self) -> None:
        await self.session.execute(sa.text("LOCK TABLE payees IN SHARE ROW EXCLUSIVE MODE"))

    @override
    async def links(self) -> list[PayeeLink]:
        rows = (
            await self.session.execute(
                sa.select(payees.c.id, payees.c.manager, payees.c.crm_ids).order_by(payees.c.id)
            )
        ).all()
        return [PayeeLink(r.id, r.manager, tuple(r.crm_ids)) for r in rows]

    @override
    async def managers(self) -> dict[str, str | None]:
        rows = (await self.session.execute(sa.select(payees.c.id, payees.c.manager))).all()
        return {r.id: r.manager for r in rows}

    @override
    async def exists(self, payee_id: str) -> bool:
        row = (await self.session.execute(sa.select(payees.c.id).where(payees.c.id == payee_id))).first()
        return row is not None

    @override
    async def document(self, payee_id: str) -> dict[str, Any] | None:
        document: dict[str, Any] | None = (
            await self.session.execute(sa.select(payees.c.document).where(payees.c.id == payee_id))
        ).scalar()
        return document

    @override
    async def documents(self) -> list[dict[str, Any]]:
        rows = (await self.session.execute(sa.select(payees.c.document).order_by(payees.c.id))).scalars()
        return list(rows)

    @override
    async def put(
        self, payee_id: str, document: dict[str, Any], manager: str | None, crm_ids: list[str]
    ) -> None:
        await self.session.execute(
            insert(payees)
            .values(id=payee_id, document=document, manager=manager, crm_ids=crm_ids)
            .on_conflict_do_update(
                index_elements=[payees.c.id],
                set_={
                    "document": document,
                    "manager": manager,
                    "crm_ids": crm_ids,
                    "updated_at": sa.func.now(),
                },
            )
        )


class SqlQuotas(Quotas):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def get(self, payee: str, period: str, *, for_update: bool = False) -> Quota | None:
        query = sa.select(quotas.c.amount).where(quotas.c.payee == payee, quotas.c.period == period)
        if for_update:
            query = query.with_for_update()
        amount = (await self.session.execute(query)).scalar()
        return None if amount is None else Quota(payee, period, Decimal(amount))

    @override
    async def find(self, payee: str | None = None) -> list[Quota]:
        query = sa.select(quotas).order_by(quotas.c.payee, quotas.c.period)
        if payee is not None:
            query = query.where(quotas.c.payee == payee)
        return [
            Quota(r.payee, r.period, Decimal(r.amount)) for r in (await self.session.execute(query)).all()
        ]

    @override
    async def put(self, quota: Quota) -> None:
        await self.session.execute(
            insert(quotas)
            .values(payee=quota.payee, period=quota.period, amount=quota.amount)
            .on_conflict_do_update(
                index_elements=[quotas.c.payee, quotas.c.period],
                set_={"amount": quota.amount, "updated_at": sa.func.now()},
            )
        )


class SqlFxRates(FxRates):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def get(self, day: date, source: str, target: str, *, for_update: bool = False) -> FxRate | None:
        query = sa.select(fx_rates.c.rate).where(
            fx_rates.c.day == day, fx_rates.c.from_currency == source, fx_rates.c.to_currency == target
        )
        if for_update:
            query = query.with_for_update()
        rate = (await self.session.execute(query)).scalar()
        return None if rate is None else FxRate(day, source, target, Decimal(rate))

    @override
    async def all_rates(self) -> list[FxRate]:
        rows = (
            await self.session.execute(sa.select(fx_rates).order_by(fx_rates.c.day, fx_rates.c.from_currency))
        ).all()
        return [FxRate(r.day, r.from_currency, r.to_currency, Decimal(r.rate)) for r in rows]

    @override
    async def put(self, rate: FxRate) -> None:
        await self.session.execute(
            insert(fx_rates)
            .values(day=rate.day, from_currency=rate.source, to_currency=rate.target, rate=rate.rate)
            .on_conflict_do_update(
                index_elements=[fx_rates.c.day, fx_rates.c.from_currency, fx_rates.c.to_currency],
                set_={"rate": rate.rate, "updated_at": sa.func.now()},
            )
        )


class SqlCredits(Credits):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def get(self, deal: str, payee: str) -> Credit | None:
        row = (
            await self.session.execute(
                sa.select(credits).where(credits.c.deal == deal, credits.c.payee == payee)
            )
        ).first()
        return None if row is None else _credit(row)

    @override
    async def keep_latest(self, credit: Credit) -> None:
        values = {
            "revision": credit.revision,
            "amount": credit.amount,
            "currency": credit.currency,
            "status": credit.status,
            "close_date": credit.close_date,
        }
        await self.session.execute(
            insert(credits)
            .values(deal=credit.deal, payee=credit.payee, **values)
            .on_conflict_do_update(
                index_elements=[credits.c.deal, credits.c.payee],
                set_=values,
                where=credits.c.revision <= sa.literal(credit.revision),
            )
        )

    @override
    async def won(self, payees: Collection[str], first: date, last: date) -> list[Credit]:
        rows = (
            await self.session.execute(
                sa.select(credits)
                .where(
                    credits.c.payee.in_(list(payees)),
                    credits.c.status == "won",
                    credits.c.close_date.between(first, last),
                )
                .order_by(credits.c.deal, credits.c.payee)
            )
        ).all()
        return [_credit(row) for row in rows]


def _credit(row: Any) -> Credit:
    return Credit(
        row.deal, row.payee, row.revision, Decimal(row.amount), row.currency, row.status, row.close_date
    )


def _upsert(table: sa.Table, keys: dict[str, Any], values: dict[str, Any]) -> Any:
    return (
        insert(table)
        .values(**keys, **values)
        .on_conflict_do_update(
            index_elements=[table.c[k] for k in keys], set_={**values, "updated_at": sa.func.now()}
        )
    )


class SqlTeams(Teams):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def get(self, team_id: str, *, for_update: bool = False) -> Team | None:
        query = sa.select(teams.c.document).where(teams.c.id == team_id)
        if for_update:
            query = query.with_for_update()
        document = (await self.session.execute(query)).scalar()
        return None if document is None else Team.from_document(document)

    @override
    async def all(self) -> list[Team]:
        rows = (await self.session.execute(sa.select(teams.c.document).order_by(teams.c.id))).scalars()
        return [Team.from_document(document) for document in rows]

    @override
    async def put(self, team: Team) -> None:
        await self.session.execute(_upsert(teams, {"id": team.id}, {"document": team.document()}))


class SqlTerritories(Territories):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def get(self, territory_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
        query = sa.select(territories.c.document).where(territories.c.id == territory_id)
        if for_update:
            query = query.with_for_update()
        document: dict[str, Any] | None = (await self.session.execute(query)).scalar()
        return document

    @override
    async def all(self) -> list[dict[str, Any]]:
        query = sa.select(territories.c.document).order_by(territories.c.id)
        return list((await self.session.execute(query)).scalars())

    @override
    async def put(self, territory_id: str, document: dict[str, Any]) -> None:
        await self.session.execute(_upsert(territories, {"id": territory_id}, {"document": document}))


class SqlTargets(Targets):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def get(self, subject: str, kpi: str, period: str, *, for_update: bool = False) -> Target | None:
        query = sa.select(targets.c.value).where(
            targets.c.subject == subject, targets.c.kpi == kpi, targets.c.period == period
        )
        if for_update:
            query = query.with_for_update()
        value = (await self.session.execute(query)).scalar()
        return None if value is None else Target(subject, kpi, period, Decimal(value))

    @override
    async def find(self, subjects: Collection[str] | None = None, kpi: str | None = None) -> list[Target]:
        query = sa.select(targets).order_by(targets.c.subject, targets.c.kpi, targets.c.period)
        if subjects is not None:
            query = query.where(targets.c.subject.in_(list(subjects)))
        if kpi is not None:
            query = query.where(targets.c.kpi == kpi)
        rows = (await self.session.execute(query)).all()
        return [Target(r.subject, r.kpi, r.period, Decimal(r.value)) for r in rows]

    @override
    async def put(self, target: Target) -> None:
        keys = {"subject": target.subject, "kpi": target.kpi, "period": target.period}
        await self.session.execute(_upsert(targets, keys, {"value": target.value}))


class SqlDeals(Deals):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def current(self, key: str, *, for_update: bool = False) -> dict[str, Any] | None:
        query = sa.select(deals.c.document).where(deals.c.key == key)
        if for_update:
            query = query.with_for_update()
        document: dict[str, Any] | None = (await self.session.execute(query)).scalar()
        return document

    @override
    async def put(
        self,
        key: str,
        document: dict[str, Any],
        people: list[str],
        created_day: date | None,
        close_day: date | None,
    ) -> None:
        values = {
            "revision": document["revision"],
            "document": document,
            "people": people,
            "created_day": created_day,
            "close_day": close_day,
        }
        await self.session.execute(
            insert(deals)
            .values(key=key, **values)
            .on_conflict_do_update(index_elements=[deals.c.key], set_=values)
        )

    @override
    async def touching(
        self, first: date, last: date, people: Collection[str] | None = None
    ) -> list[dict[str, Any]]:
        query = (
            sa.select(deals.c.document)
            .where(sa.or_(deals.c.created_day.between(first, last), deals.c.close_day.between(first, last)))
            .order_by(deals.c.key)
        )
        if people is not None:
            query = query.where(deals.c.people.overlap(sa.cast(list(people), ARRAY(sa.Text))))
        return list((await self.session.execute(query)).scalars())


class SqlActivities(Activities):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def add(self, key: str, document: dict[str, Any], owner: str, day: date) -> bool:
        added = await self.session.execute(
            insert(activities)
            .values(key=key, document=document, owner=owner, day=day)
            .on_conflict_do_nothing()
            .returning(activities.c.key)
        )
        return added.first() is not None

    @override
    async def between(
        self, first: date, last: date, owners: Collection[str] | None = None
    ) -> list[dict[str, Any]]:
        query = (
            sa.select(activities.c.document)
            .where(activities.c.day.between(first, last))
            .order_by(activities.c.key)
        )
        if owners is not None:
            query = query.where(activities.c.owner.in_(list(owners)))
        return list((await self.session.execute(query)).scalars())


class SqlCommissions(Commissions):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def add(self, entry: Commission) -> bool:
        added = await self.session.execute(
            insert(commissions)
            .values(
                entry_id=entry.entry_id,
                payee=entry.payee,
                entry_date=entry.entry_date,
                amount=entry.amount,
                currency=entry.currency,
            )
            .on_conflict_do_nothing()
            .returning(commissions.c.entry_id)
        )
        return added.first() is not None

    @override
    async def between(
        self, first: date, last: date, payees: Collection[str] | None = None
    ) -> list[Commission]:
        query = (
            sa.select(commissions)
            .where(commissions.c.entry_date.between(first, last))
            .order_by(commissions.c.entry_id)
        )
        if payees is not None:
            query = query.where(commissions.c.payee.in_(list(payees)))
        rows = (await self.session.execute(query)).all()
        return [Commission(r.entry_id, r.payee, r.entry_date, Decimal(r.amount), r.currency) for r in rows]


def sql_repositories(session: AsyncSession) -> QuotaRepositories:
    """The repositories of one SQL unit of work."""
    return QuotaRepositories(
        plans=SqlPlanVersions(session),
        payees=SqlPayees(session),
        quotas=SqlQuotas(session),
        fx_rates=SqlFxRates(session),
        credits=SqlCredits(session),
        teams=SqlTeams(session),
        territories=SqlTerritories(session),
        targets=SqlTargets(session),
        deals=SqlDeals(session),
        activities=SqlActivities(session),
        commissions=SqlCommissions(session),
    )
