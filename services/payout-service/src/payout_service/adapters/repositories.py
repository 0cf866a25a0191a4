"""payout-service repositories: the ports (ledger entries, payees), their SQL
implementations, and the bundle a unit of work carries as `uow.repos`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from typing_extensions import override

from payout_service.adapters.tables import ledger_entries, payees
from payout_service.domain.payees import Payee
from payout_service.domain.statements import LedgerEntry

_ENTRY_FIELDS = tuple(f.name for f in fields(LedgerEntry))


class LedgerEntries(ABC):
    """The ledger replica: append-only, one row per `entry_id`."""

    @abstractmethod
    async def add(self, entry: LedgerEntry) -> bool:
        """Store an entry; False (and nothing changed) if its `entry_id` is already stored."""

    @abstractmethod
    async def by_payee(self, payee: str) -> list[LedgerEntry]:
        """Every entry of a payee, by entry date then entry id."""

    @abstractmethod
    async def by_payee_and_pay_period(self, payee: str, pay_period: str) -> list[LedgerEntry]:
        """The entries of a payee in one pay period, by entry date then entry id."""


class Payees(ABC):
    """The payee hierarchy replica (compacted `payees.v1`: the last record wins)."""

    @abstractmethod
    async def upsert(self, payee: Payee) -> None:
        """Insert the payee or replace its name and manager."""

    @abstractmethod
    async def get(self, payee_id: str) -> Payee | None:
        """One payee by id."""

    @abstractmethod
    async def managers(self) -> dict[str, str | None]:
        """Every known payee's manager (None at the top): the map access checks walk."""


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(**{name: row[name] for name in _ENTRY_FIELDS})


class SqlLedgerEntries(LedgerEntries):
    """The ledger replica in the `ledger_entries` table."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def add(self, entry: LedgerEntry) -> bool:
        values = {name: getattr(entry, name) for name in _ENTRY_FIELDS}
        stored = await self.session.execute(
            insert(ledger_entries)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(ledger_entries.c.entry_id)
        )
        return stored.first() is not None

    async def _select(self, *where: sa.ColumnElement[bool]) -> list[LedgerEntry]:
        query = (
            sa.select(ledger_entries)
            .where(*where)
            .order_by(ledger_entries.c.entry_date, ledger_entries.c.entry_id)
        )
        return [_entry(r._mapping) for r in (await self.session.execute(query)).all()]

    @override
    async def by_payee(self, payee: str) -> list[LedgerEntry]:
        return await self._select(ledger_entries.c.payee == payee)

    @override
    async def by_payee_and_pay_period(self, payee: str, pay_period: str) -> list[LedgerEntry]:
        return await self._select(ledger_entries.c.payee == payee, ledger_entries.c.pay_period == pay_period)


class SqlPayees(Payees):
    """The payee hierarchy in the `payees` table."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def upsert(self, payee: Payee) -> None:
        values = {"manager": payee.manager, "name": payee.name}
        await self.session.execute(
            insert(payees)
            .values(id=payee.id, **values)
            .on_conflict_do_update(index_elements=[payees.c.id], set_=values)
        )

    @override
    async def get(self, payee_id: str) -> Payee | None:
        row = (
            await self.session.execute(
                sa.select(payees.c.id, payees.c.name, payees.c.manager).where(payees.c.id == payee_id)
            )
        ).first()
        return None if row is None else Payee(id=row.id, name=row.name, manager=row.manager)

    @override
    async def managers(self) -> dict[str, str | None]:
        rows = (await self.session.execute(sa.select(payees.c.id, payees.c.manager))).all()
        return {r.id: r.manager for r in rows}


@dataclass
class PayoutRepositories:
    """What `uow.repos` holds in payout-service."""

    ledger: LedgerEntries
    payees: Payees


def sql_repositories(session: AsyncSession) -> PayoutRepositories:
    """The repositories on one session (the unit of work's)."""
    return PayoutRepositories(ledger=SqlLedgerEntries(session), payees=SqlPayees(session))
