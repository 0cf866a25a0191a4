"""One conformance suite per repository of quota-service, run against the in-memory fakes
(`quota_fakes`) and the SQL implementations on the real embedded Postgres, so the fakes
the unit tests use cannot drift from the database.

The Postgres database is shared by the whole module (migrated once); every test uses keys
of its own.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from quota_fakes import fake_store, fake_uow

from provisio_common.embedded import EmbeddedPostgres
from provisio_common.testing.plugin import CreateDb, migrated_units_of_work, sql_or_fake
from provisio_common.uow import SqlUnitOfWork
from quota_service.adapters.repositories import sql_repositories
from quota_service.adapters.tables import shared
from quota_service.bootstrap import MIGRATIONS
from quota_service.domain.credits import Commission, Credit
from quota_service.domain.fx import FxRate
from quota_service.domain.payees import PayeeLink
from quota_service.domain.quotas import Quota
from quota_service.domain.targets import Target
from quota_service.domain.teams import Membership, Team
from quota_service.service_layer.changes import QuotaUoW

NewUoW = Callable[[], QuotaUoW]
_serial = itertools.count(1)


@pytest.fixture(scope="module")
async def sql_uow(module_db: CreateDb, embedded_pg: EmbeddedPostgres) -> AsyncIterator[NewUoW]:
    async with migrated_units_of_work(
        embedded_pg,
        module_db,
        "quota_repos",
        migrations=MIGRATIONS,
        tables=shared,
        repositories=sql_repositories,
        source="quota-service",
    ) as units:
        yield units


@pytest.fixture(params=["memory", "sql"])
def new_uow(request: pytest.FixtureRequest) -> NewUoW:
    store = fake_store()
    return sql_or_fake(request, "sql_uow", lambda: fake_uow(store))


@pytest.fixture
def key() -> str:
    """A prefix no other test of the module uses (lower case: ordering is the same
    under any collation)."""
    return f"k{next(_serial):04d}"


def unique_day() -> date:
    return date(2100, 1, 1) + timedelta(days=10 * next(_serial))


class TestPlanVersions:
    async def test_added_versions_are_read_back_latest_first(self, new_uow: NewUoW, key: str) -> None:
        plan = f"{key}-plan"
        document: dict[str, Any] = {"id": plan, "components": [{"rate": "0.10", "tiers": None}]}
        async with new_uow() as uow:
            await uow.repos.plans.lock(plan)
            assert await uow.repos.plans.latest(plan) is None
            first = await uow.repos.plans.add(plan, 1, document, "id: x\n", "ada")
            second = await uow.repos.plans.add(plan, 2, {**document, "currency": "EUR"}, "y", "bob")
            await uow.commit()
        assert (first.plan_id, first.version, first.document, first.source_text, first.created_by) == (
            plan,
            1,
            document,
            "id: x\n",
            "ada",
        )
        assert first.created_at.tzinfo is not None
        async with new_uow() as uow:
            latest = await uow.repos.plans.latest(plan)
            assert latest == second and latest.document["currency"] == "EUR"
            assert await uow.repos.plans.version(plan, 1) == first
            assert await uow.repos.plans.version(plan, 3) is None

    async def test_latest_of_each_gives_every_plan_once_at_its_newest_version(
        self, new_uow: NewUoW, key: str
    ) -> None:
        async with new_uow() as uow:
            for plan, versions in ((f"{key}-b", 3), (f"{key}-a", 1)):
                for version in range(1, versions + 1):
                    await uow.repos.plans.add(plan, version, {"v": version}, "", "ada")
            await uow.commit()
        async with new_uow() as uow:
            mine = [p for p in await uow.repos.plans.latest_of_each() if p.plan_id.startswith(key)]
        assert [(p.plan_id, p.version, p.document) for p in mine] == [
            (f"{key}-a", 1, {"v": 1}),
            (f"{key}-b", 3, {"v": 3}),
        ]

    async def test_a_version_not_committed_is_not_kept(self, new_uow: NewUoW, key: str) -> None:
        async with new_uow() as uow:
            await uow.repos.plans.add(f"{key}-gone", 1, {}, "", "ada")
        async with new_uow() as uow:
            assert await uow.repos.plans.latest(f"{key}-gone") is None


class TestPayees:
    async def test_a_put_payee_is_read_back_whole(self, new_uow: NewUoW, key: str) -> None:
        boss, ann = f"{key}-boss", f"{key}-ann"
        document: dict[str, Any] = {
            "id": ann,
            "name": "Ann",
            "manager": boss,
            "assignments": [{"plan": "ae", "valid_from": "2027-01-01", "valid_to": None}],
            "active": True,
        }
        async with new_uow() as uow:
            await uow.repos.payees.lock_hierarchy()
            assert not await uow.repos.payees.exists(ann)
            await uow.repos.payees.put(boss, {"id": boss}, None, [])
            await uow.repos.payees.put(ann, document, boss, [f"hubspot:{key}", f"generic:{key}"])
            await uow.commit()
        async with new_uow() as uow:
            assert await uow.repos.payees.exists(ann)
            assert await uow.repos.payees.document(ann) == document
            assert await uow.repos.payees.document(f"{key}-nobody") is None
            links = [link for link in await uow.repos.payees.links() if link.id.startswith(key)]
            managers = await uow.repos.payees.managers()
            documents = [d for d in await uow.repos.payees.documents() if d["id"].startswith(key)]
        assert links == [
            PayeeLink(ann, boss, (f"hubspot:{key}", f"generic:{key}")),
            PayeeLink(boss, None, ()),
        ]
        assert (managers[ann], managers[boss]) == (boss, None)
        assert documents == [document, {"id": boss}]

    async def test_a_put_replaces_document_manager_and_crm_ids(self, new_uow: NewUoW, key: str) -> None:
        ann = f"{key}-ann"
        async with new_uow() as uow:
            await uow.repos.payees.put(ann, {"id": ann, "v": 1}, "x", [f"hubspot:{key}"])
            await uow.commit()
        async with new_uow() as uow:
            await uow.repos.payees.lock_hierarchy()
            await uow.repos.payees.put(ann, {"id": ann, "v": 2}, None, [])
            await uow.commit()
        async with new_uow() as uow:
            assert await uow.repos.payees.document(ann) == {"id": ann, "v": 2}
            assert [link for link in await uow.repos.payees.links() if link.id == ann] == [
                PayeeLink(ann, None, ())
            ]
            assert (await uow.repos.payees.managers())[ann] is None


class TestQuotas:
    async def test_a_put_quota_is_read_back_with_its_exact_amount(self, new_uow: NewUoW, key: str) -> None:
        quota = Quota(f"{key}-ann", "2027-Q1", Decimal("150000.50"))
        async with new_uow() as uow:
            assert await uow.repos.quotas.get(quota.payee, quota.period, for_update=True) is None
            await uow.repos.quotas.put(quota)
            await uow.commit()
        async with new_uow() as uow:
            got = await uow.repos.quotas.get(quota.payee, quota.period)
            assert got == quota and got is not None and str(got.amount) == "150000.50"
            assert await uow.repos.quotas.get(quota.payee, "2027-Q2") is None

    async def test_a_put_replaces_the_amount(self, new_uow: NewUoW, key: str) -> None:
        async with new_uow() as uow:
            await uow.repos.quotas.put(Quota(f"{key}-ann", "2027", Decimal("1")))
            await uow.commit()
        async with new_uow() as uow:
            held = await uow.repos.quotas.get(f"{key}-ann", "2027", for_update=True)
            assert held is not None and held.amount == Decimal("1")
            await uow.repos.quotas.put(Quota(f"{key}-ann", "2027", Decimal("2")))
            await uow.commit()
        async with new_uow() as uow:
            assert await uow.repos.quotas.get(f"{key}-ann", "2027") == Quota(
                f"{key}-ann", "2027", Decimal("2")
            )

    async def test_quotas_are_found_by_payee_and_period(self, new_uow: NewUoW, key: str) -> None:
        rows = [(f"{key}-bob", "2027"), (f"{key}-ann", "2027-Q2"), (f"{key}-ann", "2027-Q1")]
        async with new_uow() as uow:
            for payee, period in rows:
                await uow.repos.quotas.put(Quota(payee, period, Decimal("10")))
            await uow.commit()
        async with new_uow() as uow:
            everyone = [(q.payee, q.period) for q in await uow.repos.quotas.find() if q.payee.startswith(key)]
            ann = [q.period for q in await uow.repos.quotas.find(f"{key}-ann")]
        assert everyone == sorted(rows)
        assert ann == ["2027-Q1", "2027-Q2"]


class TestFxRates:
    async def test_a_put_rate_is_read_back_and_replaced(self, new_uow: NewUoW) -> None:
        day = unique_day()
        async with new_uow() as uow:
            assert await uow.repos.fx_rates.get(day, "EUR", "USD", for_update=True) is None
            await uow.repos.fx_rates.put(FxRate(day, "EUR", "USD", Decimal("1.0825")))
            await uow.commit()
        async with new_uow() as uow:
            held = await uow.repos.fx_rates.get(day, "EUR", "USD", for_update=True)
            assert held == FxRate(day, "EUR", "USD", Decimal("1.0825"))
            assert await uow.repos.fx_rates.get(day, "USD", "EUR") is None
            await uow.repos.fx_rates.put(FxRate(day, "EUR", "USD", Decimal("1.09")))
            await uow.commit()
        async with new_uow() as uow:
            assert await uow.repos.fx_rates.get(day, "EUR", "USD") == FxRate(
                day, "EUR", "USD", Decimal("1.09")
            )

    async def test_rates_are_listed_by_day_then_source(self, new_uow: NewUoW) -> None:
        first = unique_day()
        later = first + timedelta(days=1)
        rates = [
            FxRate(later, "EUR", "USD", Decimal("1.1")),
            FxRate(first, "GBP", "USD", Decimal("1.3")),
            FxRate(first, "EUR", "USD", Decimal("1.08")),
        ]
        async with new_uow() as uow:
            for rate in rates:
                await uow.repos.fx_rates.put(rate)
            await uow.commit()
        async with new_uow() as uow:
            mine = [r for r in await uow.repos.fx_rates.all_rates() if first <= r.day <= later]
        assert mine == [rates[2], rates[1], rates[0]]


def credit(
    key: str,
    deal: str,
    revision: int,
    amount: str,
    *,
    payee: str = "ann",
    status: str = "won",
    currency: str = "USD",
    close_date: date | None = date(2027, 2, 10),
) -> Credit:
    return Credit(f"{key}-{deal}", f"{key}-{payee}", revision, Decimal(amount), currency, status, close_date)


class TestCredits:
    async def test_a_credit_is_replaced_by_the_same_or_a_newer_revision_only(
        self, new_uow: NewUoW, key: str
    ) -> None:
        async with new_uow() as uow:
            await uow.repos.credits.keep_latest(credit(key, "d1", 2, "200"))
            await uow.commit()
        for revision, amount in ((1, "100"), (2, "210"), (3, "300"), (2, "999")):
            async with new_uow() as uow:
                await uow.repos.credits.keep_latest(credit(key, "d1", revision, amount, status="lost"))
                await uow.commit()
        async with new_uow() as uow:
            assert await uow.repos.credits.get(f"{key}-d1", f"{key}-ann") == credit(
                key, "d1", 3, "300", status="lost"
            )
            assert await uow.repos.credits.get(f"{key}-d1", f"{key}-bob") is None

    async def test_won_gives_the_won_credits_of_the_payees_closing_in_the_range(
        self, new_uow: NewUoW, key: str
    ) -> None:
        kept = [
            credit(key, "in", 1, "250.25"),
            credit(key, "first-day", 1, "100", close_date=date(2027, 1, 1)),
            credit(key, "last-day", 1, "50", close_date=date(2027, 3, 31), currency="EUR"),
            credit(key, "lost", 1, "999", status="lost"),
            credit(key, "after", 1, "999", close_date=date(2027, 4, 1)),
            credit(key, "undated", 1, "999", close_date=None),
            credit(key, "bob", 1, "7", payee="bob"),
            credit(key, "cy", 1, "999", payee="cy"),
        ]
        async with new_uow() as uow:
            for one in kept:
                await uow.repos.credits.keep_latest(one)
            await uow.commit()
        async with new_uow() as uow:
            found = await uow.repos.credits.won(
                [f"{key}-ann", f"{key}-bob"], date(2027, 1, 1), date(2027, 3, 31)
            )
            nothing = await uow.repos.credits.won([f"{key}-zed"], date(2027, 1, 1), date(2027, 3, 31))
        assert found == [kept[6], kept[1], kept[0], kept[2]]
        assert str(found[2].amount) == "250.25"
        assert nothing == []


class TestTeams:
    async def test_a_put_team_is_read_back_whole_and_replaced(self, new_uow: NewUoW, key: str) -> None:
        team = Team(
            f"{key}-east",
            "East",
            f"{key}-boss",
            (
                Membership(f"{key}-ann", date(2027, 1, 1), date(2027, 3, 31)),
                Membership(f"{key}-bob", None, None),
            ),
            ("emea",),
        )
        async with new_uow() as uow:
            assert await uow.repos.teams.get(team.id, for_update=True) is None
            await uow.repos.teams.put(team)
            await uow.repos.teams.put(Team(f"{key}-aaa", "A", f"{key}-boss", (), ()))
            await uow.commit()
        async with new_uow() as uow:
            assert await uow.repos.teams.get(team.id) == team
            mine = [t.id for t in await uow.repos.teams.all() if t.id.startswith(key)]
            assert mine == [f"{key}-aaa", team.id]
            await uow.repos.teams.put(Team(team.id, "East 2", f"{key}-boss", (), ()))
            await uow.commit()
        async with new_uow() as uow:
            again = await uow.repos.teams.get(team.id)
            assert again is not None and (again.name, again.members) == ("East 2", ())


class TestTerritories:
    async def test_a_put_territory_is_read_back_and_listed_by_id(self, new_uow: NewUoW, key: str) -> None:
        document = {"id": f"{key}-emea", "name": "EMEA", "values": ["DE", "FR"]}
        async with new_uow() as uow:
            assert await uow.repos.territories.get(f"{key}-emea", for_update=True) is None
            await uow.repos.territories.put(f"{key}-emea", document)
            await uow.repos.territories.put(
                f"{key}-apac", {"id": f"{key}-apac", "name": "APAC", "values": []}
            )
            await uow.commit()
        async with new_uow() as uow:
            assert await uow.repos.territories.get(f"{key}-emea") == document
            mine = [d["id"] for d in await uow.repos.territories.all() if d["id"].startswith(key)]
        assert mine == [f"{key}-apac", f"{key}-emea"]


class TestTargets:
    async def test_targets_are_read_back_exactly_replaced_and_found(self, new_uow: NewUoW, key: str) -> None:
        ann, team = f"payee:{key}-ann", f"team:{key}-east"
        rows = [
            Target(team, "revenue", "2027-Q1", Decimal("300000.50")),
            Target(ann, "win_rate", "2027-Q1", Decimal("0.25")),
            Target(ann, "calls", "2027-01", Decimal("100")),
        ]
        async with new_uow() as uow:
            assert await uow.repos.targets.get(ann, "calls", "2027-01", for_update=True) is None
            for row in rows:
                await uow.repos.targets.put(row)
            await uow.commit()
        async with new_uow() as uow:
            got = await uow.repos.targets.get(team, "revenue", "2027-Q1")
            assert got == rows[0] and got is not None and str(got.value) == "300000.50"
            await uow.repos.targets.put(Target(ann, "calls", "2027-01", Decimal("120")))
            await uow.commit()
        async with new_uow() as uow:
            both = await uow.repos.targets.find([ann, team])
            calls = await uow.repos.targets.find([ann], "calls")
        assert both == [Target(ann, "calls", "2027-01", Decimal("120")), rows[1], rows[0]]
        assert calls == [Target(ann, "calls", "2027-01", Decimal("120"))]


def snapshot(key: str, n: int, **fields: Any) -> dict[str, Any]:
    return {"source": "hubspot", "external_id": f"{key}-{n}", "revision": 1, **fields}


class TestDeals:
    async def test_a_deal_is_held_replaced_and_found_by_day_and_people(
        self, new_uow: NewUoW, key: str
    ) -> None:
        rows = [
            (f"h:{key}-1", snapshot(key, 1), [f"{key}-ann"], date(2027, 1, 5), None),
            (f"h:{key}-2", snapshot(key, 2), [f"{key}-bob", f"hubspot:{key}"], None, date(2027, 3, 31)),
            (f"h:{key}-3", snapshot(key, 3), [f"{key}-ann"], date(2026, 12, 1), date(2027, 4, 1)),
        ]
        async with new_uow() as uow:
            assert await uow.repos.deals.current(rows[0][0], for_update=True) is None
            for row in rows:
                await uow.repos.deals.put(*row)
            await uow.commit()
        async with new_uow() as uow:
            assert await uow.repos.deals.current(rows[0][0]) == rows[0][1]
            await uow.repos.deals.put(
                rows[0][0], {**rows[0][1], "revision": 2}, [f"{key}-ann"], date(2027, 1, 5), None
            )
            await uow.commit()
        first, last = date(2027, 1, 1), date(2027, 3, 31)
        async with new_uow() as uow:
            held = await uow.repos.deals.current(rows[0][0])
            everyone = [
                d["external_id"]
                for d in await uow.repos.deals.touching(first, last)
                if key in d["external_id"]
            ]
            named = await uow.repos.deals.touching(first, last, [f"hubspot:{key}", f"{key}-zed"])
            nobody = await uow.repos.deals.touching(first, last, [f"{key}-zed"])
        assert held is not None and held["revision"] == 2
        assert everyone == [f"{key}-1", f"{key}-2"]
        assert [d["external_id"] for d in named] == [f"{key}-2"] and nobody == []


class TestActivities:
    async def test_an_activity_is_kept_once_and_found_by_day_and_owner(
        self, new_uow: NewUoW, key: str
    ) -> None:
        async with new_uow() as uow:
            assert await uow.repos.activities.add(f"h:{key}-1", {"n": 1}, f"{key}-ann", date(2027, 1, 1))
            assert not await uow.repos.activities.add(f"h:{key}-1", {"n": 2}, f"{key}-bob", date(2027, 1, 2))
            assert await uow.repos.activities.add(f"h:{key}-2", {"n": 3}, f"hubspot:{key}", date(2027, 3, 31))
            assert await uow.repos.activities.add(f"h:{key}-3", {"n": 4}, f"{key}-ann", date(2027, 4, 1))
            await uow.commit()
        first, last = date(2027, 1, 1), date(2027, 3, 31)
        async with new_uow() as uow:
            mine = await uow.repos.activities.between(first, last, [f"{key}-ann", f"hubspot:{key}"])
            ann = await uow.repos.activities.between(first, last, [f"{key}-ann"])
        assert mine == [{"n": 1}, {"n": 3}] and ann == [{"n": 1}]


class TestCommissions:
    async def test_an_entry_is_kept_once_and_found_by_day_and_payee(self, new_uow: NewUoW, key: str) -> None:
        entries = [
            Commission(f"{key}-1", f"{key}-ann", date(2027, 1, 1), Decimal("10.125"), "USD"),
            Commission(f"{key}-2", f"{key}-ann", date(2027, 4, 1), Decimal("5"), "USD"),
            Commission(f"{key}-3", f"{key}-bob", date(2027, 3, 31), Decimal("-2"), "EUR"),
        ]
        async with new_uow() as uow:
            for entry in entries:
                assert await uow.repos.commissions.add(entry)
            assert not await uow.repos.commissions.add(entries[0])
            await uow.commit()
        first, last = date(2027, 1, 1), date(2027, 3, 31)
        async with new_uow() as uow:
            both = await uow.repos.commissions.between(first, last, [f"{key}-ann", f"{key}-bob"])
            everyone = [
                e for e in await uow.repos.commissions.between(first, last) if e.payee.startswith(key)
            ]
        assert both == [entries[0], entries[2]] == everyone
        assert str(both[0].amount) == "10.125"


class TestSqlLocks:
    """What only Postgres can show: the locks writers take."""

    async def test_hierarchy_and_plan_locks_are_held_until_the_transaction_ends(
        self, sql_uow: NewUoW
    ) -> None:
        async with sql_uow() as uow:
            assert isinstance(uow, SqlUnitOfWork)
            await uow.repos.payees.lock_hierarchy()
            await uow.repos.plans.lock("some-plan")
            held = (
                await uow.session.execute(
                    sa.text(
                        "SELECT locktype, mode FROM pg_locks WHERE pid = pg_backend_pid() "
                        "AND (relation = 'payees'::regclass OR locktype = 'advisory') ORDER BY locktype"
                    )
                )
            ).all()
            assert [tuple(row) for row in held] == [
                ("advisory", "ExclusiveLock"),
                ("relation", "ShareRowExclusiveLock"),
            ]

    async def test_a_second_hierarchy_writer_waits_for_the_first(self, sql_uow: NewUoW) -> None:
        async with sql_uow() as first:
            await first.repos.payees.lock_hierarchy()

            async def second_writer() -> None:
                async with sql_uow() as second:
                    await second.repos.payees.lock_hierarchy()

            waiting = asyncio.create_task(second_writer())
            await asyncio.sleep(0.3)
            assert not waiting.done()
            await first.commit()
        await asyncio.wait_for(waiting, 5)
