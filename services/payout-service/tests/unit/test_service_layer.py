"""payout-service's handlers and statement use cases on the fake unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from payout_fakes import fake_store, fake_uow, ledger_record, payee_record

from payout_service.adapters.repositories import PayoutRepositories
from payout_service.domain.payees import Payee
from payout_service.service_layer import PayoutUoW
from payout_service.service_layer.handlers import ledger_entry, on_ledger_entry, on_payee
from payout_service.service_layer.statements import get_statement, list_statements
from provisio_common.auth import Principal, Role
from provisio_common.events import Schema
from provisio_common.problems import Problem
from provisio_common.testing.fakes import FakeStore

Store = FakeStore[PayoutRepositories]
TODAY = date(2027, 12, 31)


async def consume(store: Store, handler: Callable[[PayoutUoW, Any], Awaitable[None]], record: Schema) -> None:
    """What the consumer does around a handler: one unit of work, committed."""
    async with fake_uow(store) as uow:
        await handler(uow, record)
        await uow.commit()


async def company(store: Store) -> None:
    """top <- mgr <- (ann, lead <- carl); top <- zed <- bob."""
    for payee, manager in [
        ("top", None),
        ("mgr", "top"),
        ("ann", "mgr"),
        ("lead", "mgr"),
        ("carl", "lead"),
        ("zed", "top"),
        ("bob", "zed"),
    ]:
        await consume(store, on_payee, payee_record(payee, manager))
    for payee in ("top", "mgr", "ann", "lead", "carl", "zed", "bob"):
        await consume(store, on_ledger_entry, ledger_record(f"e-{payee}", payee))


async def test_a_ledger_entry_is_stored_with_every_field() -> None:
    store = fake_store()
    record = ledger_record("e1", amount="125.555", cash=False, deal=None, explanation={"why": ["a", 1]})
    await consume(store, on_ledger_entry, record)
    async with fake_uow(store) as uow:
        [stored] = await uow.repos.ledger.by_payee("ann")
    assert stored == ledger_entry(record)
    assert (stored.amount, stored.cash, stored.deal, stored.plan_version) == (
        Decimal("125.555"),
        False,
        None,
        1,
    )


async def test_a_republished_ledger_entry_is_stored_once() -> None:
    store = fake_store()
    await consume(store, on_ledger_entry, ledger_record("e1", amount="125"))
    # The same entry in a new envelope (calc-engine re-published its outbox): append-only,
    # the first copy stays, whatever the second says.
    await consume(store, on_ledger_entry, ledger_record("e1", amount="999"))
    async with fake_uow(store) as uow:
        [only] = await uow.repos.ledger.by_payee("ann")
    assert (only.entry_id, only.amount) == ("e1", Decimal("125"))
    [row] = await list_statements(fake_uow(store), Principal("ann", "rep"), "ann", TODAY)
    assert (row["entries"], row["payable"]) == (1, "125.00")


async def test_handlers_publish_and_audit_nothing() -> None:
    store = fake_store()
    await consume(store, on_ledger_entry, ledger_record("e1"))
    await consume(store, on_payee, payee_record("ann"))
    assert store.published() == [] and store.audits == []


async def test_a_payee_record_inserts_then_replaces_name_and_manager() -> None:
    store = fake_store()
    await consume(store, on_payee, payee_record("ann", "mgr", "Ann"))
    await consume(store, on_payee, payee_record("ann", None, "Ann Lee"))
    async with fake_uow(store) as uow:
        assert await uow.repos.payees.get("ann") == Payee("ann", "Ann Lee", None)
        assert await uow.repos.payees.managers() == {"ann": None}


async def test_a_rep_reads_only_their_own_statements() -> None:
    store = fake_store()
    await company(store)
    ann = Principal("ann", "rep")
    assert [r["pay_period"] for r in await list_statements(fake_uow(store), ann, "ann", TODAY)] == ["2027-02"]
    assert (await get_statement(fake_uow(store), ann, "ann", "2027-02", TODAY))["pay_period"] == "2027-02"
    for payee in ("bob", "mgr", "carl"):
        with pytest.raises(Problem) as refused:
            await list_statements(fake_uow(store), ann, payee, TODAY)
        assert refused.value.status == 403
    with pytest.raises(Problem) as refused:
        await get_statement(fake_uow(store), ann, "bob", "2027-02", TODAY)
    assert refused.value.status == 403


async def test_a_manager_reads_their_subtree_and_no_one_above_or_beside() -> None:
    store = fake_store()
    await company(store)
    mgr = Principal("mgr", "manager")
    for payee in ("mgr", "ann", "lead", "carl"):
        assert len(await list_statements(fake_uow(store), mgr, payee, TODAY)) == 1
        assert (await get_statement(fake_uow(store), mgr, payee, "2027-02", TODAY))["lines"]
    for payee in ("top", "zed", "bob", "nobody-known"):
        with pytest.raises(Problem) as refused:
            await list_statements(fake_uow(store), mgr, payee, TODAY)
        assert refused.value.status == 403


async def test_a_rep_role_does_not_see_reports_even_if_the_hierarchy_says_so() -> None:
    store = fake_store()
    await company(store)
    with pytest.raises(Problem) as refused:
        await list_statements(fake_uow(store), Principal("mgr", "rep"), "ann", TODAY)
    assert refused.value.status == 403


async def test_payroll_reads_batches_not_statements() -> None:
    store = fake_store()
    await company(store)
    for payee in ("ann", "payroll"):
        with pytest.raises(Problem) as refused:
            await list_statements(fake_uow(store), Principal("payroll", "payroll"), payee, TODAY)
        assert refused.value.status == 403
    with pytest.raises(Problem) as refused:
        await get_statement(fake_uow(store), Principal("payroll", "payroll"), "ann", "2027-02", TODAY)
    assert refused.value.status == 403


@pytest.mark.parametrize("role", ["admin", "ops"])
async def test_admin_and_ops_read_everyone(role: Role) -> None:
    store = fake_store()
    await company(store)
    reader = Principal("someone", role)
    for payee in ("top", "ann", "bob", "carl"):
        assert len(await list_statements(fake_uow(store), reader, payee, TODAY)) == 1
        assert (await get_statement(fake_uow(store), reader, payee, "2027-02", TODAY))["totals"]


async def test_an_empty_pay_period_is_404_but_only_for_who_may_see_it() -> None:
    store = fake_store()
    await company(store)
    with pytest.raises(Problem) as missing:
        await get_statement(fake_uow(store), Principal("ann", "rep"), "ann", "2027-03", TODAY)
    assert (missing.value.status, missing.value.detail) == (404, "no statement for 'ann' in '2027-03'")
    with pytest.raises(Problem) as refused:
        await get_statement(fake_uow(store), Principal("bob", "rep"), "ann", "2027-03", TODAY)
    assert refused.value.status == 403


async def test_a_payee_without_entries_has_an_empty_list_not_a_404() -> None:
    store = fake_store()
    assert await list_statements(fake_uow(store), Principal("ann", "rep"), "ann", TODAY) == []


async def test_a_statement_holds_only_its_payee_and_pay_period() -> None:
    store = fake_store()
    for record in [
        ledger_record("a1", "ann", amount="100"),
        ledger_record("a2", "ann", amount="0.555", component="bonus"),
        ledger_record("a3", "ann", amount="7", pay_period="2027-03", entry_date="2027-03-01"),
        ledger_record("b1", "bob", amount="50"),
    ]:
        await consume(store, on_ledger_entry, record)
    admin = Principal("ada", "admin")
    detail = await get_statement(fake_uow(store), admin, "ann", "2027-02", TODAY)
    assert [(line["component"], line["amount"]) for line in detail["lines"]] == [
        ("bonus", "0.555"),
        ("commission", "100"),
    ]
    assert [(t["currency"], t["earned"], t["payable"]) for t in detail["totals"]] == [
        ("USD", "100.555", "100.56")
    ]
    periods = await list_statements(fake_uow(store), admin, "ann", TODAY)
    assert [(p["pay_period"], p["payable"], p["entries"]) for p in periods] == [
        ("2027-02", "100.56", 2),
        ("2027-03", "7.00", 1),
    ]
