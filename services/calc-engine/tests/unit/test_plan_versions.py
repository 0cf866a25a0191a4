"""Effective-dated plan versions in calc-engine, on the fake unit of work: each measurement
period is computed under the newest version whose `effective` contains its first day, a new
version recomputes exactly the periods it can change and dates its corrections the day it
was made, and the ledger still equals the pure engine over every version."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from calc_fakes import (
    YEAR,
    CalcStore,
    commission,
    consume,
    deal,
    drift,
    fake_uow,
    ledger_rows,
    memory_repositories,
    payee,
)

from calc_engine.domain.ledger import ENGINE_DATE
from calc_engine.service_layer.handlers import on_plan
from calc_engine.service_layer.reconcile import recompute
from provisio_calc import Deal, calculate, load_plan
from provisio_common.auth import Principal
from provisio_common.events import PlanVersion
from provisio_common.inbox import PoisonMessage
from provisio_common.testing.fakes import FakeStore

ADMIN = Principal(sub="ada", role="admin")
MADE = datetime(YEAR, 6, 15, 9, 0, tzinfo=UTC)  # the day version 2 is stored


def document(rate: str, start: str = f"{YEAR}-01-01", **fields: Any) -> dict[str, Any]:
    return {
        "id": "ae",
        "currency": "USD",
        "period": "quarter",
        "effective": {"from": start, "to": f"{YEAR}-12-31"},
        "components": [commission(rate)],
        **fields,
    }


def version(number: int, doc: dict[str, Any], made: datetime = MADE) -> PlanVersion:
    return PlanVersion(plan_id="ae", version=number, document=doc, created_at=made)


@pytest.fixture
def store() -> CalcStore:
    fresh: CalcStore = FakeStore(memory_repositories())
    return fresh


def sums(store: CalcStore) -> dict[tuple[str, str, int], Decimal]:
    """(payee, period, plan_version) -> sum posted."""
    out: dict[tuple[str, str, int], Decimal] = defaultdict(Decimal)
    for row in ledger_rows(store):
        out[(row.payee, row.period, row.plan_version)] += row.amount
    return {k: v for k, v in out.items() if v}


async def test_a_version_from_q2_recomputes_q2_on_and_dates_its_corrections_the_day_it_was_made(
    store: CalcStore,
) -> None:
    await consume(store, version(1, document("0.10"), datetime(YEAR, 1, 1, tzinfo=UTC)), payee("ann"))
    await consume(store, deal("D1", close=f"{YEAR}-02-10"), deal("D2", close=f"{YEAR}-05-10"))
    assert sums(store) == {("ann", f"{YEAR}-Q1", 1): Decimal(100), ("ann", f"{YEAR}-Q2", 1): Decimal(100)}
    before = len(ledger_rows(store))

    await consume(store, version(2, document("0.25", start=f"{YEAR}-04-01")))

    [correction] = ledger_rows(store)[before:]
    assert (correction.period, correction.amount, correction.plan_version) == (f"{YEAR}-Q2", Decimal(150), 2)
    # paid on the day version 2 was made; it corrects the entry of D2's close day
    assert (correction.entry_date, correction.pay_period) == (date(YEAR, 6, 15), f"{YEAR}-06")
    assert correction.explanation[ENGINE_DATE] == f"{YEAR}-05-10"
    assert correction.explanation["plan_version"] == 2
    assert await recompute(fake_uow(store), ADMIN) == 0

    # later deals: Q1 stays under version 1, Q3 is version 2's; dated on their close day
    await consume(store, deal("D3", close=f"{YEAR}-03-01"), deal("D4", close=f"{YEAR}-08-01"))
    new = {(r.period, r.plan_version, r.entry_date, r.amount) for r in ledger_rows(store)[before + 1 :]}
    assert new == {
        (f"{YEAR}-Q1", 1, date(YEAR, 3, 1), Decimal(100)),
        (f"{YEAR}-Q3", 2, date(YEAR, 8, 1), Decimal(250)),
    }
    assert await recompute(fake_uow(store), ADMIN) == 0


async def test_a_new_version_recomputes_exactly_the_periods_it_can_change(store: CalcStore) -> None:
    await consume(store, version(1, document("0.10")), payee("ann"), deal("D1", close=f"{YEAR}-02-10"))
    drift(store, f"{YEAR}-Q1", f"{YEAR}-02-10", "7")  # an error in Q1 that only a recompute corrects
    before = len(ledger_rows(store))

    await consume(store, version(2, document("0.20", start=f"{YEAR}-10-01")))

    assert ledger_rows(store)[before:] == []  # Q4 has no deal; Q1 was not looked at
    assert await recompute(fake_uow(store), ADMIN) == 1  # the drift, found by the full run


async def test_the_first_version_arriving_after_its_deals_dates_entries_as_the_engine_does(
    store: CalcStore,
) -> None:
    await consume(store, payee("ann"), deal("D1", close=f"{YEAR}-02-10"))
    await consume(store, version(1, document("0.10")))
    [entry] = ledger_rows(store)
    assert (entry.entry_date, ENGINE_DATE in entry.explanation) == (date(YEAR, 2, 10), False)


async def test_deals_of_periods_outside_every_version_earn_nothing(store: CalcStore) -> None:
    first = document("0.10")
    first["effective"]["to"] = f"{YEAR}-03-31"
    await consume(
        store,
        version(1, first),
        version(2, document("0.20", start=f"{YEAR}-07-01")),
        payee("ann"),
        deal("D1", close=f"{YEAR}-02-10"),
        deal("D2", close=f"{YEAR}-05-10"),
        deal("D3", close=f"{YEAR}-08-10"),
    )
    assert sums(store) == {("ann", f"{YEAR}-Q1", 1): Decimal(100), ("ann", f"{YEAR}-Q3", 2): Decimal(200)}


async def test_the_ledger_equals_the_engine_over_every_version(store: CalcStore) -> None:
    docs = [
        document("0.10"),
        document("0.30", start=f"{YEAR}-04-01"),
        document("0.05", start=f"{YEAR}-07-01"),
    ]
    snapshots = [deal(f"D{m}", close=f"{YEAR}-{m:02d}-15", amount=f"{m}000") for m in range(1, 12)]
    await consume(store, payee("ann"), *snapshots[:6])
    await consume(store, version(1, docs[0]))
    await consume(store, version(3, docs[2]))  # out of order: 3 before 2
    await consume(store, *snapshots[6:])
    await consume(store, version(2, docs[1]))
    plans = [load_plan(d).model_copy(update={"version": n}) for n, d in enumerate(docs, start=1)]
    deals = [Deal.from_dict(s.to_data()) for s in snapshots]
    result = calculate(plans, deals, as_of=datetime.now(UTC).date())
    expected = {(ln.payee, ln.period): ln.earned for ln in result.lines}
    posted: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in ledger_rows(store):
        posted[(row.payee, row.period)] += row.amount
    assert dict(posted) == expected
    # Q1 by version 1, Q2 by version 2, Q3 and Q4 by version 3; each line's last entry names it
    last = {row.period: row.plan_version for row in ledger_rows(store)}
    assert last == {f"{YEAR}-Q1": 1, f"{YEAR}-Q2": 2, f"{YEAR}-Q3": 3, f"{YEAR}-Q4": 3}
    assert await recompute(fake_uow(store), ADMIN) == 0


async def test_a_version_that_cannot_follow_the_held_ones_is_poison(store: CalcStore) -> None:
    await consume(store, version(1, document("0.10")))
    uow = fake_uow(store)
    async with uow:
        with pytest.raises(PoisonMessage, match="currency"):
            await on_plan(uow, version(2, document("0.10", currency="EUR")))
        with pytest.raises(PoisonMessage, match=r"effective\.from"):
            await on_plan(uow, version(2, document("0.10", start=f"{YEAR}-05-01")))
        assert [v.version for v in await uow.repos.plans.versions("ae")] == [1]
