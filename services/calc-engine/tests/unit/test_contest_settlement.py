"""Contests end on time (fake unit of work): once a contest window is over in the plan's
timezone, one scheduler pass reconciles the plan and posts the prizes, exactly once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from calc_fakes import (
    CalcStore,
    commission,
    consume,
    deal,
    fake_uow,
    ledger_rows,
    memory_repositories,
    payee,
    plan_locks,
)

from calc_engine.domain.contests import EndedContest, ended_contests
from calc_engine.service_layer.contests import settle_ended_contests
from calc_engine.service_layer.reconcile import recompute
from provisio_calc import load_plan
from provisio_common.auth import Principal
from provisio_common.events import PlanVersion
from provisio_common.testing.fakes import FakeStore

# A year still to come: the consumer's reconciliations (the wall clock) never see its
# contests end; only the scheduler's clock does.
FUTURE = datetime.now(UTC).year + 1
TZ = "America/Los_Angeles"


def contest(component: str, last_day: str, amount: str) -> dict[str, Any]:
    return {
        "id": component,
        "kind": "contest",
        "window": {"from": f"{FUTURE}-01-01", "to": last_day},
        "prizes": [{"rank": 1, "amount": amount}],
    }


PLAN: dict[str, Any] = {
    "id": "ae",
    "currency": "USD",
    "timezone": TZ,
    "period": "quarter",
    "effective": {"from": f"{FUTURE}-01-01", "to": f"{FUTURE}-12-31"},
    "components": [
        commission(),
        contest("march", f"{FUTURE}-03-31", "1000"),
        contest("april", f"{FUTURE}-04-30", "500"),
    ],
}


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def store() -> CalcStore:
    fresh: CalcStore = FakeStore(memory_repositories())
    version = PlanVersion(plan_id="ae", version=1, document=PLAN, created_at=datetime.now(UTC))
    today = datetime.now(UTC).date().isoformat()
    await consume(
        fresh,
        version,
        payee("ann"),
        payee("bob"),
        deal("D1", close=f"{FUTURE}-02-10", amount="3000", changed=today),
        deal("D2", close=f"{FUTURE}-03-10", amount="2000", owner="bob", changed=today),
    )
    return fresh


def prizes(store: CalcStore) -> list[tuple[str, str, Decimal, date]]:
    return [
        (row.payee, row.component, row.amount, row.entry_date)
        for row in ledger_rows(store)
        if row.component in ("march", "april")
    ]


def test_a_contest_ends_when_its_last_day_is_over_in_the_plans_timezone() -> None:
    plan = load_plan(PLAN)
    # 1 April 05:00 UTC is still 31 March in Los Angeles; 08:00 UTC is 1 April there
    assert ended_contests("ae", [plan], datetime(FUTURE, 4, 1, 5, tzinfo=UTC)) == []
    assert ended_contests("ae", [plan], datetime(FUTURE, 4, 1, 8, tzinfo=UTC)) == [
        EndedContest("ae", "march", date(FUTURE, 3, 31))
    ]


async def test_prizes_are_posted_once_when_the_window_ends(store: CalcStore) -> None:
    assert prizes(store) == []  # the consumer ran before the end: no prize
    clock = Clock(datetime(FUTURE, 4, 1, 5, tzinfo=UTC))
    assert await settle_ended_contests(lambda: fake_uow(store), clock) == 0  # not over in LA yet
    assert prizes(store) == []

    clock.now = datetime(FUTURE, 4, 1, 8, tzinfo=UTC)
    assert await settle_ended_contests(lambda: fake_uow(store), clock) == 1
    assert prizes(store) == [("ann", "march", Decimal(1000), date(FUTURE, 3, 31))]
    [prize] = [row for row in ledger_rows(store) if row.component == "march"]
    assert prize.cause_event == f"contest:ae:march:{FUTURE}-03-31"

    # another pass, or a restart: settled contests are not reconciled again
    locks = len(plan_locks(store.repos))
    assert await settle_ended_contests(lambda: fake_uow(store), clock) == 0
    assert len(plan_locks(store.repos)) == locks
    assert await recompute(fake_uow(store), Principal(sub="ada", role="admin"), as_of=date(FUTURE, 4, 1)) == 0


async def test_a_pass_after_a_missed_moment_settles_every_contest_that_ended_meanwhile(
    store: CalcStore,
) -> None:
    clock = Clock(datetime(FUTURE, 6, 1, tzinfo=UTC))  # both windows ended while nobody looked
    assert await settle_ended_contests(lambda: fake_uow(store), clock) == 2
    assert sorted(prizes(store)) == [
        ("ann", "april", Decimal(500), date(FUTURE, 4, 30)),
        ("ann", "march", Decimal(1000), date(FUTURE, 3, 31)),
    ]
    assert await settle_ended_contests(lambda: fake_uow(store), clock) == 0
