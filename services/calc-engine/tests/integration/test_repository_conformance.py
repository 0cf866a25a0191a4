"""One conformance suite per calc-engine repository, run against the SQL implementation on
the real embedded Postgres (one migrated database for the module, distinct keys per test)
and against the in-memory fake of `calc_fakes`: the same assertions, so fakes cannot drift."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from calc_fakes import memory_repositories

from calc_engine.adapters.repositories import CalcRepositories, sql_repositories
from calc_engine.adapters.tables import shared
from calc_engine.bootstrap import MIGRATIONS
from calc_engine.domain.keyed import KeyedRun
from calc_engine.domain.ledger import ENGINE_DATE, LedgerEntry, PostingKey
from calc_engine.domain.model import HeldDeal, PlanException, RunScope, StoredPlan
from provisio_calc import CalcException, FxRate, Quota
from provisio_common.embedded import EmbeddedPostgres
from provisio_common.testing.fakes import FakeStore, FakeUnitOfWork
from provisio_common.testing.plugin import CreateDb, eventually, migrated_units_of_work, sql_or_fake
from provisio_common.uow import SqlUnitOfWork, UnitOfWork

CalcUoWFactory = Callable[[], UnitOfWork[CalcRepositories]]


@pytest.fixture(scope="module")
async def sql_uow(module_db: CreateDb, embedded_pg: EmbeddedPostgres) -> AsyncIterator[CalcUoWFactory]:
    async with migrated_units_of_work(
        embedded_pg,
        module_db,
        "calc_repos",
        migrations=MIGRATIONS,
        tables=shared,
        repositories=sql_repositories,
        source="calc-engine",
    ) as units:
        yield units


@pytest.fixture(params=["sql", "fake"])
def new_uow(request: pytest.FixtureRequest) -> CalcUoWFactory:
    store = FakeStore(memory_repositories())
    return sql_or_fake(request, "sql_uow", lambda: FakeUnitOfWork(store, "calc-engine"))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------------------- plans


async def test_plans_keep_each_version_once_and_give_the_latest_and_all_in_order(
    new_uow: CalcUoWFactory,
) -> None:
    plan_id = unique("plan")
    async with new_uow() as uow:
        assert await uow.repos.plans.latest(plan_id) is None
        await uow.repos.plans.add(StoredPlan(plan_id, 1, {"id": plan_id, "rate": "0.1"}))
        await uow.repos.plans.add(StoredPlan(plan_id, 2, {"id": plan_id, "rate": "0.2"}))
        await uow.repos.plans.add(StoredPlan(plan_id, 2, {"id": plan_id, "rate": "0.9"}))
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.repos.plans.latest(plan_id) == StoredPlan(plan_id, 2, {"id": plan_id, "rate": "0.2"})
        ids = await uow.repos.plans.ids()
        assert await uow.repos.plans.versions(plan_id) == [
            StoredPlan(plan_id, 1, {"id": plan_id, "rate": "0.1"}),
            StoredPlan(plan_id, 2, {"id": plan_id, "rate": "0.2"}),
        ]
        assert await uow.repos.plans.versions(unique("none")) == []
        assert plan_id in ids and len(ids) == len(set(ids))


# ---------------------------------------------------------------------------- payees


async def test_payees_are_replaced_whole_by_id(new_uow: CalcUoWFactory) -> None:
    ann = unique("ann")
    async with new_uow() as uow:
        await uow.repos.payees.put(ann, {"id": ann, "crm_ids": ["hubspot:1"]})
        await uow.repos.payees.put(ann, {"id": ann, "crm_ids": ["hubspot:2"], "manager": "boss"})
        await uow.commit()
    async with new_uow() as uow:
        documents = await uow.repos.payees.documents()
    assert documents[ann] == {"id": ann, "crm_ids": ["hubspot:2"], "manager": "boss"}


# ---------------------------------------------------------------------------- quotas and fx


async def test_quotas_are_put_replaced_and_removed(new_uow: CalcUoWFactory) -> None:
    ann = unique("ann")
    async with new_uow() as uow:
        await uow.repos.quotas.put(ann, "2026-Q1", Decimal("1000"))
        await uow.repos.quotas.put(ann, "2026-Q1", Decimal("1500.50"))
        await uow.repos.quotas.put(ann, "2026-Q2", Decimal("900"))
        await uow.repos.quotas.remove(ann, "2026-Q2")
        await uow.repos.quotas.remove(ann, "2026-Q3")
        await uow.commit()
    async with new_uow() as uow:
        mine = [q for q in await uow.repos.quotas.all() if q.payee == ann]
    assert mine == [Quota(ann, "2026-Q1", Decimal("1500.50"))]


async def test_fx_rates_are_put_replaced_and_removed(new_uow: CalcUoWFactory) -> None:
    currency = "X" + uuid.uuid4().hex[:2].upper()
    day = date(2026, 1, 1)
    async with new_uow() as uow:
        await uow.repos.fx_rates.put(FxRate(day, currency, "USD", Decimal("1.1")))
        await uow.repos.fx_rates.put(FxRate(day, currency, "USD", Decimal("1.2")))
        await uow.repos.fx_rates.put(FxRate(day, currency, "EUR", Decimal("0.9")))
        await uow.repos.fx_rates.remove(day, currency, "EUR")
        await uow.repos.fx_rates.remove(date(2026, 2, 1), currency, "USD")
        await uow.commit()
    async with new_uow() as uow:
        mine = [r for r in await uow.repos.fx_rates.all() if r.from_currency == currency]
    assert mine == [FxRate(day, currency, "USD", Decimal("1.2"))]


# ---------------------------------------------------------------------------- deals


def snapshot(deal: str, revision: int, close_date: str | None) -> dict[str, object]:
    return {"deal": deal, "revision": revision, "close_date": close_date, "status": "won"}


async def test_the_reference_version_moves_with_every_write_and_is_never_reused(
    new_uow: CalcUoWFactory,
) -> None:
    ann = unique("ann")
    async with new_uow() as uow:
        seen = [await uow.repos.references.version()]
        await uow.repos.payees.put(ann, {"id": ann, "name": "Ann"})
        seen.append(await uow.repos.references.version())
        await uow.repos.quotas.put(ann, "2026-Q1", Decimal(100))
        seen.append(await uow.repos.references.version())
        await uow.repos.quotas.remove(ann, "2026-Q1")
        seen.append(await uow.repos.references.version())
        await uow.repos.fx_rates.put(FxRate(date(2026, 1, 2), "EUR", "USD", Decimal("1.1")))
        seen.append(await uow.repos.references.version())
        await uow.repos.fx_rates.remove(date(2026, 1, 2), "EUR", "USD")
        seen.append(await uow.repos.references.version())
        assert await uow.repos.references.version() == seen[-1]  # reading moves nothing
        await uow.commit()
    assert all(a != b for a, b in itertools.pairwise(seen))
    async with new_uow() as uow:  # a write seen, then rolled back...
        await uow.repos.payees.put(ann, {"id": ann, "name": "Ann B."})
        rolled_back = await uow.repos.references.version()
    async with new_uow() as uow:  # ...is not what another write is labelled
        await uow.repos.payees.put(ann, {"id": ann, "name": "Ann C."})
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.repos.references.version() not in (rolled_back, seen[-1])


async def test_reference_data_is_read_again_only_when_its_version_moved(new_uow: CalcUoWFactory) -> None:
    ann, bob = unique("ann"), unique("bob")
    async with new_uow() as uow:
        cache = uow.repos.reference
        first = await cache.load(uow.repos)
        again = await cache.load(uow.repos)
        assert again is first and cache.loads == 1
        # two payees in one unit of work (a batch): each write is seen
        await uow.repos.payees.put(ann, {"id": ann, "name": "Ann", "crm_ids": [f"hubspot:{ann}"]})
        assert (await cache.load(uow.repos)).index[f"hubspot:{ann}"] == ann
        await uow.repos.payees.put(bob, {"id": bob, "name": "Bob"})
        held = await cache.load(uow.repos)
        assert {ann, bob} <= set(held.payee_documents) and {ann, bob} <= {p.id for p in held.payees}
        await uow.repos.quotas.put(bob, "2026-Q1", Decimal(5))
        assert Quota(bob, "2026-Q1", Decimal(5)) in (await cache.load(uow.repos)).quotas
        assert cache.loads == 4


async def test_a_deal_holds_one_revision_and_keeps_every_revision_once(new_uow: CalcUoWFactory) -> None:
    deal = unique("generic:D")
    async with new_uow() as uow:
        assert await uow.repos.deals.held_revision(deal) is None
        await uow.repos.deals.hold(deal, 1, "won")
        await uow.repos.deals.add_revision(deal, 1, snapshot(deal, 1, "2026-02-10"), date(2026, 2, 10))
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.repos.deals.held_revision(deal) == 1
        await uow.repos.deals.hold(deal, 2, "cancelled")
        await uow.repos.deals.add_revision(deal, 2, snapshot(deal, 2, "2026-02-10"), date(2026, 2, 10))
        await uow.repos.deals.add_revision(deal, 1, snapshot(deal, 1, "2026-09-09"), date(2026, 9, 9))
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.repos.deals.held_revision(deal) == 2
        assert await uow.repos.deals.revision(deal, 1) == snapshot(deal, 1, "2026-02-10")
        assert await uow.repos.deals.revision(deal, 3) is None
        assert [d for d in await uow.repos.deals.held() if d.deal == deal] == [HeldDeal(deal, 2, "cancelled")]
        assert [s for s in await uow.repos.deals.held_snapshots() if s["deal"] == deal] == [
            snapshot(deal, 2, "2026-02-10")
        ]


async def test_a_window_with_people_loads_the_deals_naming_them_in_a_revision_closing_inside_it(
    new_uow: CalcUoWFactory,
) -> None:
    owned, split, moved, other = (unique(f"generic:{n}") for n in ("owned", "split", "moved", "other"))
    ann, bob, cy = unique("hubspot:ann"), unique("bob"), unique("cy")

    def named(deal: str, revision: int, close: str, owner: str, *splits: str) -> dict[str, object]:
        return {**snapshot(deal, revision, close), "owner": owner, "splits": [{"payee": p} for p in splits]}

    async with new_uow() as uow:
        await uow.repos.deals.add_revision(owned, 1, named(owned, 1, "2026-02-10", ann), date(2026, 2, 10))
        await uow.repos.deals.add_revision(split, 1, named(split, 1, "2026-03-01", cy, bob), date(2026, 3, 1))
        # ann's deal in Q1 first, then cy's in Q2: the Q1 revision names ann
        await uow.repos.deals.add_revision(moved, 1, named(moved, 1, "2026-01-05", ann), date(2026, 1, 5))
        await uow.repos.deals.add_revision(moved, 2, named(moved, 2, "2026-05-05", cy), date(2026, 5, 5))
        await uow.repos.deals.add_revision(other, 1, named(other, 1, "2026-05-01", ann), date(2026, 5, 1))
        await uow.commit()
    q1, q2 = (date(2026, 1, 1), date(2026, 3, 31)), (date(2026, 4, 1), date(2026, 6, 30))
    async with new_uow() as uow:
        of_ann = await uow.repos.deals.revision_numbers(window=q1, people=[ann])
        of_bob_cy = await uow.repos.deals.revision_numbers(window=q1, people=[bob, cy])
        of_cy_q2 = await uow.repos.deals.revision_numbers(window=q2, people=[cy])
        nobody = await uow.repos.deals.revision_numbers(window=q1, people=[])
    assert of_ann == {owned: [1], moved: [1, 2]}  # every revision of each deal found
    assert of_bob_cy == {split: [1]}  # a split payee is named too
    assert of_cy_q2 == {moved: [1, 2]}
    assert nobody == {}


async def test_the_deals_naming_people_come_with_every_revisions_dates_and_people(
    new_uow: CalcUoWFactory,
) -> None:
    moved, other = unique("generic:moved"), unique("generic:other")
    ann, cy = unique("hubspot:ann"), unique("cy")
    async with new_uow() as uow:
        first = {**snapshot(moved, 1, "2026-01-05"), "owner": ann}
        await uow.repos.deals.add_revision(moved, 1, first, date(2026, 1, 5))
        second = {**snapshot(moved, 2, "2026-05-05T09:00:00Z"), "owner": cy}
        await uow.repos.deals.add_revision(moved, 2, second, date(2026, 5, 5))
        await uow.repos.deals.add_revision(moved, 3, {**snapshot(moved, 3, None), "owner": cy}, None)
        await uow.repos.deals.add_revision(other, 1, {**snapshot(other, 1, "2026-02-01"), "owner": cy}, None)
        await uow.commit()
    async with new_uow() as uow:
        of_ann = await uow.repos.deals.naming([ann, "nobody"])
        of_cy = await uow.repos.deals.naming([cy])
        nobody = await uow.repos.deals.naming([])
    both = ({"2026-01-05", "2026-05-05T09:00:00Z"}, {ann, cy})  # every revision's, as sent
    assert of_ann == {moved: both}
    assert of_cy == {moved: both, other: ({"2026-02-01"}, {cy})}
    assert nobody == {}


async def test_the_deals_in_a_currency_from_a_day_come_with_their_dates_and_people(
    new_uow: CalcUoWFactory,
) -> None:
    early, late, dollars = unique("generic:early"), unique("generic:late"), unique("generic:usd")
    ann, bob = unique("ann"), unique("hubspot:bob")

    def snap(deal: str, revision: int, close: str, currency: str, owner: str) -> dict[str, object]:
        return {**snapshot(deal, revision, close), "currency": currency, "owner": owner}

    async with new_uow() as uow:
        deals = uow.repos.deals
        await deals.add_revision(early, 1, snap(early, 1, "2026-01-05", "EUR", ann), date(2026, 1, 5))
        await deals.add_revision(late, 1, snap(late, 1, "2026-01-20", "USD", ann), date(2026, 1, 20))
        # a later revision in EUR: the deal counts, with every revision's dates and people
        await deals.add_revision(late, 2, snap(late, 2, "2026-03-01", "EUR", bob), date(2026, 3, 1))
        await deals.add_revision(dollars, 1, snap(dollars, 1, "2026-06-01", "USD", bob), date(2026, 6, 1))
        await uow.commit()
    async with new_uow() as uow:
        from_feb = await uow.repos.deals.in_currency("EUR", date(2026, 2, 1))
        from_jan = await uow.repos.deals.in_currency("EUR", date(2026, 1, 1))
    assert {k: v for k, v in from_feb.items() if k in (early, late, dollars)} == {
        late: ({"2026-01-20", "2026-03-01"}, {ann, bob})
    }
    assert {k for k in from_jan if k in (early, late, dollars)} == {early, late}


async def test_a_window_loads_every_revision_of_the_deals_closing_inside_it(new_uow: CalcUoWFactory) -> None:
    inside, outside = unique("generic:in"), unique("generic:out")
    async with new_uow() as uow:
        await uow.repos.deals.add_revision(inside, 1, snapshot(inside, 1, "2026-09-01"), date(2026, 9, 1))
        await uow.repos.deals.add_revision(inside, 2, snapshot(inside, 2, "2026-03-31"), date(2026, 3, 31))
        await uow.repos.deals.add_revision(outside, 1, snapshot(outside, 1, "2026-04-01"), date(2026, 4, 1))
        await uow.repos.deals.add_revision(outside, 2, snapshot(outside, 2, None), None)
        await uow.commit()
    q1 = (date(2026, 1, 1), date(2026, 3, 31))
    async with new_uow() as uow:
        windowed = await uow.repos.deals.revisions(q1)
        everything = await uow.repos.deals.revisions()
        asked = await uow.repos.deals.revisions(deals=[outside, "generic:none"])
        numbers = await uow.repos.deals.revision_numbers(window=q1)
    mine = {inside, outside}
    assert sorted((d["deal"], d["revision"]) for d in windowed if d["deal"] in mine) == [
        (inside, 1),
        (inside, 2),
    ]
    assert len([d for d in everything if d["deal"] in mine]) == 4
    assert sorted((d["deal"], d["revision"]) for d in asked) == [(outside, 1), (outside, 2)]
    # The same deals as the window's revisions, with every revision of each.
    assert {deal: n for deal, n in numbers.items() if deal in mine} == {inside: [1, 2]}


async def test_held_deals_are_listed_by_deal(new_uow: CalcUoWFactory) -> None:
    prefix = unique("generic:order")
    async with new_uow() as uow:
        for name in ("c", "a", "b"):
            await uow.repos.deals.hold(f"{prefix}-{name}", 1, "open")
        await uow.commit()
    async with new_uow() as uow:
        held = [d.deal for d in await uow.repos.deals.held() if d.deal.startswith(prefix)]
    assert held == [f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"]


async def test_the_revision_numbers_held_are_listed_per_deal(new_uow: CalcUoWFactory) -> None:
    one, two = unique("generic:numbers-1"), unique("generic:numbers-2")
    async with new_uow() as uow:
        for deal, revision in ((one, 3), (one, 1), (two, 2)):
            await uow.repos.deals.add_revision(deal, revision, snapshot(deal, revision, None), None)
        await uow.commit()
    async with new_uow() as uow:
        numbers = await uow.repos.deals.revision_numbers()
    assert (numbers[one], numbers[two]) == ([1, 3], [2])
    async with new_uow() as uow:
        assert await uow.repos.deals.revision_numbers([two, "generic:none"]) == {two: [2]}


# ---------------------------------------------------------------------------- activities


async def test_an_activity_is_kept_once(new_uow: CalcUoWFactory) -> None:
    activity = unique("generic:A")
    async with new_uow() as uow:
        assert await uow.repos.activities.add(activity, {"id": activity, "kind": "call"})
        assert not await uow.repos.activities.add(activity, {"id": activity, "kind": "email"})
        await uow.commit()
    async with new_uow() as uow:
        assert not await uow.repos.activities.add(activity, {"id": activity, "kind": "demo"})
        mine = [d for d in await uow.repos.activities.documents() if d["id"] == activity]
    assert mine == [{"id": activity, "kind": "call"}]


# ---------------------------------------------------------------------------- ledger


def entry(plan: str, payee: str, period: str, day: str, amount: str, deal: str | None) -> LedgerEntry:
    return LedgerEntry(
        entry_id=unique("entry"),
        payee=payee,
        plan=plan,
        plan_version=1,
        component="new-business",
        period=period,
        entry_date=date.fromisoformat(day),
        pay_period=day[:7],
        amount=Decimal(amount),
        currency="USD",
        cash=True,
        deal=deal,
        cause_event="evt-1",
        explanation={"earned": amount, "deal_credit": {"deal": deal}},
        posted_at=datetime.now(UTC),
    )


async def test_the_ledger_sums_what_was_posted_per_key_and_period(new_uow: CalcUoWFactory) -> None:
    plan = unique("plan")
    async with new_uow() as uow:
        await uow.repos.ledger.lock_plan(plan)
        await uow.repos.ledger.lock_plan(plan)  # again in the same transaction: fine
        await uow.repos.ledger.append(entry(plan, "ann", "2026-Q1", "2026-02-10", "100.50", "g:D1"))
        await uow.repos.ledger.append(entry(plan, "ann", "2026-Q1", "2026-02-10", "-20.25", "g:D1"))
        await uow.repos.ledger.append(entry(plan, "ann", "2026-Q1", "2026-02-10", "7", None))
        await uow.repos.ledger.append(entry(plan, "ann", "2026-Q2", "2026-05-01", "3", "g:D2"))
        # a correction paid on 1 June (a plan change) for the key of 10 February
        redated = entry(plan, "ann", "2026-Q1", "2026-06-01", "0.75", "g:D1")
        redated.explanation[ENGINE_DATE] = "2026-02-10"
        await uow.repos.ledger.append(redated)
        await uow.repos.ledger.append(entry(unique("other"), "ann", "2026-Q1", "2026-02-10", "9", "g:D1"))
        await uow.commit()
    async with new_uow() as uow:
        everything = await uow.repos.ledger.posted_sums(plan)
        q1 = await uow.repos.ledger.posted_sums(plan, {"2026-Q1"})
        none = await uow.repos.ledger.posted_sums(plan, set())
    d1 = PostingKey("ann", "new-business", "2026-Q1", date(2026, 2, 10), "g:D1")
    bare = PostingKey("ann", "new-business", "2026-Q1", date(2026, 2, 10), None)
    d2 = PostingKey("ann", "new-business", "2026-Q2", date(2026, 5, 1), "g:D2")
    assert everything == {d1: Decimal("81.00"), bare: Decimal(7), d2: Decimal(3)}
    assert q1 == {d1: Decimal("81.00"), bare: Decimal(7)}
    assert none == {}


async def test_a_keyed_run_sums_the_linear_entries_of_its_deals_and_the_other_lines_of_its_payees(
    new_uow: CalcUoWFactory,
) -> None:
    plan = unique("plan")

    def of(payee: str, component: str, deal: str | None, amount: str) -> LedgerEntry:
        posted = entry(plan, payee, "2026-Q1", "2026-02-10", amount, deal)
        return dataclasses.replace(posted, component=component)

    async with new_uow() as uow:
        await uow.repos.ledger.append(
            of("ann", "tiered", "g:D1", "10"),
            of("ann", "tiered", "g:D2", "20"),
            of("bob", "tiered", "g:D3", "30"),
            of("boss", "override", "g:D1", "1"),
            of("boss", "override", "g:D3", "3"),
            of("ann", "flat", None, "5"),
            of("ann", "race", None, "500"),
        )
        await uow.commit()
    keyed = KeyedRun(frozenset({"ann"}), frozenset({"g:D1"}), frozenset({"override", "flat"}))
    leaving_the_contest = dataclasses.replace(keyed, skipped=frozenset({"race"}))
    async with new_uow() as uow:
        sums = await uow.repos.ledger.posted_sums(plan, {"2026-Q1"}, keyed)
        without_race = await uow.repos.ledger.posted_sums(plan, {"2026-Q1"}, leaving_the_contest)
    wanted: dict[tuple[str, str, str | None], Decimal] = {
        ("ann", "tiered", "g:D1"): Decimal(10),
        ("ann", "tiered", "g:D2"): Decimal(20),
        ("boss", "override", "g:D1"): Decimal(1),
    }
    assert {(k.payee, k.component, k.deal): v for k, v in sums.items()} == {
        **wanted,
        ("ann", "race", None): Decimal(500),
    }
    assert {(k.payee, k.component, k.deal): v for k, v in without_race.items()} == wanted


async def test_keyed_runs_share_a_plan_and_wait_only_for_one_payees_lines(sql_uow: CalcUoWFactory) -> None:
    """SQL only: a fake cannot block. Keyed runs on other payees go side by side; one on
    the same payee waits, and so does a run holding the plan exclusively."""
    plan = unique("plan")
    first = sql_uow()
    async with first as a:
        await a.repos.ledger.lock_plan(plan, shared=True)
        await a.repos.ledger.lock_payees(plan, ["bob", "ann"])

        async def other_payee() -> None:
            async with sql_uow() as b:
                await b.repos.ledger.lock_plan(plan, shared=True)
                await b.repos.ledger.lock_payees(plan, ["cy"])

        # other payees: granted while `a` holds its own (were it to wait, it would wait forever)
        await asyncio.wait_for(other_payee(), timeout=60)

        async def same_payee() -> None:
            async with sql_uow() as c:
                await c.repos.ledger.lock_plan(plan, shared=True)
                await c.repos.ledger.lock_payees(plan, ["ann", "dee"])

        async def whole_plan() -> None:
            async with sql_uow() as d:
                await d.repos.ledger.lock_plan(plan)

        waiting = [asyncio.create_task(same_payee()), asyncio.create_task(whole_plan())]

        async def both_wait() -> bool:
            return await waiting_advisory_locks(a) == 2

        await eventually(both_wait)
        assert not any(task.done() for task in waiting)
        await a.commit()
    await asyncio.gather(*waiting)  # granted once `a` ended


async def waiting_advisory_locks(uow: UnitOfWork[CalcRepositories]) -> int:
    assert isinstance(uow, SqlUnitOfWork)
    found = await uow.session.execute(
        sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    )
    return int(found.scalar_one())


async def test_ledger_entries_are_listed_oldest_first_by_payee_and_deal(new_uow: CalcUoWFactory) -> None:
    plan, ann, bob = unique("plan"), unique("ann"), unique("bob")
    posted = [
        entry(plan, ann, "2026-Q1", "2026-02-10", "100.0000", "g:D1"),
        entry(plan, bob, "2026-Q1", "2026-02-11", "50", "g:D2"),
        entry(plan, ann, "2026-Q2", "2026-05-01", "-1.5", "g:D2"),
    ]
    async with new_uow() as uow:
        await uow.repos.ledger.append(*posted)  # one call: kept in this order
        await uow.commit()
    async with new_uow() as uow:
        of_ann = await uow.repos.ledger.entries(payee=ann)
        of_ann_d2 = await uow.repos.ledger.entries(payee=ann, deal="g:D2")
        first = await uow.repos.ledger.entries(payee=ann, limit=1)
    assert [e.entry_id for e in of_ann] == [posted[0].entry_id, posted[2].entry_id]
    assert [e.entry_id for e in of_ann_d2] == [posted[2].entry_id]
    assert [e.entry_id for e in first] == [posted[0].entry_id]
    stored = of_ann[0]
    assert (stored.amount, stored.entry_date, stored.explanation, stored.cash, stored.cause_event) == (
        Decimal("100"),
        date(2026, 2, 10),
        {"earned": "100.0000", "deal_credit": {"deal": "g:D1"}},
        True,
        "evt-1",
    )
    assert stored.posted_at.tzinfo is not None


# ---------------------------------------------------------------------------- exceptions


def found(kind: str, payee: str | None, deal: str | None, detail: str = "why") -> CalcException:
    return CalcException(kind=kind, payee=payee, deal=deal, detail=detail)


async def test_a_whole_plan_run_replaces_the_plans_exceptions(new_uow: CalcUoWFactory) -> None:
    plan, other = unique("plan"), unique("other")
    async with new_uow() as uow:
        await uow.repos.exceptions.replace(other, [found("bad_split", "ann", "g:D9")], None)
        await uow.repos.exceptions.replace(
            plan, [found("missing_fx", "ann", "g:D1"), found("missing_quota", "ann", None)], None
        )
        await uow.repos.exceptions.replace(plan, [found("unknown_payee", "hubspot:9", "g:D2")], None)
        await uow.commit()
    async with new_uow() as uow:
        listed = [e for e in await uow.repos.exceptions.all() if e.plan in (plan, other)]
    assert listed == [
        PlanException(other, "bad_split", "ann", "g:D9", "why"),
        PlanException(plan, "unknown_payee", "hubspot:9", "g:D2", "why"),
    ]


async def test_a_scoped_run_replaces_exactly_its_deals_and_the_missing_quotas_of_its_periods(
    new_uow: CalcUoWFactory,
) -> None:
    plan = unique("plan")

    def quota_gap(payee: str, period: str) -> CalcException:
        return CalcException("missing_quota", payee, None, f"needs a quota for {period}", period)

    async with new_uow() as uow:
        await uow.repos.exceptions.replace(
            plan,
            [
                found("missing_fx", "ann", "g:D1"),
                found("missing_fx", "bob", "g:D2"),
                quota_gap("ann", "2026-Q1"),
                quota_gap("bob", "2026-Q2"),
            ],
            None,
        )
        # A run of 2026-Q1 that loaded D1 and D3: ann's Q1 quota is there now, D1 is fine.
        await uow.repos.exceptions.replace(
            plan,
            [found("bad_split", "cy", "g:D3")],
            RunScope(frozenset({"g:D1", "g:D3"}), frozenset({"2026-Q1"})),
        )
        await uow.commit()
    async with new_uow() as uow:
        listed = sorted(
            (e.kind, e.payee, e.deal, e.period) for e in await uow.repos.exceptions.all() if e.plan == plan
        )
    assert listed == [
        ("bad_split", "cy", "g:D3", None),
        ("missing_fx", "bob", "g:D2", None),
        ("missing_quota", "bob", None, "2026-Q2"),
    ]


async def test_a_keyed_run_replaces_the_missing_quotas_of_its_payees_only(new_uow: CalcUoWFactory) -> None:
    plan = unique("plan")

    def quota_gap(payee: str, period: str) -> CalcException:
        return CalcException("missing_quota", payee, None, f"needs a quota for {period}", period)

    async with new_uow() as uow:
        gaps = [quota_gap("ann", "2026-Q1"), quota_gap("bob", "2026-Q1")]
        await uow.repos.exceptions.replace(plan, gaps, None)
        # A keyed run of ann's Q1 lines that loaded D1: ann has her quota now; bob is not its.
        await uow.repos.exceptions.replace(
            plan, [], RunScope(frozenset({"g:D1"}), frozenset({"2026-Q1"}), frozenset({"ann"}))
        )
        await uow.commit()
    async with new_uow() as uow:
        listed = [(e.kind, e.payee) for e in await uow.repos.exceptions.all() if e.plan == plan]
    assert listed == [("missing_quota", "bob")]


async def test_a_run_and_a_lookup_may_name_more_deals_than_a_statement_has_parameters(
    new_uow: CalcUoWFactory,
) -> None:
    # Postgres' protocol allows 32,767 parameters per statement; a busy period holds more deals.
    plan, many = unique("plan"), [f"g:many-{n}" for n in range(40_000)]
    async with new_uow() as uow:
        await uow.repos.exceptions.replace(plan, [found("missing_fx", "ann", many[0])], None)
        await uow.repos.exceptions.replace(plan, [], RunScope(frozenset(many), frozenset({"2026-Q1"})))
        deal = unique("generic:numbers")
        await uow.repos.deals.add_revision(deal, 1, snapshot(deal, 1, None), None)
        assert await uow.repos.deals.revision_numbers([*many, deal]) == {deal: [1]}
        assert [d["deal"] for d in await uow.repos.deals.revisions(deals=[*many, deal])] == [deal]
        await uow.commit()
    async with new_uow() as uow:
        assert [e for e in await uow.repos.exceptions.all() if e.plan == plan] == []


async def test_exception_counts_are_per_kind_over_every_plan(new_uow: CalcUoWFactory) -> None:
    plan, other = unique("plan"), unique("other")
    async with new_uow() as uow:
        before = await uow.repos.exceptions.counts()
        await uow.repos.exceptions.replace(
            plan, [found("bad_split", "a", "g:1"), found("bad_split", "b", "g:2")], None
        )
        await uow.repos.exceptions.replace(
            other, [found("bad_split", "c", "g:3"), found("missing_fx", "c", "g:3")], None
        )
        after = await uow.repos.exceptions.counts()
    assert after.get("bad_split", 0) - before.get("bad_split", 0) == 3
    assert after.get("missing_fx", 0) - before.get("missing_fx", 0) == 1
    assert all(count > 0 for count in after.values())
