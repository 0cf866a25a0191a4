"""While no pay period is closed, payout-service's statements equal `provisio calc`'s
payouts for the same inputs, to the cent: seeded random plans (most with a draw,
recoverable or not, some ending mid-year so balances are recovered after the draw stops),
deals with splits, cancellations and reductions inside and outside the clawback window,
non-cash contest prizes. The ledger entries the engine's lines produce go through the
real handlers into the fake unit of work; statements come from the real use case."""

from __future__ import annotations

from decimal import Decimal

import pytest
from payout_fakes import fake_store, fake_uow
from payout_scenarios import PAYEES, feed, figures, payouts_by_key, scenario

from payout_service.service_layer.statements import list_statements
from provisio_common.auth import Principal

ADMIN = Principal("ada", "admin")


@pytest.mark.parametrize("seed", range(40))
async def test_statements_equal_calc_payouts_to_the_cent(seed: int) -> None:
    case = scenario(seed)
    store = fake_store()
    await feed(store, case)
    shown = {}
    for payee in PAYEES:
        rows = await list_statements(fake_uow(store), ADMIN, payee, case.as_of)
        assert {r["status"] for r in rows} <= {"open"}
        assert all(Decimal(r["carried_in"]) == Decimal(r["adjustments"]) == 0 for r in rows)
        shown.update(figures(rows, payee))
    expected = payouts_by_key(case.result)
    assert shown.keys() == expected.keys()
    for key, figures_of in expected.items():
        assert shown[key] == figures_of, (key, case.plan.draw, case.plan.pay_frequency)


async def test_the_scenarios_cover_draws_recoveries_clawbacks_and_non_cash() -> None:
    """The seeds above are not all easy: some top up, recover, go negative, pay non-cash."""
    payouts = [p for seed in range(40) for p in scenario(seed).result.payouts]
    assert any(p.draw_topup > 0 for p in payouts)
    assert any(p.recovered > 0 for p in payouts)
    assert any(p.balance < 0 for p in payouts)
    assert any(p.payable < 0 for p in payouts)
    assert any(p.non_cash > 0 for p in payouts)
    assert any(p.earned < 0 for p in payouts)
