"""Keyed runs (`domain.keyed`): a deal event recomputes only the lines its people hold and
its own entries on linear lines, from only the deals naming those people."""

from __future__ import annotations

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


def test_linear_components_are_keyed_by_deal_and_the_others_by_payee() -> None:
    run = keyed_run([plan_of(TIERED, OVERRIDE)], {"g:D1"}, {"ann"})
    assert run == KeyedRun(frozenset({"ann"}), frozenset({"g:D1"}), frozenset({"override"}))
    assert run.wants("boss", "override", "g:D1") and not run.wants("boss", "override", "g:D2")
    assert not run.wants("ann", "override", None)  # an entry of no deal is not a deal's
    assert run.wants("ann", "new-business", "g:D7") and not run.wants("bob", "new-business", "g:D1")
    assert run.totals_known("ann", "override") and not run.totals_known("boss", "override")


def test_a_component_linear_in_one_version_only_is_keyed_by_payee() -> None:
    flat, tiered = plan_of(commission("0.05")), plan_of(TIERED)
    run = keyed_run([flat, tiered], (), ())
    assert run is not None and run.linear == frozenset()


def test_plans_that_need_whole_periods_are_not_keyed() -> None:
    contest = {
        "id": "race",
        "kind": "contest",
        "window": {"from": f"{YEAR}-01-01", "to": f"{YEAR}-03-31"},
        "rank_by": {"metric": "amount"},
        "prizes": [{"rank": 1, "amount": "500"}],
    }
    calls = {**commission("5", "calls"), "measure": {"metric": "activity:call"}}
    team_tiers = {**TIERED, "id": "team", "credit": ["team_rollup"]}
    for components in ([TIERED, contest], [TIERED, calls], [TIERED, team_tiers]):
        assert keyed_run([plan_of(*components)], {"g:D1"}, {"ann"}) is None


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
