"""Closing pay periods on the fake unit of work: in order, once, audited; closed statements
never change; late entries land in the next open pay period; a negative payable is carried;
draws continue from the balance frozen at the close."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from payout_fakes import fake_store, fake_uow, payee_record, plan_record
from payout_scenarios import PAYEES, feed, scenario
from payout_steps import ADMIN, TODAY, close, consume, entry, refused, rows

from payout_service.domain.periods import next_period
from payout_service.service_layer.handlers import on_ledger_entry, on_payee, on_plan_version
from payout_service.service_layer.pay_periods import close_pay_period, list_pay_periods
from payout_service.service_layer.statements import get_statement


async def test_pay_periods_close_in_order_once_and_audited() -> None:
    store = fake_store()
    await consume(store, on_ledger_entry, entry("e1", "100", "2027-01-10"))
    await consume(store, on_ledger_entry, entry("e2", "50", "2027-03-02"))
    problem = await refused(close_pay_period(fake_uow(store), ADMIN, "2027-02", TODAY))
    assert (problem.status, problem.detail) == (
        409,
        "pay period 2027-01 is still open; pay periods close in order",
    )
    await close(store, "2027-01")
    again = await refused(close_pay_period(fake_uow(store), ADMIN, "2027-01", TODAY))
    assert (again.status, again.detail) == (409, "pay period 2027-01 is already closed")
    skipping = await refused(close_pay_period(fake_uow(store), ADMIN, "2027-03", TODAY))
    assert (skipping.status, skipping.detail) == (
        409,
        "pay period 2027-02 is still open; pay periods close in order",
    )
    await close(store, "2027-02")  # nothing in it: it still closes, in its turn
    await close(store, "2027-03")
    assert [(a.action, a.entity, a.actor, a.after) for a in store.audits] == [
        ("pay_period.close", "pay_period:2027-01", "ada", {"status": "closed", "statements": 1}),
        ("pay_period.close", "pay_period:2027-02", "ada", {"status": "closed", "statements": 0}),
        ("pay_period.close", "pay_period:2027-03", "ada", {"status": "closed", "statements": 1}),
    ]
    listed = await list_pay_periods(fake_uow(store))
    assert [(p.pay_period, p.status, p.statements) for p in listed] == [
        ("2027-01", "closed", 1),
        ("2027-02", "closed", 0),
        ("2027-03", "closed", 1),
    ]
    bad = await refused(close_pay_period(fake_uow(store), ADMIN, "2027-13", TODAY))
    assert bad.status == 422 and bad.errors[0]["field"] == "pay_period"


async def test_a_closed_statement_never_changes_and_late_entries_land_in_the_next_open_one() -> None:
    store = fake_store()
    await consume(store, on_ledger_entry, entry("e1", "100.005", "2027-01-10"))
    await close(store, "2027-01")
    frozen = await rows(store)
    assert frozen["2027-01"]["status"] == "closed" and frozen["2027-01"]["payable"] == "100.01"
    # A reversal dated in January arrives after the close: it is paid in February.
    await consume(store, on_ledger_entry, entry("late", "-40", "2027-01-20", deal="generic:D-9"))
    after = await rows(store)
    assert after["2027-01"] == frozen["2027-01"]
    assert (after["2027-02"]["earned"], after["2027-02"]["payable"], after["2027-02"]["status"]) == (
        "-40",
        "-40.00",
        "open",
    )
    detail = await get_statement(fake_uow(store), ADMIN, "ann", "2027-02", TODAY)
    [line] = detail["lines"]
    assert (line["original_pay_period"], [e["entry_id"] for e in line["entries"]]) == ("2027-01", ["late"])
    january = await get_statement(fake_uow(store), ADMIN, "ann", "2027-01", TODAY)
    assert [e["entry_id"] for line in january["lines"] for e in line["entries"]] == ["e1"]
    assert january["lines"][0]["original_pay_period"] is None


async def test_a_negative_payable_is_carried_into_the_next_pay_period_and_shown_on_both() -> None:
    store = fake_store()
    await consume(store, on_ledger_entry, entry("e1", "100", "2027-01-10"))
    await consume(store, on_ledger_entry, entry("e2", "-300", "2027-01-20"))
    assert (await rows(store))["2027-01"]["payable"] == "-200.00"  # open: as provisio calc shows it
    await close(store, "2027-01")
    january = (await rows(store))["2027-01"]
    assert (january["payable"], january["carried_out"]) == ("0.00", "-200.00")
    february = (await rows(store))["2027-02"]  # nothing earned yet: the carried amount shows
    assert (february["carried_in"], february["payable"], february["entries"]) == ("-200.00", "-200.00", 0)
    await consume(store, on_ledger_entry, entry("e3", "500.004", "2027-02-03"))
    february = (await rows(store))["2027-02"]
    assert (february["earned"], february["carried_in"], february["payable"]) == (
        "500.004",
        "-200.00",
        "300.00",
    )
    await close(store, "2027-02")
    closed = await rows(store)
    assert (closed["2027-02"]["payable"], closed["2027-02"]["carried_out"]) == ("300.00", "0.00")
    assert "2027-03" not in closed


async def test_a_carried_amount_that_is_not_recovered_carries_again() -> None:
    store = fake_store()
    await consume(store, on_ledger_entry, entry("e1", "-300", "2027-01-20"))
    await close(store, "2027-01")
    await consume(store, on_ledger_entry, entry("e2", "100", "2027-02-03"))
    await close(store, "2027-02")
    found = await rows(store)
    assert (found["2027-02"]["carried_in"], found["2027-02"]["carried_out"], found["2027-02"]["payable"]) == (
        "-300.00",
        "-200.00",
        "0.00",
    )
    assert (found["2027-03"]["carried_in"], found["2027-03"]["payable"]) == ("-200.00", "-200.00")


async def test_a_draw_continues_from_the_balance_frozen_at_the_close() -> None:
    store = fake_store()
    await consume(store, on_plan_version, plan_record(draw={"amount": "1000", "per": "month"}))
    await consume(store, on_payee, payee_record("ann", plans=["flat"]))
    await consume(store, on_ledger_entry, entry("e1", "200", "2027-01-10"))
    await consume(store, on_ledger_entry, entry("e2", "1500", "2027-02-10"))
    today = date(2027, 3, 15)
    before = await rows(store, today=today)
    assert [
        (p, r["draw_topup"], r["recovered"], r["draw_balance"], r["payable"]) for p, r in before.items()
    ] == [
        ("2027-01", "800", "0", "-800", "1000.00"),
        ("2027-02", "0", "500", "-300", "1000.00"),
        ("2027-03", "1000", "0", "-1300", "1000.00"),
    ]
    await close(store, "2027-01", today)
    after = await rows(store, today=today)
    for pay_period in before:
        assert {k: v for k, v in after[pay_period].items() if k != "status"} == {
            k: v for k, v in before[pay_period].items() if k != "status"
        }
    assert [r["status"] for r in after.values()] == ["closed", "open", "open"]
    # A new plan version lowers the draw: closed January keeps its figures, February on
    # uses the new draw and still recovers the balance January froze.
    await consume(store, on_plan_version, plan_record(version=2, draw={"amount": "600", "per": "month"}))
    changed = await rows(store, today=today)
    assert changed["2027-01"] == after["2027-01"]
    assert (
        changed["2027-02"]["recovered"],
        changed["2027-02"]["draw_balance"],
        changed["2027-02"]["payable"],
    ) == (
        "800",
        "0",
        "700.00",
    )


@pytest.mark.parametrize("seed", range(12))
async def test_closing_pay_periods_one_by_one_keeps_every_figure_and_the_total_payable(seed: int) -> None:
    """Without late entries a close changes no figure, only where a negative payable is
    paid from: the sum of payables over all pay periods stays what provisio calc says."""
    case = scenario(seed, deals=10)
    store = fake_store()
    await feed(store, case)
    before = {p: await rows(store, p, case.as_of) for p in PAYEES}
    pay_periods = sorted({p.pay_period for p in case.result.payouts})
    first, last = pay_periods[0], pay_periods[-1]
    current = first
    while current <= last:
        await close(store, current, case.as_of)
        kind_next = await list_pay_periods(fake_uow(store))
        assert any(p.pay_period == current and p.status == "closed" for p in kind_next)
        current = next_period(current)
    for payee in PAYEES:
        after = await rows(store, payee, case.as_of)
        for pay_period, row in before[payee].items():
            kept = ("earned", "draw_topup", "recovered", "draw_balance", "non_cash", "entries")
            assert {k: after[pay_period][k] for k in kept} == {k: row[k] for k in kept}, (payee, pay_period)
            assert after[pay_period]["status"] == "closed"
        total_before = sum(Decimal(r["payable"]) for r in before[payee].values())
        total_after = sum(Decimal(r["payable"]) for r in after.values())
        assert total_after == total_before, payee
        assert all(Decimal(r["payable"]) >= 0 for p, r in after.items() if p <= last)
