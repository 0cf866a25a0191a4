"""One conformance suite per repository of payout-service, run against the in-memory
fakes (`payout_fakes`) and the SQL implementations on the real embedded Postgres, so the
fakes the unit tests use cannot drift from what production does.

The Postgres database is migrated once per module; each test uses its own keys.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from payout_fakes import fake_store, fake_uow, ledger_record

from payout_service.adapters.repositories import sql_repositories
from payout_service.adapters.tables import shared
from payout_service.bootstrap import MIGRATIONS
from payout_service.domain.payees import Payee
from payout_service.domain.statements import LedgerEntry
from payout_service.service_layer import PayoutUoW
from payout_service.service_layer.handlers import ledger_entry
from provisio_common.embedded import EmbeddedPostgres
from provisio_common.testing.plugin import CreateDb, migrated_units_of_work, sql_or_fake

UoWFactory = Callable[[], PayoutUoW]


@pytest.fixture(scope="module")
async def sql_uow(module_db: CreateDb, embedded_pg: EmbeddedPostgres) -> AsyncIterator[UoWFactory]:
    async with migrated_units_of_work(
        embedded_pg,
        module_db,
        "payout",
        migrations=MIGRATIONS,
        tables=shared,
        repositories=sql_repositories,
        source="payout-service",
    ) as units:
        yield units


@pytest.fixture(params=["sql", "fake"])
def uow(request: pytest.FixtureRequest) -> UoWFactory:
    store = fake_store()
    return sql_or_fake(request, "sql_uow", lambda: fake_uow(store))


@pytest.fixture
def key() -> str:
    """A prefix no other test uses (the Postgres database is shared by the module)."""
    return uuid.uuid4().hex[:8]


def entry(entry_id: str, payee: str, **fields: object) -> LedgerEntry:
    return ledger_entry(ledger_record(entry_id, payee, **fields))


class TestLedgerEntries:
    async def test_an_added_entry_reads_back_with_every_field(self, uow: UoWFactory, key: str) -> None:
        stored = entry(
            f"{key}-e1",
            f"{key}-ann",
            amount="125.555000",
            cash=False,
            deal=None,
            rounding="half_even",
            explanation={"rate": "0.10", "deal_credit": {"deal": "generic:D-1", "share": "1"}, "n": 3},
        )
        async with uow() as work:
            assert await work.repos.ledger.add(stored)
            await work.commit()
        async with uow() as work:
            assert await work.repos.ledger.by_payee(f"{key}-ann") == [stored]
            [read] = await work.repos.ledger.by_payee_and_pay_period(f"{key}-ann", "2027-02")
        assert str(read.amount) == "125.555000" and read.posted_at == stored.posted_at

    async def test_an_entry_id_is_stored_once_and_the_first_copy_stays(
        self, uow: UoWFactory, key: str
    ) -> None:
        first = entry(f"{key}-e1", f"{key}-ann", amount="125")
        async with uow() as work:
            assert await work.repos.ledger.add(first)
            assert not await work.repos.ledger.add(replace(first, amount=Decimal("1")))
            await work.commit()
        async with uow() as work:
            assert not await work.repos.ledger.add(replace(first, amount=Decimal("999")))
            await work.commit()
        async with uow() as work:
            assert await work.repos.ledger.by_payee(f"{key}-ann") == [first]

    async def test_entries_of_a_payee_come_by_date_then_id_and_only_theirs(
        self, uow: UoWFactory, key: str
    ) -> None:
        ann, bob = f"{key}-ann", f"{key}-bob"
        late = entry(f"{key}-a", ann, entry_date="2027-02-20")
        b = entry(f"{key}-b", ann)
        c = entry(f"{key}-c", ann)
        march = entry(f"{key}-0", ann, pay_period="2027-03", entry_date="2027-03-01")
        other = entry(f"{key}-d", bob)
        async with uow() as work:
            for e in (march, late, c, other, b):
                await work.repos.ledger.add(e)
            await work.commit()
        async with uow() as work:
            assert await work.repos.ledger.by_payee(ann) == [b, c, late, march]
            assert await work.repos.ledger.by_payee_and_pay_period(ann, "2027-02") == [b, c, late]
            assert await work.repos.ledger.by_payee_and_pay_period(ann, "2027-03") == [march]
            assert await work.repos.ledger.by_payee_and_pay_period(bob, "2027-03") == []
            assert await work.repos.ledger.by_payee(f"{key}-nobody") == []
        assert march.entry_date == date(2027, 3, 1)

    async def test_an_entry_not_committed_is_not_stored(self, uow: UoWFactory, key: str) -> None:
        async with uow() as work:
            await work.repos.ledger.add(entry(f"{key}-e1", f"{key}-ann"))
        async with uow() as work:
            assert await work.repos.ledger.by_payee(f"{key}-ann") == []


class TestPayees:
    async def test_upsert_inserts_then_replaces_name_and_manager(self, uow: UoWFactory, key: str) -> None:
        ann = Payee(f"{key}-ann", "Ann", f"{key}-mgr")
        async with uow() as work:
            assert await work.repos.payees.get(ann.id) is None
            await work.repos.payees.upsert(ann)
            await work.commit()
        async with uow() as work:
            assert await work.repos.payees.get(ann.id) == ann
            await work.repos.payees.upsert(Payee(ann.id, "Ann Lee", None))
            await work.commit()
        async with uow() as work:
            assert await work.repos.payees.get(ann.id) == Payee(ann.id, "Ann Lee", None)

    async def test_managers_map_every_payee_to_its_manager(self, uow: UoWFactory, key: str) -> None:
        hierarchy = {f"{key}-top": None, f"{key}-mgr": f"{key}-top", f"{key}-ann": f"{key}-mgr"}
        async with uow() as work:
            for payee, manager in hierarchy.items():
                await work.repos.payees.upsert(Payee(payee, payee, manager))
            await work.commit()
        async with uow() as work:
            managers = await work.repos.payees.managers()
        assert {p: m for p, m in managers.items() if p.startswith(key)} == hierarchy

    async def test_a_payee_not_committed_is_not_stored(self, uow: UoWFactory, key: str) -> None:
        async with uow() as work:
            await work.repos.payees.upsert(Payee(f"{key}-ann", "Ann", None))
        async with uow() as work:
            assert await work.repos.payees.get(f"{key}-ann") is None
            assert f"{key}-ann" not in await work.repos.payees.managers()
