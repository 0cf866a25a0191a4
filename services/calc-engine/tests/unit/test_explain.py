"""`explain` (GET /explain/{payee}/{period}) on the fake unit of work: every line of the
period with its arithmetic as `provisio calc --explain` prints it, visible per DESIGN.md §7."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from calc_fakes import (
    YEAR,
    CalcStore,
    commission,
    consume,
    deal,
    memory_repositories,
    payee,
    plan_version,
    quota,
    read_only_uow,
    tiered,
)

from calc_engine.domain.explain import arithmetic
from calc_engine.service_layer.explain import Explanation, explain
from provisio_calc import Deal, Payee, Quota, calculate, load_plan
from provisio_calc.render import render_table
from provisio_common.auth import Principal, Role
from provisio_common.problems import Problem
from provisio_common.testing.fakes import FakeStore

AS_OF = date(YEAR, 12, 31)
PLAN = plan_version(
    tiered(("100", "0.05"), (None, "0.10"), method="marginal"), commission("0.01", component="kicker")
)


@pytest.fixture
async def store() -> CalcStore:
    """boss manages ann; bob stands alone. ann's Q1 quota is 10000; she won D1 (12000, Q1)
    and D2 (500, Q2, no quota there); bob won D3 (100, Q1)."""
    store: CalcStore = FakeStore(memory_repositories())
    await consume(
        store,
        PLAN,
        payee("boss", roles=["manager"], plans=[]),
        payee("ann", manager="boss"),
        payee("bob"),
        quota("ann", f"{YEAR}-Q1", "10000"),
    )
    await consume(
        store,
        deal("D1", amount="12000"),
        deal("D2", amount="500", close=f"{YEAR}-05-02"),
        deal("D3", amount="100", owner="bob"),
    )
    return store


def who(sub: str, role: Role = "rep") -> Principal:
    return Principal(sub=sub, role=role)


async def lines_of(store: CalcStore, period: str, payee_id: str = "ann") -> Explanation:
    return await explain(read_only_uow(store), who(payee_id), payee_id, period, AS_OF)


async def test_each_line_of_the_period_comes_with_its_arithmetic_as_calc_explain_prints_it(
    store: CalcStore,
) -> None:
    found = await lines_of(store, f"{YEAR}-Q1")

    [plan] = found.plans
    assert (plan.plan, plan.plan_version, plan.currency, plan.exceptions) == ("ae", 1, "USD", [])
    tiers, kicker = plan.lines
    assert [(line.component, line.period, str(line.earned)) for line in plan.lines] == [
        ("new-business", f"{YEAR}-Q1", "700.00"),
        ("kicker", f"{YEAR}-Q1", "120.00"),
    ]
    assert [c["deal"] for c in tiers.explanation["credits"]] == ["generic:D1"]
    assert tiers.explanation["entries"] == [{"day": f"{YEAR}-02-10", "amount": "700", "deal": "generic:D1"}]
    assert arithmetic(tiers.explanation)[:3] == [
        "formula: sum of band rate * slice of value in band",
        "quota: 10000",
        "band 0 [0, 100): rate 0.05 * 10000 = 500",
    ]
    # The same text `provisio calc --explain` prints for the same inputs.
    offline = calculate(
        load_plan(PLAN.document),
        [
            Deal.from_dict(d.to_data())
            for d in (deal("D1", amount="12000"), deal("D3", amount="100", owner="bob"))
        ],
        payees=[Payee("ann", manager="boss"), Payee("bob"), Payee("boss", roles=("manager",))],
        quotas=[Quota("ann", f"{YEAR}-Q1", Decimal(10000))],
        as_of=AS_OF,
    )
    printed = render_table(offline, explain=True).splitlines()
    for line in (tiers, kicker):
        assert arithmetic(line.explanation)
        assert all("    " + text in printed for text in arithmetic(line.explanation))


async def test_a_period_shows_every_line_whose_period_overlaps_it_and_what_is_missing(
    store: CalcStore,
) -> None:
    year = (await lines_of(store, f"{YEAR}")).plans[0]
    assert [(line.component, line.period) for line in year.lines] == [
        ("new-business", f"{YEAR}-Q1"),
        ("kicker", f"{YEAR}-Q1"),
        ("kicker", f"{YEAR}-Q2"),
    ]
    assert [(e.kind, e.period) for e in year.exceptions] == [("missing_quota", f"{YEAR}-Q2")]
    february = (await lines_of(store, f"{YEAR}-02")).plans[0]
    assert [line.period for line in february.lines] == [f"{YEAR}-Q1", f"{YEAR}-Q1"]
    assert (await lines_of(store, f"{YEAR + 1}-Q1")).plans[0].lines == []


async def test_a_bad_period_is_refused_naming_it(store: CalcStore) -> None:
    with pytest.raises(Problem) as refused:
        await lines_of(store, f"{YEAR}-Q5")
    assert (refused.value.status, refused.value.errors[0]["field"]) == (422, "period")


@pytest.mark.parametrize(
    ("principal", "payee_id", "status"),
    [
        (who("ann"), "ann", 200),
        (who("ann"), "bob", 403),
        (who("boss", "manager"), "ann", 200),
        (who("boss", "manager"), "bob", 403),
        (who("ops-1", "ops"), "bob", 200),
        (who("payroll-1", "payroll"), "ann", 200),
        (who("root", "admin"), "bob", 200),
        (who("root", "admin"), "nobody", 404),
    ],
)
async def test_a_rep_sees_their_own_a_manager_their_subtree_admin_ops_payroll_everyone(
    store: CalcStore, principal: Principal, payee_id: str, status: int
) -> None:
    try:
        await explain(read_only_uow(store), principal, payee_id, f"{YEAR}-Q1", AS_OF)
        answered = 200
    except Problem as problem:
        answered = problem.status
    assert answered == status
