"""The repositories of quota-service: the ports the service layer uses, their SQL
implementations, and the bundle a unit of work carries (`uow.repos`).

The in-memory implementations live with the tests (`tests/quota_fakes.py`); both pass
the same conformance suite (`tests/integration/test_repository_conformance.py`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession
from typing_extensions import override

from quota_service.adapters.tables import credits, fx_rates, payees, plan_versions, quotas
from quota_service.domain.credits import Credit
from quota_service.domain.fx import FxRate
from quota_service.domain.payees import PayeeLink
from quota_service.domain.plans import StoredPlanVersion
from quota_service.domain.quotas import Quota

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
    async def won_value(self, payee: str, first: date, last: date) -> Decimal:
        """The amount credited to `payee` on won deals closing between `first` and `last`."""


@dataclass
class QuotaRepositories:
    """What `uow.repos` holds in quota-service."""

    plans: PlanVersions
    payees: Payees
    quotas: Quotas
    fx_rates: FxRates
    credits: Credits


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
        if row is None:
            return None
        return Credit(
            row.deal, row.payee, row.revision, Decimal(row.amount), row.currency, row.status, row.close_date
        )

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
    async def won_value(self, payee: str, first: date, last: date) -> Decimal:
        value = (
            await self.session.execute(
                sa.select(sa.func.coalesce(sa.func.sum(credits.c.amount), 0)).where(
                    credits.c.payee == payee,
                    credits.c.status == "won",
                    credits.c.close_date.between(first, last),
                )
            )
        ).scalar_one()
        return Decimal(value)


def sql_repositories(session: AsyncSession) -> QuotaRepositories:
    """The repositories of one SQL unit of work."""
    return QuotaRepositories(
        plans=SqlPlanVersions(session),
        payees=SqlPayees(session),
        quotas=SqlQuotas(session),
        fx_rates=SqlFxRates(session),
        credits=SqlCredits(session),
    )
