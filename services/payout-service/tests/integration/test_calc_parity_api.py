"""provisio calc's payouts, to the cent, over the real consumer: the plan (with a draw),
the payees and the ledger entries the engine's lines produce travel through the broker
into payout-service; its statements over HTTP equal libs/calc's payouts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from payout_http import Payout, running_payout
from payout_scenarios import PAYEES, Scenario, figures, payouts_by_key, scenario

from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import CreateDb, eventually

CASE = next(
    case
    for case in (scenario(seed, deals=12, draw=True) for seed in range(100, 200))
    if case.plan.draw is not None
    and case.plan.draw.recoverable
    and any(p.recovered > 0 for p in case.result.payouts)
    and any(p.non_cash > 0 for p in case.result.payouts)
)


@pytest.fixture
async def payout(fresh_db: CreateDb, base_settings: ProvisioSettings) -> AsyncIterator[Payout]:
    async with running_payout(fresh_db, base_settings, CASE.as_of) as running:
        yield running


async def test_statements_over_the_consumer_equal_calc_payouts(payout: Payout) -> None:
    case: Scenario = CASE
    await payout.publish(case.plan_record(), "quota-service")
    for payee in case.payee_records():
        await payout.publish(payee, "quota-service")
    records = case.ledger_records()
    for record in records:
        await payout.publish(record)
    expected = payouts_by_key(case.result)

    async def shown() -> dict[tuple[str, str], object]:
        found: dict[tuple[str, str], object] = {}
        for payee in PAYEES:
            r = await payout.call("GET", f"/statements/{payee}", "admin", "ada")
            found.update(figures(r.json()["pay_periods"], payee))
        return found

    async def all_arrived() -> bool:
        entries = 0
        for payee in PAYEES:
            r = await payout.call("GET", f"/statements/{payee}", "admin", "ada")
            entries += sum(p["entries"] for p in r.json()["pay_periods"])
        return entries == len(records) and await shown() == expected

    await eventually(all_arrived, timeout_s=30)
    assert await shown() == expected
