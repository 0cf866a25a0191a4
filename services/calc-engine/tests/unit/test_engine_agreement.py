"""Where calc-engine must agree with the engine (issue: the running system computes what the
engine computes): exceptions in scope (a scoped run replaces exactly what it recomputed; an
exception shows only under the plans its deal's people or its payee are on), and a midnight
timestamp with an offset read as the instant it is."""

from __future__ import annotations

import pytest
from calc_fakes import (
    YEAR,
    CalcStore,
    consume,
    deal,
    fake_uow,
    ledger_rows,
    memory_repositories,
    payee,
    plan_version,
    quota,
    tiered,
)

from calc_engine.service_layer.queries import current_exceptions
from provisio_common.events import DealSnapshot
from provisio_common.testing.fakes import FakeStore

TIERED = tiered(("100", "0.05"), (None, "0.10"), method="marginal")


@pytest.fixture
def store() -> CalcStore:
    fresh: CalcStore = FakeStore(memory_repositories())
    return fresh


async def exceptions(store: CalcStore) -> set[tuple[str, str, str | None, str | None]]:
    return {(e.plan, e.kind, e.payee, e.deal) for e in await current_exceptions(fake_uow(store))}


async def test_a_missing_quota_for_a_line_that_no_longer_exists_is_cleared_by_the_scoped_run(
    store: CalcStore,
) -> None:
    await consume(store, plan_version(TIERED), payee("ann"), quota("ann", f"{YEAR}-Q2", "10000"))
    await consume(store, deal("D1", close=f"{YEAR}-02-10"))
    assert await exceptions(store) == {("ae", "missing_quota", "ann", None)}
    # The deal moves to Q2, where ann has a quota: Q1 has no line left, so no exception.
    await consume(store, deal("D1", revision=2, close=f"{YEAR}-05-10", changed=f"{YEAR}-02-11"))
    assert await exceptions(store) == set()


async def test_a_scoped_run_keeps_the_missing_quotas_of_periods_it_did_not_redo(store: CalcStore) -> None:
    await consume(store, plan_version(TIERED), payee("ann"))
    await consume(store, deal("D1", close=f"{YEAR}-02-10"))
    await consume(store, deal("D2", close=f"{YEAR}-08-10"))  # a Q3 run: Q1's gap stays
    assert {(e.payee, e.period) for e in await current_exceptions(fake_uow(store))} == {
        ("ann", f"{YEAR}-Q1"),
        ("ann", f"{YEAR}-Q3"),
    }


async def test_a_deals_exception_shows_only_under_the_plans_its_people_are_on(store: CalcStore) -> None:
    eu = plan_version(plan_id="eu", currency="EUR")
    await consume(store, plan_version(), eu, payee("ann"), payee("eve", plans=["eu"]))
    await consume(store, deal("D1", owner="ann"))  # USD: missing_fx only under a EUR plan
    await consume(store, deal("D2", owner="eve"))  # eve is on the EUR plan
    assert await exceptions(store) == {("eu", "missing_fx", "eve", "generic:D2")}


async def test_a_deal_whose_people_are_on_no_plan_shows_under_every_plan(store: CalcStore) -> None:
    await consume(store, plan_version(), plan_version(plan_id="other"), payee("ann"))
    await consume(store, deal("D1", owner="hubspot:404"))
    assert await exceptions(store) == {
        ("ae", "unknown_payee", "hubspot:404", "generic:D1"),
        ("other", "unknown_payee", "hubspot:404", "generic:D1"),
    }


async def test_a_midnight_timestamp_with_an_offset_is_credited_on_its_own_day_not_the_next(
    store: CalcStore,
) -> None:
    # 00:00 in UTC+2 on April 1st is March 31st in a UTC plan: Q1, not Q2 (PLANS.md rule 1).
    await consume(store, plan_version(), payee("ann"))
    sent = deal("D1", changed=f"{YEAR}-03-31").to_data()
    await consume(store, DealSnapshot.model_validate({**sent, "close_date": f"{YEAR}-04-01T00:00:00+02:00"}))
    posted = {(e.period, e.entry_date.isoformat()) for e in ledger_rows(store)}
    assert posted == {(f"{YEAR}-Q1", f"{YEAR}-03-31")}
