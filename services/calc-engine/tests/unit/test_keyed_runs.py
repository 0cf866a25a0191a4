"""Keyed runs (`domain.keyed`): a deal event recomputes only the lines its people hold and
its own entries on linear lines, from only the deals naming those people."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from calc_fakes import (
    YEAR,
    CalcStore,
    commission,
    consume,
    deal,
    fake_uow,
    ledger_rows,
    memory_repositories,
    payee,
    plan_locks,
    plan_version,
    quota,
    tiered,
)
from prometheus_client import REGISTRY

from calc_engine.domain.keyed import KeyedRun, keyed_run, people_of, references_of
from calc_engine.domain.people import subtree
from calc_engine.service_layer.queries import current_exceptions
from calc_engine.service_layer.reconcile import recompute
from provisio_calc import load_plan
from provisio_common.auth import Principal
from provisio_common.testing.fakes import FakeStore

TIERED = tiered(("100", "0.05"), (None, "0.10"), method="retroactive")
OVERRIDE: dict[str, Any] = {
    **commission("0.02", "override"),
    "credit": ["team_rollup"],
    "applies_to": {"roles": ["manager"]},
}


def plan_of(*components: dict[str, Any]) -> Any:
    return load_plan(plan_version(*components).document)


TODAY = date(YEAR, 6, 15)  # the day keyed runs below are decided as of


def contest(to: str) -> dict[str, Any]:
    """A contest on amount from the start of YEAR to `to`; 500 for the first."""
    return {
        "id": "race",
        "kind": "contest",
        "window": {"from": f"{YEAR}-01-01", "to": to},
        "rank_by": {"metric": "amount"},
        "prizes": [{"rank": 1, "amount": "500"}],
    }


def keyed(plans: list[Any], deals: set[str], payees: set[str], days: tuple[str, ...] = ()) -> KeyedRun | None:
    return keyed_run(plans, deals, payees, as_of=TODAY, days=days or (f"{YEAR}-02-10",))


def test_linear_components_are_keyed_by_deal_and_the_others_by_payee() -> None:
    run = keyed([plan_of(TIERED, OVERRIDE)], {"g:D1"}, {"ann"})
    assert run == KeyedRun(frozenset({"ann"}), frozenset({"g:D1"}), frozenset({"override"}))
    assert run.wants("boss", "override", "g:D1") and not run.wants("boss", "override", "g:D2")
    assert not run.wants("ann", "override", None)  # an entry of no deal is not a deal's
    assert run.wants("ann", "new-business", "g:D7") and not run.wants("bob", "new-business", "g:D1")
    assert run.totals_known("ann", "override") and not run.totals_known("boss", "override")


def test_a_component_linear_in_one_version_only_is_keyed_by_payee() -> None:
    flat, tiered = plan_of(commission("0.05")), plan_of(TIERED)
    run = keyed([flat, tiered], set(), set())
    assert run is not None and run.linear == frozenset()


def test_plans_that_need_whole_periods_are_not_keyed() -> None:
    calls = {**commission("5", "calls"), "measure": {"metric": "activity:call"}}
    team_tiers = {**TIERED, "id": "team", "credit": ["team_rollup"]}
    ended = contest(f"{YEAR}-03-31")  # over by TODAY, and the run touches 10 February
    for components in ([TIERED, ended], [TIERED, calls], [TIERED, team_tiers]):
        assert keyed([plan_of(*components)], {"g:D1"}, {"ann"}) is None


def test_a_keyed_run_leaves_alone_a_contest_it_cannot_change() -> None:
    running = plan_of(TIERED, contest(f"{YEAR}-12-31"))  # awards nothing before its last day
    run = keyed([running], {"g:D1"}, {"ann"})
    assert run is not None and run.skipped == frozenset({"race"})
    assert not run.wants_line("ann", "race") and not run.wants("ann", "race", None)
    assert run.wants("ann", "new-business", "g:D1")
    ended = plan_of(TIERED, contest(f"{YEAR}-03-31"))
    # over, but every day the run touches lies after its window (a day of margin: 1 April
    # in UTC may be 31 March in the plan's timezone)
    assert keyed([ended], {"g:D1"}, {"ann"}, (f"{YEAR}-04-02", f"{YEAR}-05-01")) is not None
    assert keyed([ended], {"g:D1"}, {"ann"}, (f"{YEAR}-04-01", f"{YEAR}-05-01")) is None
    assert keyed([ended], {"g:D1"}, {"ann"}, (f"{YEAR}-05-01T10:00:00Z", f"{YEAR}-03-31")) is None
    # on its last day a contest awards already (PLANS.md rule 21)
    assert keyed_run([running], {"g:D1"}, {"ann"}, as_of=date(YEAR, 12, 31), days=[f"{YEAR}-02-10"]) is None


def test_a_deal_names_its_owner_and_split_payees_as_sent() -> None:
    document = {"owner": "hubspot:1", "splits": [{"payee": "bob"}, {"payee": "hubspot:1"}]}
    assert people_of(document) == ["bob", "hubspot:1"]
    assert references_of({"ann"}, {"hubspot:1": "ann", "hubspot:2": "bob"}) == {"ann", "hubspot:1"}


def test_everyone_under_a_payee_is_in_their_subtree() -> None:
    documents = {
        "vp": {"id": "vp"},
        "mgr": {"id": "mgr", "manager": "vp"},
        "ann": {"id": "ann", "manager": "mgr"},
        "bob": {"id": "bob", "manager": "other"},  # a manager not on the list
        "x": {"id": "x", "manager": "y"},
        "y": {"id": "y", "manager": "x"},  # a cycle ends
    }
    assert subtree(documents, "mgr") == {"mgr", "ann"}
    assert subtree(documents, "vp") == {"vp", "mgr", "ann"}
    assert subtree(documents, "x") == {"x", "y"}
    assert subtree(documents, "new") == {"new"}


def deals_computed(scope: str) -> float:
    return REGISTRY.get_sample_value("provisio_calc_run_deals_sum", {"scope": scope}) or 0.0


async def test_a_deal_event_computes_only_the_deals_of_its_people() -> None:
    store: CalcStore = FakeStore(memory_repositories())
    await consume(
        store,
        plan_version(TIERED, OVERRIDE),
        payee("boss", roles=["manager"]),
        payee("ann", manager="boss", crm_ids=["hubspot:1"]),
        payee("bob", manager="boss"),
        quota("ann", f"{YEAR}-Q1", "10000"),
        quota("bob", f"{YEAR}-Q1", "10000"),
    )
    for n in range(6):
        await consume(store, deal(f"B{n}", owner="bob", amount="1000.00"))
    before = deals_computed("keyed")

    await consume(store, deal("A1", owner="hubspot:1", amount="2000.00"))

    assert deals_computed("keyed") - before == 1  # ann's one deal, none of bob's six
    new = [(row.payee, row.component, row.amount) for row in ledger_rows(store) if row.deal == "generic:A1"]
    assert sorted(new) == [("ann", "new-business", Decimal("100")), ("boss", "override", Decimal("40"))]
    # boss's override line holds bob's deals too, which this run did not load: its entry
    # explains itself by the deal's credit and the rate, without the line's totals.
    [boss] = [row for row in ledger_rows(store) if row.deal == "generic:A1" and row.payee == "boss"]
    assert (
        boss.explanation["deal_credit"]["value"] == "2000"
        and boss.explanation["formula"] == "rate 0.02 * value"
    )
    assert "value" not in boss.explanation and "earned" not in boss.explanation
    [ann] = [row for row in ledger_rows(store) if row.deal == "generic:A1" and row.payee == "ann"]
    assert (ann.explanation["value"], ann.explanation["earned"]) == ("2000", "100")
    assert await recompute(fake_uow(store), Principal("ada", "admin")) == 0


async def test_a_plan_with_a_running_contest_runs_keyed() -> None:
    store: CalcStore = FakeStore(memory_repositories())
    await consume(
        store,
        plan_version(TIERED, contest("2099-12-31")),  # still running today
        payee("ann"),
        payee("bob"),
        quota("ann", f"{YEAR}-Q1", "10000"),
        quota("bob", f"{YEAR}-Q1", "10000"),
    )
    for n in range(3):
        await consume(store, deal(f"B{n}", owner="bob"))
    before = deals_computed("keyed")

    await consume(store, deal("A1", owner="ann", amount="2000.00"))

    assert deals_computed("keyed") - before == 1  # ann's deal alone, not bob's three
    assert [(row.payee, row.component) for row in ledger_rows(store) if row.deal == "generic:A1"] == [
        ("ann", "new-business")
    ]
    assert await recompute(fake_uow(store), Principal("ada", "admin")) == 0


async def test_a_deal_in_an_ended_contests_window_reranks_it_and_one_outside_runs_keyed() -> None:
    store: CalcStore = FakeStore(memory_repositories())
    await consume(store, plan_version(TIERED, contest(f"{YEAR}-03-31")), payee("ann"), payee("bob"))
    for who in ("ann", "bob"):
        await consume(store, quota(who, f"{YEAR}-Q1", "10000"), quota(who, f"{YEAR}-Q2", "10000"))
    await consume(store, deal("B1", owner="bob", amount="3000.00"), deal("A1", owner="ann"))

    def prizes() -> list[tuple[str, Decimal]]:
        return [(row.payee, row.amount) for row in ledger_rows(store) if row.component == "race"]

    assert prizes() == [("bob", Decimal("500"))]
    keyed_before = deals_computed("keyed")
    await consume(store, deal("A2", owner="ann", amount="5000.00", close=f"{YEAR}-05-10"))
    assert deals_computed("keyed") - keyed_before == 1  # after the window: the contest stays
    assert prizes() == [("bob", Decimal("500"))]

    # A deal closing inside the window, late: ann now leads, and the prize moves to her.
    await consume(store, deal("A3", owner="ann", amount="4000.00", close=f"{YEAR}-03-30"))
    assert deals_computed("keyed") - keyed_before == 1  # that run was not keyed
    assert sorted(prizes()) == [("ann", Decimal("500")), ("bob", Decimal("-500")), ("bob", Decimal("500"))]
    assert await recompute(fake_uow(store), Principal("ada", "admin")) == 0


async def test_a_split_redoes_both_reps_tiered_lines() -> None:
    store: CalcStore = FakeStore(memory_repositories())
    await consume(
        store,
        plan_version(TIERED),
        payee("ann"),
        payee("bob"),
        quota("ann", f"{YEAR}-Q1", "1000"),
        quota("bob", f"{YEAR}-Q1", "1000"),
    )
    await consume(store, deal("B1", owner="bob", amount="900.00"))  # bob at 90%: 5%
    await consume(store, deal("S1", owner="ann", amount="400.00", splits=[("ann", "0.5"), ("bob", "0.5")]))

    # bob's 200 takes him to 110%: 10% on all 1,100, the step (110 - 45) on the deal causing it
    bob = sorted((row.deal, row.amount) for row in ledger_rows(store) if row.payee == "bob")
    assert bob == [("generic:B1", Decimal("45")), ("generic:S1", Decimal("65"))]
    ann = [(row.deal, row.amount) for row in ledger_rows(store) if row.payee == "ann"]
    assert ann == [("generic:S1", Decimal("10"))]
    assert await recompute(fake_uow(store), Principal("ada", "admin")) == 0
    assert await current_exceptions(fake_uow(store)) == []


async def test_a_run_redoing_a_deals_entries_locks_every_person_of_the_deal() -> None:
    # Two keyed runs that redo one deal's entries must wait for each other: a payee event
    # for ann redoes the split deal she shares with bob, so it locks bob's lines too.
    store: CalcStore = FakeStore(memory_repositories())
    await consume(store, plan_version(), payee("ann"), payee("bob"))
    await consume(store, deal("S1", owner="ann", splits=[("ann", "0.5"), ("bob", "0.5")]))
    before = len(plan_locks(store.repos))

    await consume(store, payee("ann", crm_ids=["hubspot:7"]))

    # (and the reference ann gained: a deal naming it would be hers now)
    assert plan_locks(store.repos)[before:] == ["ae (shared)", "ae:ann", "ae:bob", "ae:hubspot:7"]
