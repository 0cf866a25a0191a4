"""`simulate` (POST /simulate) on the fake unit of work: a draft plan against the current
version over a date range, per payee and component, without writing anything."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from calc_fakes import (
    PLAN,
    YEAR,
    CalcStore,
    commission,
    consume,
    deal,
    ledger_rows,
    memory_repositories,
    payee,
    plan_version,
    read_only_uow,
)

from calc_engine.domain.simulation import SimulationRow
from calc_engine.service_layer.simulation import Simulation, read_draft, simulate
from provisio_calc import Plan
from provisio_common.problems import Problem
from provisio_common.testing.fakes import FakeStore

Q1 = (date(YEAR, 1, 1), date(YEAR, 3, 31))
YEAR_DAYS = (date(YEAR, 1, 1), date(YEAR, 12, 31))


@pytest.fixture
async def store() -> CalcStore:
    """Plan ae (10%): ann and bob on it, cy on no plan. ann won D1 (1000, Q1) and D2 (500,
    Q2), bob D3 (2000, Q1), cy D4 (700, Q1); D5 (ann, Q1, 300) was cancelled in Q2."""
    store: CalcStore = FakeStore(memory_repositories())
    await consume(store, plan_version(), payee("ann"), payee("bob"), payee("cy", plans=[]))
    await consume(
        store,
        deal("D1", amount="1000"),
        deal("D2", amount="500", close=f"{YEAR}-05-02"),
        deal("D3", amount="2000", owner="bob"),
        deal("D4", amount="700", owner="cy"),
        deal("D5", amount="300", close=f"{YEAR}-03-20"),
        deal(
            "D5", revision=2, status="cancelled", amount="300", close=f"{YEAR}-03-20", changed=f"{YEAR}-04-10"
        ),
    )
    return store


def draft(*components: dict[str, Any], **settings: Any) -> Plan:
    return read_draft(plan_version(*components, **settings).document)


async def run(store: CalcStore, plan: Plan, days: tuple[date, date] = YEAR_DAYS) -> Simulation:
    before = list(ledger_rows(store))
    found = await simulate(read_only_uow(store), plan, *days)
    assert ledger_rows(store) == before
    return found


async def test_a_higher_rate_pays_each_payee_on_the_plan_the_difference(store: CalcStore) -> None:
    found = await run(store, draft(commission("0.15")))

    assert (found.plan, found.current_version, found.current_currency, found.draft_currency) == (
        PLAN,
        1,
        "USD",
        "USD",
    )
    # ann: D1 + D2 (D5 credited then reversed within the year); bob: D3; cy is on no plan.
    assert found.rows == [
        SimulationRow("ann", "new-business", Decimal(150), Decimal("225"), Decimal(75)),
        SimulationRow("bob", "new-business", Decimal(200), Decimal(300), Decimal(100)),
    ]
    assert (found.totals.current, found.totals.draft, found.totals.difference) == (
        Decimal(350),
        Decimal(525),
        Decimal(175),
    )
    assert (found.current_exceptions, found.draft_exceptions) == ({}, {})


async def test_only_entries_dated_in_the_range_count(store: CalcStore) -> None:
    found = await run(store, draft(commission("0.15")), Q1)
    # ann in Q1: D1 (100) and D5's credit (30), whose reversal is dated in April.
    assert found.rows[0] == SimulationRow("ann", "new-business", Decimal(130), Decimal("195"), Decimal(65))
    april = await run(store, draft(commission("0.15")), (date(YEAR, 4, 10), date(YEAR, 4, 10)))
    assert april.rows == [SimulationRow("ann", "new-business", Decimal(-30), Decimal(-45), Decimal(-15))]


async def test_a_component_only_one_version_has_is_null_on_the_other_side(store: CalcStore) -> None:
    found = await run(store, draft(commission("0.10"), commission("0.01", component="kicker")))
    assert [(r.payee, r.component, r.current, r.draft, r.difference) for r in found.rows] == [
        ("ann", "kicker", None, Decimal(15), Decimal(15)),
        ("ann", "new-business", Decimal(150), Decimal(150), Decimal(0)),
        ("bob", "kicker", None, Decimal(20), Decimal(20)),
        ("bob", "new-business", Decimal(200), Decimal(200), Decimal(0)),
    ]
    renamed = await run(store, draft(commission("0.10", component="renamed")))
    assert {(r.component, r.current, r.draft) for r in renamed.rows} == {
        ("new-business", Decimal(150), None),
        ("renamed", None, Decimal(150)),
        ("new-business", Decimal(200), None),
        ("renamed", None, Decimal(200)),
    }


async def test_a_draft_in_another_currency_is_not_subtracted_and_its_gaps_are_counted(
    store: CalcStore,
) -> None:
    found = await run(store, draft(commission("0.10"), currency="EUR"))
    # Every USD deal is parked under the draft (no USD->EUR rate): it earns nothing there.
    assert found.rows == [
        SimulationRow("ann", "new-business", Decimal(150), Decimal(0), None),
        SimulationRow("bob", "new-business", Decimal(200), Decimal(0), None),
    ]
    assert (found.totals.current, found.totals.draft, found.totals.difference) == (
        Decimal(350),
        Decimal(0),
        None,
    )
    # D1, D2, D3, D5 of payees on the plan, and cy's D4 (cy is on no plan: shown everywhere).
    assert (found.current_exceptions, found.draft_exceptions) == ({}, {"missing_fx": 5})


async def test_a_draft_of_a_plan_not_stored_yet_has_no_current_side(store: CalcStore) -> None:
    await consume(store, payee("ann", plans=[PLAN, "fresh"]))
    found = await run(store, draft(commission("0.10"), plan_id="fresh"))
    assert (found.current_version, found.current_currency) == (None, None)
    assert found.rows == [SimulationRow("ann", "new-business", None, Decimal(150), Decimal(150))]


def test_a_bad_draft_is_refused_naming_each_problem_under_plan() -> None:
    document = plan_version(commission("0.10")).document
    document["components"][0]["rate"] = "ten percent"
    del document["currency"]
    with pytest.raises(Problem) as refused:
        read_draft(document)
    assert refused.value.status == 422
    assert {e["field"] for e in refused.value.errors} == {"plan.currency", "plan.components[0].rate"}
    with pytest.raises(Problem) as text:
        read_draft("id: [unclosed")
    assert [e["field"] for e in text.value.errors] == ["plan"]
