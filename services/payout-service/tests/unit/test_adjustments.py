"""Adjustments on the fake unit of work: pending until another admin decides, only approved
ones count (in the draw arithmetic too), late approvals land in the next open pay period."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from payout_fakes import fake_store, fake_uow, payee_record, plan_record
from payout_steps import Store, close, consume, entry, refused, rows

from payout_service.service_layer.adjustments import create_adjustment, decide_adjustment, list_adjustments
from payout_service.service_layer.handlers import on_ledger_entry, on_payee, on_plan_version
from payout_service.service_layer.statements import get_statement
from provisio_common.auth import Principal

ADA = Principal("ada", "admin")
BOB = Principal("bob", "admin")
TODAY = date(2027, 12, 31)


async def adjust(store: Store, amount: str, pay_period: str | None = "2027-02", payee: str = "ann") -> str:
    created = await create_adjustment(
        fake_uow(store),
        ADA,
        payee=payee,
        amount=Decimal(amount),
        currency="USD",
        reason="spiff paid by hand",
        pay_period=pay_period,
        today=TODAY,
    )
    return created.id


async def test_an_adjustment_counts_only_once_another_admin_approves_it() -> None:
    store = fake_store()
    await consume(store, on_payee, payee_record("ann"))
    await consume(store, on_ledger_entry, entry("e1", "100", "2027-02-10"))
    first = await adjust(store, "-25.505")
    second = await adjust(store, "10")
    assert (await rows(store))["2027-02"]["payable"] == "100.00"  # pending: not counted
    own = await refused(decide_adjustment(fake_uow(store), ADA, first, approve=True))
    assert (own.status, own.detail) == (
        409,
        "'ada' created adjustment " + first + "; another admin must approve or reject it",
    )
    approved = await decide_adjustment(fake_uow(store), BOB, first, approve=True, reason="checked")
    assert (approved.status, approved.decided_by, approved.decision_reason) == ("approved", "bob", "checked")
    rejected = await decide_adjustment(fake_uow(store), BOB, second, approve=False)
    assert rejected.status == "rejected"
    again = await refused(decide_adjustment(fake_uow(store), BOB, first, approve=False))
    assert (again.status, again.detail) == (409, f"adjustment {first} is already approved")
    row = (await rows(store))["2027-02"]
    assert (row["earned"], row["adjustments"], row["payable"]) == ("100", "-25.505", "74.50")
    detail = await get_statement(fake_uow(store), ADA, "ann", "2027-02", TODAY)
    assert [(a["id"], a["amount"], a["original_pay_period"]) for a in detail["approved_adjustments"]] == [
        (first, "-25.505", None)
    ]
    assert [a.action for a in store.audits] == [
        "adjustment.create",
        "adjustment.create",
        "adjustment.approve",
        "adjustment.reject",
    ]
    assert (await refused(decide_adjustment(fake_uow(store), BOB, "nope", approve=True))).status == 404


async def test_adjustments_are_listed_by_payee_and_status() -> None:
    store = fake_store()
    for payee in ("ann", "cy"):
        await consume(store, on_payee, payee_record(payee))
    a1 = await adjust(store, "1")
    a2 = await adjust(store, "2", payee="cy")
    a3 = await adjust(store, "3")
    await decide_adjustment(fake_uow(store), BOB, a3, approve=True)
    assert [a.id for a in await list_adjustments(fake_uow(store), None, None)] == [a1, a2, a3]
    assert [a.id for a in await list_adjustments(fake_uow(store), "ann", None)] == [a1, a3]
    assert [a.id for a in await list_adjustments(fake_uow(store), "ann", "pending")] == [a1]
    assert [a.id for a in await list_adjustments(fake_uow(store), None, "approved")] == [a3]
    bad = await refused(list_adjustments(fake_uow(store), None, "maybe"))
    assert bad.status == 422 and bad.errors[0]["field"] == "status"


async def test_an_adjustment_is_refused_for_an_unknown_payee_a_bad_currency_or_pay_period() -> None:
    store = fake_store()
    await consume(store, on_payee, payee_record("ann"))
    unknown = await refused(adjust(store, "1", payee="nobody"))
    assert unknown.status == 422 and unknown.errors[0]["field"] == "payee"
    with pytest.raises(Exception) as bad_period:
        await adjust(store, "1", pay_period="2027-13")
    assert getattr(bad_period.value, "status", None) == 422
    bad_currency = await refused(
        create_adjustment(
            fake_uow(store),
            ADA,
            payee="ann",
            amount=Decimal(1),
            currency="XXY",
            reason="r",
            pay_period=None,
            today=TODAY,
        )
    )
    assert bad_currency.status == 422 and bad_currency.errors[0]["field"] == "currency"
    assert store.audits == []


async def test_the_pay_period_defaults_to_the_earliest_open_one() -> None:
    store = fake_store()
    await consume(store, on_payee, payee_record("ann"))
    await consume(store, on_ledger_entry, entry("e1", "100", "2027-01-10"))
    first = await create_adjustment(
        fake_uow(store),
        ADA,
        payee="ann",
        amount=Decimal(1),
        currency="USD",
        reason="r",
        pay_period=None,
        today=date(2027, 1, 20),
    )
    assert first.pay_period == "2027-01"  # nothing closed: today's pay period
    await close(store, "2027-01")
    second = await create_adjustment(
        fake_uow(store),
        ADA,
        payee="ann",
        amount=Decimal(1),
        currency="USD",
        reason="r",
        pay_period=None,
        today=date(2027, 5, 1),
    )
    assert second.pay_period == "2027-02"  # the first open one, not today's


async def test_an_adjustment_approved_after_its_pay_period_closed_lands_in_the_next_open_one() -> None:
    store = fake_store()
    await consume(store, on_payee, payee_record("ann"))
    await consume(store, on_ledger_entry, entry("e1", "100", "2027-01-10"))
    late = await adjust(store, "50", pay_period="2027-01")
    await close(store, "2027-01")
    approved = await decide_adjustment(fake_uow(store), BOB, late, approve=True)
    assert (approved.pay_period, approved.paid_in) == ("2027-01", "2027-02")
    found = await rows(store)
    assert (found["2027-01"]["adjustments"], found["2027-01"]["payable"]) == ("0", "100.00")
    assert (found["2027-02"]["adjustments"], found["2027-02"]["payable"]) == ("50", "50.00")
    detail = await get_statement(fake_uow(store), ADA, "ann", "2027-02", TODAY)
    assert [a["original_pay_period"] for a in detail["approved_adjustments"]] == ["2027-01"]


async def test_approved_adjustments_count_in_the_draw_arithmetic() -> None:
    store = fake_store()
    await consume(store, on_plan_version, plan_record(draw={"amount": "1000", "per": "month"}))
    await consume(store, on_payee, payee_record("ann", plans=["flat"]))
    await consume(store, on_ledger_entry, entry("e1", "300", "2027-01-10"))
    adjustment = await adjust(store, "400", pay_period="2027-01")
    await decide_adjustment(fake_uow(store), BOB, adjustment, approve=True)
    january = (await rows(store, today=date(2027, 1, 31)))["2027-01"]
    assert (january["earned"], january["adjustments"], january["draw_topup"], january["draw_balance"]) == (
        "300",
        "400",
        "300",
        "-300",
    )
    assert january["payable"] == "1000.00"
