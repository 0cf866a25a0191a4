"""calc-engine on plan, payee, quota, fx rate and activity events, on the fake unit of work.

Plan events reconcile the whole of every plan, and activity events the plans that count
activities (every plan, whole, when the activity's owner is no known payee); a quota event
only that payee's lines of its period, a payee event only the lines of the payee and of
everyone under them, an fx rate only the deals in its currency from its day (keyed runs,
`domain.keyed`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from calc_fakes import (
    YEAR,
    CalcStore,
    activity,
    commission,
    consume,
    deal,
    drift,
    fake_uow,
    fx_rate,
    ledger_rows,
    ledger_total,
    memory_repositories,
    payee,
    plan_version,
    published,
    quota,
    tiered,
)
from prometheus_client import REGISTRY

from calc_engine.service_layer.handlers import PENDING, Pending, on_activity, on_plan
from calc_engine.service_layer.reconcile import recompute
from provisio_common.auth import Principal
from provisio_common.events import PlanVersion
from provisio_common.inbox import PoisonMessage
from provisio_common.testing.fakes import FakeStore

RETROACTIVE = tiered(("100", "0.05"), (None, "0.10"), method="retroactive")


def empty() -> CalcStore:
    return FakeStore(memory_repositories())


async def exception_kinds(store: CalcStore) -> list[tuple[str, str | None]]:
    return [(e.kind, e.payee) for e in await store.repos.exceptions.all()]


# ---------------------------------------------------------------------------- plans


async def test_deals_held_before_their_plan_are_posted_when_it_arrives() -> None:
    store = empty()
    await consume(store, payee("ann"), deal("D1"))
    assert ledger_rows(store) == []

    [env] = await consume(store, plan_version())

    [entry] = ledger_rows(store)
    assert (entry.amount, entry.plan_version, entry.cause_event) == (Decimal("100"), 1, env.id)


async def test_a_new_plan_version_posts_the_difference_under_that_version() -> None:
    store = empty()
    await consume(store, plan_version(), payee("ann"), deal("D1"))

    await consume(store, plan_version(commission("0.15"), version=2))

    assert [(row.amount, row.plan_version) for row in ledger_rows(store)] == [
        (Decimal("100"), 1),
        (Decimal("50"), 2),
    ]


async def test_an_older_plan_version_arriving_late_changes_nothing() -> None:
    store = empty()
    await consume(store, plan_version(commission("0.15"), version=2), payee("ann"), deal("D1"))

    await consume(store, plan_version(commission("0.50"), version=1))

    assert ledger_total(store) == Decimal("150")


async def test_an_invalid_plan_is_poison() -> None:
    bad = PlanVersion.model_validate(
        {
            "plan_id": "ae",
            "version": 1,
            "document": {"id": "ae", "currency": "USD", "components": "none"},
            "created_at": f"{YEAR}-01-01T00:00:00Z",
        }
    )
    uow = fake_uow(empty())
    async with uow:
        with pytest.raises(PoisonMessage, match=r"plans\.v1"):
            await on_plan(uow, bad)
        assert await uow.repos.plans.ids() == []


# ---------------------------------------------------------------------------- payees


async def test_a_payee_gaining_a_crm_id_recredits_their_deals() -> None:
    store = empty()
    await consume(store, plan_version(), payee("ann"))
    await consume(store, deal("D1", owner="hubspot:9"))
    assert [c.data["payee"] for c in published(store, "credit")] == ["hubspot:9"]
    assert ("unknown_payee", "hubspot:9") in await exception_kinds(store)
    assert ledger_rows(store) == []

    [env] = await consume(store, payee("ann", crm_ids=["hubspot:9"]))

    recredited = {c.data["payee"]: c.data["share"] for c in published(store, "credit")[1:]}
    assert recredited == {"ann": "1", "hubspot:9": "0"}
    [entry] = ledger_rows(store)
    assert (entry.payee, entry.amount, entry.cause_event) == ("ann", Decimal("100"), env.id)
    assert await exception_kinds(store) == []


async def test_a_payee_losing_a_crm_id_hands_the_credit_back_to_the_reference() -> None:
    store = empty()
    await consume(store, plan_version(), payee("ann", crm_ids=["hubspot:9"]))
    await consume(store, deal("D1", owner="hubspot:9"))

    await consume(store, payee("ann"))

    last = {c.data["payee"]: c.data["share"] for c in published(store, "credit")[1:]}
    assert last == {"ann": "0", "hubspot:9": "1"}
    assert ledger_total(store, payee="ann") == 0


async def test_a_payee_change_that_resolves_nobody_differently_credits_nothing() -> None:
    store = empty()
    await consume(store, plan_version(), payee("ann", crm_ids=["hubspot:9"]), deal("D1", owner="hubspot:9"))
    credits = len(published(store, "credit"))

    await consume(store, payee("ann", crm_ids=["hubspot:9"], manager="boss"))

    assert len(published(store, "credit")) == credits
    assert ledger_total(store) == Decimal("100")


async def test_a_payee_change_reconciles_their_lines_and_those_of_everyone_under_them() -> None:
    store = empty()
    override = {
        **commission("0.02", "override"),
        "credit": ["team_rollup"],
        "applies_to": {"roles": ["manager"]},
    }
    await consume(store, plan_version(commission(), override), payee("boss", roles=["manager"]), payee("vp"))
    await consume(store, payee("mgr", manager="boss", roles=["manager"]), payee("ann", manager="mgr"))
    await consume(store, deal("D1"), deal("D2", owner="bob", close=f"{YEAR}-05-10"), payee("bob"))
    drift(store, f"{YEAR}-Q3", f"{YEAR}-08-01", "5", payee_id="boss")
    assert ledger_total(store, payee="boss") == Decimal("25")  # 2% of ann's 1,000, and the drift

    # mgr now reports to vp, who is a manager from now on: ann's deal rolls up to vp
    await consume(store, payee("vp", roles=["manager"]), payee("mgr", manager="vp", roles=["manager"]))

    assert ledger_total(store, payee="vp") == Decimal("20")
    # boss's override of ann's deal is reversed; the drift in Q3 is no line of this change
    # (a keyed run: `POST /recompute` finds it), and bob's deal is not looked at
    assert ledger_total(store, payee="boss") == Decimal("5")
    await consume(store, payee("ann", plans=()))
    assert ledger_total(store, payee="ann") == 0  # unassigned: her lines follow
    assert ledger_total(store, payee="bob") == Decimal("100")


# ---------------------------------------------------------------------------- quotas


async def test_a_quota_change_reconciles_that_payees_lines_of_its_period() -> None:
    store = empty()
    await consume(store, plan_version(RETROACTIVE), payee("ann"))
    await consume(store, deal("D1", amount="1000.00"), deal("D2", amount="1000.00", close=f"{YEAR}-05-10"))
    assert ledger_rows(store) == []
    assert await exception_kinds(store) == [("missing_quota", "ann"), ("missing_quota", "ann")]
    assert REGISTRY.get_sample_value("provisio_calc_exceptions", {"kind": "missing_quota"}) == 2

    await consume(store, quota("ann", f"{YEAR}-Q1", "1500"), quota("ann", f"{YEAR}-Q2", "500"))

    by_period = {row.period: row.amount for row in ledger_rows(store)}
    assert by_period == {f"{YEAR}-Q1": Decimal("50"), f"{YEAR}-Q2": Decimal("100")}
    assert await exception_kinds(store) == []
    assert REGISTRY.get_sample_value("provisio_calc_exceptions", {"kind": "missing_quota"}) == 0

    drift(store, f"{YEAR}-Q3", f"{YEAR}-08-01", "5")
    await consume(store, quota("ann", f"{YEAR}-Q1", "800"))  # now above 100%: the retroactive true-up

    # Only ann's Q1 lines are redone (keyed): the drift planted in Q3 is not this event's.
    assert [(row.period, row.amount) for row in ledger_rows(store)[-2:]] == [
        (f"{YEAR}-Q3", Decimal("5")),
        (f"{YEAR}-Q1", Decimal("50")),
    ]
    assert ledger_total(store, payee="ann") == Decimal("205")


async def test_a_removed_quota_parks_the_payee_again() -> None:
    store = empty()
    await consume(store, plan_version(RETROACTIVE), payee("ann"), quota("ann", f"{YEAR}-Q1", "1000"))
    await consume(store, deal("D1", amount="1000.00"))
    assert ledger_total(store) == Decimal("100")

    await consume(store, quota("ann", f"{YEAR}-Q1", None))

    assert ledger_total(store) == 0
    assert await exception_kinds(store) == [("missing_quota", "ann")]


# ---------------------------------------------------------------------------- fx rates


async def test_a_deal_missing_its_rate_is_parked_until_the_rate_arrives() -> None:
    store = empty()
    await consume(store, plan_version(), payee("ann"))
    await consume(store, deal("D1", amount="1000.00", currency="EUR"))
    assert ledger_rows(store) == []
    assert [e.kind for e in await store.repos.exceptions.all()] == ["missing_fx"]
    assert REGISTRY.get_sample_value("provisio_calc_exceptions", {"kind": "missing_fx"}) == 1

    await consume(store, fx_rate(f"{YEAR}-01-01", "EUR", "USD", "1.10"))

    assert ledger_total(store) == Decimal("110")
    assert await store.repos.exceptions.all() == []
    assert REGISTRY.get_sample_value("provisio_calc_exceptions", {"kind": "missing_fx"}) == 0

    await consume(store, fx_rate(f"{YEAR}-01-01", "EUR", "USD", None))

    assert ledger_total(store) == 0
    assert [e.kind for e in await store.repos.exceptions.all()] == ["missing_fx"]


async def test_a_changed_rate_posts_the_difference() -> None:
    store = empty()
    await consume(store, plan_version(), payee("ann"), fx_rate(f"{YEAR}-01-01", "EUR", "USD", "1.10"))
    await consume(store, deal("D1", amount="1000.00", currency="EUR"))

    await consume(store, fx_rate(f"{YEAR}-01-01", "EUR", "USD", "1.20"))

    assert [row.amount for row in ledger_rows(store)] == [Decimal("110"), Decimal("10")]


async def test_a_rate_redoes_only_the_deals_in_its_currency_from_its_day() -> None:
    store = empty()
    await consume(store, plan_version(), payee("ann"), payee("bob"))
    await consume(store, fx_rate(f"{YEAR}-01-01", "EUR", "USD", "1.10"))
    await consume(store, deal("D1", owner="ann", amount="1000.00", currency="EUR", close=f"{YEAR}-02-10"))
    await consume(store, deal("D2", owner="bob", amount="1000.00", currency="EUR", close=f"{YEAR}-05-10"))
    drift(store, f"{YEAR}-Q1", f"{YEAR}-02-10", "5", payee_id="bob")
    runs = REGISTRY.get_sample_value("provisio_calc_run_deals_count", {"scope": "keyed"}) or 0

    # from 1 April: bob's May deal is converted again, ann's February deal keeps its rate
    await consume(store, fx_rate(f"{YEAR}-04-01", "EUR", "USD", "1.30"))

    assert ledger_total(store, deal="generic:D2") == Decimal("130")
    assert ledger_total(store, deal="generic:D1") == Decimal("110")
    assert ledger_total(store, payee="bob") == Decimal("135")  # the drift is no line of this
    assert (REGISTRY.get_sample_value("provisio_calc_run_deals_count", {"scope": "keyed"}) or 0) == runs + 1


# ---------------------------------------------------------------------------- activities

CALLS: dict[str, Any] = {
    "id": "calls",
    "kind": "commission",
    "measure": {"metric": "activity:call"},
    "rate": "5",
}


async def test_an_activity_counts_for_its_resolved_owner() -> None:
    store = empty()
    await consume(store, plan_version(CALLS), payee("ann", crm_ids=["generic:ann"]))

    await consume(store, activity("A1", owner="generic:ann"), activity("A2", owner="ann"))

    assert [(row.payee, row.component, row.amount) for row in ledger_rows(store)] == [
        ("ann", "calls", Decimal("10"))
    ]


async def test_a_repeated_activity_is_held_once_and_leaves_no_work() -> None:
    store = empty()
    await consume(store, plan_version(CALLS), payee("ann"), activity("A1"))
    uow = fake_uow(store)
    async with uow:
        await on_activity(uow, activity("A1"))
        assert PENDING not in uow.state
        await on_activity(uow, activity("A2"))
        assert uow.state[PENDING] == Pending(activity_days={f"{YEAR}-02-10T09:00:00Z"})
        await on_activity(uow, activity("A3", owner="hubspot:99"))  # no known payee
        assert uow.state[PENDING].everything
    assert ledger_total(store) == Decimal("5")


async def test_an_activity_reconciles_the_plans_counting_activities_unless_its_owner_is_unknown() -> None:
    store = empty()
    await consume(store, plan_version(), plan_version(CALLS, plan_id="calls"))
    await consume(store, payee("ann", plans=["ae", "calls"]), deal("D1"))
    drift(store, f"{YEAR}-Q1", f"{YEAR}-02-01", "3")  # on plan ae, which counts no activity
    before = ledger_total(store, payee="ann")

    await consume(store, activity("A1"))

    calls = [row.amount for row in ledger_rows(store) if row.plan == "calls"]
    assert calls == [Decimal("5")] and ledger_total(store, payee="ann") == before + 5  # ae left alone

    await consume(store, activity("A2", owner="hubspot:99"))

    assert ledger_total(store, payee="ann") == before + 5 - 3  # every plan reconciled whole
    assert ("unknown_payee", "hubspot:99") in await exception_kinds(store)


async def test_an_activity_counts_through_its_deal_whatever_period_the_deal_closes_in() -> None:
    # Calls count only on new business (a deal filter, PLANS.md rule 15): the call in Q1
    # counts through its deal, which closes in Q2. A deal event of Q1 recomputes Q1 only,
    # and must still see the call's deal.
    store = empty()
    new_calls = {**CALLS, "measure": {"metric": "activity:call", "deal_types": ["new"]}}
    await consume(store, plan_version(new_calls))
    await consume(store, payee("ann"), deal("D1", close=f"{YEAR}-05-10").model_copy(update={"type": "new"}))
    await consume(store, activity("A1", day=f"{YEAR}-02-10").model_copy(update={"deal": "D1"}))
    assert ledger_total(store, payee="ann") == Decimal("5")

    await consume(store, deal("D2", close=f"{YEAR}-02-11"))

    assert ledger_total(store, payee="ann") == Decimal("5")
    assert await recompute(fake_uow(store), Principal("ada", "admin")) == 0
