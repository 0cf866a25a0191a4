"""`estimate` (POST /estimate) on the fake unit of work: a hypothetical deal or a change to an
open deal, the delta per component, attainment before and after, the bands and limits
crossed, who may ask, and that nothing is written."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from calc_fakes import (
    YEAR,
    CalcStore,
    consume,
    deal,
    fx_rate,
    ledger_rows,
    memory_repositories,
    payee,
    plan_version,
    quota,
    read_only_uow,
    tiered,
)

from calc_engine.domain.estimate import BandCrossing, LimitCrossing
from calc_engine.service_layer.estimate import Estimate, EstimateRequest, estimate
from provisio_common.auth import Principal, Role
from provisio_common.problems import Problem
from provisio_common.testing.fakes import FakeStore

AS_OF = date(YEAR, 12, 31)
CLUB = {"id": "club", "kind": "bonus", "when": {"attainment_at_least": 100}, "amount": "5000"}


@pytest.fixture
async def store() -> CalcStore:
    """Plan ae: retroactive tiers (5% below 100% of quota, 10% from 100%) and a 5000 club
    bonus at 100%. boss manages ann and bob; cy reports to no one. ann's 2026-Q1 quota is
    10000 and she won D1 (6000); her D5 (3000) is open; bob owns D6, open."""
    store: CalcStore = FakeStore(memory_repositories())
    plan = plan_version(tiered(("100", "0.05"), (None, "0.10")), CLUB)
    await consume(
        store,
        plan,
        payee("boss", roles=["manager"]),
        payee("ann", manager="boss", crm_ids=["generic:ann"]),
        payee("bob", manager="boss"),
        payee("cy"),
        quota("ann", f"{YEAR}-Q1", "10000"),
    )
    await consume(
        store,
        deal("D1", amount="6000", owner="generic:ann"),
        deal("D5", amount="3000", status="open", close=f"{YEAR}-03-20", owner="generic:ann"),
        deal("D6", amount="3000", status="open", owner="bob"),
    )
    return store


def who(sub: str, role: Role = "rep") -> Principal:
    return Principal(sub=sub, role=role)


async def new_deal(store: CalcStore, principal: Principal, payee_id: str = "ann", **fields: Any) -> Estimate:
    body = {"amount": "5000", "currency": "USD", "close_date": f"{YEAR}-02-15", **fields}
    return await estimate(read_only_uow(store), principal, EstimateRequest(payee_id, deal=body), AS_OF)


async def change(store: CalcStore, deal_key: str, principal: Principal, **fields: Any) -> Estimate:
    request = EstimateRequest("ann", change_of=deal_key, fields=fields)
    return await estimate(read_only_uow(store), principal, request, AS_OF)


async def test_a_deal_that_crosses_a_band_shows_the_true_up_the_band_and_the_bonus(store: CalcStore) -> None:
    before = list(ledger_rows(store))

    found = await new_deal(store, who("ann"))

    assert (found.payee, found.deal, found.as_of) == ("ann", "estimate:hypothetical", AS_OF)
    [plan] = found.plans
    assert (plan.plan, plan.plan_version, plan.currency, plan.exceptions) == ("ae", 1, "USD", [])
    commission, club = plan.lines
    assert (commission.component, commission.period) == ("new-business", f"{YEAR}-Q1")
    assert (commission.value_before, commission.value_after) == (Decimal(6000), Decimal(11000))
    assert (commission.attainment_before, commission.attainment_after) == (Decimal(60), Decimal(110))
    # Retroactive: all of 11000 at 10% (1100) instead of 6000 at 5% (300).
    assert (commission.earned_before, commission.earned_after, commission.delta) == (
        Decimal(300),
        Decimal(1100),
        Decimal(800),
    )
    assert commission.bands_crossed == (
        BandCrossing(1, "attainment", Decimal(100), None, Decimal("0.10"), None, "up"),
    )
    assert commission.limits_crossed == ()
    assert (club.component, club.earned_before, club.earned_after, club.delta) == (
        "club",
        Decimal(0),
        Decimal(5000),
        Decimal(5000),
    )
    assert club.limits_crossed == (LimitCrossing("bar", Decimal(100), "up"),)
    assert plan.delta == Decimal(5800)
    assert ledger_rows(store) == before  # nothing written (read_only_uow fails on any commit)


async def test_a_small_deal_stays_in_its_band_and_below_the_bar(store: CalcStore) -> None:
    [plan] = (await new_deal(store, who("ann"), amount="1000")).plans
    commission, club = plan.lines  # the club's value moves closer to its bar: listed, delta 0
    assert (commission.delta, commission.bands_crossed) == (Decimal(50), ())
    assert commission.attainment_after == Decimal(70)
    assert (club.attainment_before, club.attainment_after, club.delta) == (
        Decimal(60),
        Decimal(70),
        Decimal(0),
    )
    assert club.limits_crossed == ()


async def test_a_new_deal_is_won_today_and_owned_by_the_payee_unless_told(store: CalcStore) -> None:
    body = {"amount": "1000", "currency": "USD"}
    found = await estimate(
        read_only_uow(store), who("ann"), EstimateRequest("ann", deal=body), date(YEAR, 2, 20)
    )
    commission = found.plans[0].lines[0]
    assert (commission.period, commission.delta) == (f"{YEAR}-Q1", Decimal(50))
    halves = [{"payee": "ann", "share": "0.5"}, {"payee": "bob", "share": "0.5"}]
    split = (await new_deal(store, who("ann"), owner="bob", splits=halves)).plans[0].lines[0]
    assert split.value_after - split.value_before == Decimal(2500)
    [bad] = (await new_deal(store, who("ann"), splits=halves[:1])).plans[0].exceptions
    assert (bad.kind, bad.deal) == ("bad_split", "estimate:hypothetical")


async def test_a_deal_in_a_period_without_quota_earns_nothing_and_says_why(store: CalcStore) -> None:
    [plan] = (await new_deal(store, who("ann"), close_date=f"{YEAR}-05-02")).plans
    assert (plan.lines, plan.delta) == ([], Decimal(0))
    assert {(e.kind, e.payee) for e in plan.exceptions} == {("missing_quota", "ann")}


async def test_a_deal_without_an_fx_rate_is_reported_not_guessed(store: CalcStore) -> None:
    [plan] = (await new_deal(store, who("ann"), currency="EUR")).plans
    assert plan.lines == []
    assert [(e.kind, e.deal) for e in plan.exceptions] == [("missing_fx", "estimate:hypothetical")]
    await consume(store, fx_rate(f"{YEAR}-01-01", "EUR", "USD", "1.5"))
    [plan] = (await new_deal(store, who("ann"), currency="EUR", amount="2000")).plans
    assert plan.lines[0].value_after == Decimal(9000)


async def test_winning_an_open_deal_at_a_new_amount_uses_its_expected_close_date(store: CalcStore) -> None:
    found = await change(store, "generic:D5", who("ann"), amount="4000")

    assert found.deal == "generic:D5"
    commission, club = found.plans[0].lines
    assert (commission.value_after, commission.attainment_after) == (Decimal(10000), Decimal(100))
    assert (commission.delta, club.delta) == (Decimal(700), Decimal(5000))
    # Kept open, it changes nothing.
    assert (await change(store, "generic:D5", who("ann"), status="open")).plans[0].lines == []


async def test_a_change_to_a_deal_that_is_not_open_or_not_theirs_is_refused(store: CalcStore) -> None:
    with pytest.raises(Problem) as won:
        await change(store, "generic:D1", who("ann"), amount="1")
    assert won.value.status == 409
    for other in ("generic:D6", "generic:nope"):  # bob's, and unknown: the same answer
        with pytest.raises(Problem) as missing:
            await change(store, other, who("ann"), amount="1")
        assert missing.value.status == 404


async def test_a_bad_revision_is_refused_naming_its_field(store: CalcStore) -> None:
    with pytest.raises(Problem) as fixed:
        await change(store, "generic:D5", who("ann"), revision=9, changed_at="2026-01-01T00:00:00Z")
    assert [e["field"] for e in fixed.value.errors] == ["change.fields.revision", "change.fields.changed_at"]
    with pytest.raises(Problem) as amount:
        await change(store, "generic:D5", who("ann"), amount=4000.5)
    assert (amount.value.status, amount.value.errors[0]["field"]) == (422, "change.fields.amount")
    with pytest.raises(Problem) as share:
        await new_deal(store, who("ann"), splits=[{"payee": "ann", "share": "x"}])
    assert share.value.errors[0]["field"] == "deal.splits[0].share"
    with pytest.raises(Problem) as close:
        await new_deal(store, who("ann"), close_date=None)
    assert close.value.errors[0]["field"] == "deal.close_date"


@pytest.mark.parametrize(
    ("principal", "payee_id", "status"),
    [
        (who("ann"), "ann", 200),
        (who("ann"), "bob", 403),
        (who("boss", "manager"), "ann", 200),
        (who("boss", "manager"), "cy", 403),
        (who("cy", "manager"), "ann", 403),
        (who("root", "admin"), "cy", 200),
        (who("root", "admin"), "nobody", 404),
    ],
)
async def test_a_rep_estimates_for_themselves_a_manager_for_their_subtree_an_admin_for_anyone(
    store: CalcStore, principal: Principal, payee_id: str, status: int
) -> None:
    try:
        await new_deal(store, principal, payee_id)
        answered = 200
    except Problem as problem:
        answered = problem.status
    assert answered == status


async def test_the_change_of_a_revision_applies_after_every_held_one(store: CalcStore) -> None:
    # D5's revision 2 (changed later, still open) is its current snapshot: the change starts there.
    await consume(store, deal("D5", revision=2, amount="1000", status="open", close=f"{YEAR}-03-25"))
    commission = (await change(store, "generic:D5", who("ann"))).plans[0].lines[0]
    assert (commission.value_after, commission.delta) == (Decimal(7000), Decimal(50))
