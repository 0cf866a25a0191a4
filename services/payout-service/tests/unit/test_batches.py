"""Batches and payroll on the fake unit of work: built from a closed pay period, lines that
sum to the payable, exceptions, the two-person rule, the pull cursor, idempotent
acknowledgements, rejected lines carried, paid on statements."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from payout_fakes import fake_store, fake_uow, payee_record, plan_record
from payout_steps import Store, close, consume, entry, refused, rows

from payout_service.domain.batches import Ack
from payout_service.service_layer.batches import (
    BatchWithLines,
    approve_batch,
    build_batch,
    cancel_batch,
    list_batches,
)
from payout_service.service_layer.handlers import on_ledger_entry, on_payee, on_plan_version
from payout_service.service_layer.payroll import acknowledge_lines, pull_batch, pull_page
from provisio_common.auth import Principal

ADA = Principal("ada", "admin")
BOB = Principal("bob", "admin")
PAYROLL = Principal("acme-payroll", "payroll")


async def january(store: Store) -> None:
    """ann (two commission entries, a bonus, a non-cash prize), bob (a clawback), cy (no
    payroll id) in January, closed."""
    await consume(store, on_plan_version, plan_record())
    await consume(store, on_payee, payee_record("ann", payroll_id="E-1", plans=["flat"]))
    await consume(store, on_payee, payee_record("bob", payroll_id="E-2", plans=["flat"]))
    await consume(store, on_payee, payee_record("cy", plans=["flat"]))
    for record in [
        entry("a1", "60.002", "2027-01-05"),
        entry("a2", "40.002", "2027-01-06"),
        entry("a3", "200.004", "2027-01-31", component="club"),
        entry("a4", "3000", "2027-01-31", component="trip", cash=False),
        entry("b1", "10.004", "2027-01-07", payee="bob"),
        entry("b2", "-3", "2027-01-20", payee="bob"),
        entry("c1", "70", "2027-01-08", payee="cy"),
    ]:
        await consume(store, on_ledger_entry, record)
    await close(store, "2027-01")


def lines_of(found: BatchWithLines) -> list[tuple[Any, ...]]:
    return [
        (line.payee, line.earning_code, str(line.amount), line.cash, line.status, line.entry_ids)
        for line in found.lines
    ]


async def test_a_batch_pays_each_payee_their_payable_in_lines_per_earning_code() -> None:
    store = fake_store()
    await january(store)
    found = await build_batch(fake_uow(store), ADA, "2027-01", None, None)
    batch = found.batch
    assert (batch.status, batch.currency, batch.pay_date, batch.built_by) == (
        "draft",
        "USD",
        date(2027, 1, 31),
        "ada",
    )
    assert lines_of(found) == [
        # ann: payable round(300.008) = 300.01; each line rounds down, the cent goes to the largest
        ("ann", "commission", "100.00", True, "pending", ("a1", "a2")),
        ("ann", "bonus", "200.01", True, "pending", ("a3",)),
        ("ann", "non_cash_award", "3000.00", False, "pending", ("a4",)),
        ("bob", "commission", "7.00", True, "pending", ("b1", "b2")),
        ("cy", "commission", "70.00", True, "exception", ("c1",)),
    ]
    assert [line.id for line in found.lines] == [f"{batch.id}-{n}" for n in range(1, 6)]
    statements = {p: (await rows(store, p))["2027-01"]["payable"] for p in ("ann", "bob", "cy")}
    assert statements == {"ann": "300.01", "bob": "7.00", "cy": "70.00"}
    assert [a.action for a in store.audits][-1] == "batch.build"
    assert store.audits[-1].after == {
        "status": "draft",
        "pay_period": "2027-01",
        "currency": "USD",
        "pay_date": "2027-01-31",
        "total": "307.01",
        "lines": 4,
        "exceptions": 1,
    }


async def test_a_batch_needs_a_closed_pay_period_and_is_built_once() -> None:
    store = fake_store()
    await january(store)
    await consume(store, on_ledger_entry, entry("f1", "5", "2027-02-02"))
    still_open = await refused(build_batch(fake_uow(store), ADA, "2027-02", None, None))
    assert (still_open.status, still_open.detail) == (
        409,
        "pay period 2027-02 is open; close it before building its batch",
    )
    nothing = await refused(build_batch(fake_uow(store), ADA, "2026-12", None, None))  # closed, empty
    assert (nothing.status, nothing.detail) == (409, "nothing to pay in 2026-12")
    first = await build_batch(fake_uow(store), ADA, "2027-01", "USD", date(2027, 2, 5))
    assert first.batch.pay_date == date(2027, 2, 5)
    twice = await refused(build_batch(fake_uow(store), ADA, "2027-01", None, None))
    assert twice.status == 409 and first.batch.id in twice.detail
    await cancel_batch(fake_uow(store), BOB, first.batch.id)
    again = await build_batch(fake_uow(store), ADA, "2027-01", None, None)
    assert lines_of(again) == lines_of(first)  # cancelled lines free their entries
    assert [b.batch.status for b in await list_batches(fake_uow(store), None)] == ["draft", "cancelled"]


async def test_approval_takes_a_second_admin_and_publishes_the_batch() -> None:
    store = fake_store()
    await january(store)
    built = await build_batch(fake_uow(store), ADA, "2027-01", None, None)
    own = await refused(approve_batch(fake_uow(store), ADA, built.batch.id))
    assert (own.status, own.detail) == (
        409,
        f"'ada' built batch {built.batch.id}; another admin must approve it",
    )
    assert store.published() == []
    approved = await approve_batch(fake_uow(store), BOB, built.batch.id)
    assert (approved.batch.status, approved.batch.approved_by) == ("approved", "bob")
    [event] = store.published()
    assert (event.type, event.source, event.subject) == (
        "payout.batch_approved",
        "payout-service",
        built.batch.id,
    )
    assert store.outbox[0].topic == "payouts.v1" and store.outbox[0].key == built.batch.id
    assert event.data["total"] == "307.01" and event.data["built_by"] == "ada"
    assert [(line["payee"], line["earning_code"], line["amount"]) for line in event.data["lines"]] == [
        ("ann", "commission", "100.00"),
        ("ann", "bonus", "200.01"),
        ("ann", "non_cash_award", "3000.00"),
        ("bob", "commission", "7.00"),
    ]
    twice = await refused(approve_batch(fake_uow(store), BOB, built.batch.id))
    assert twice.status == 409
    assert (await refused(approve_batch(fake_uow(store), BOB, "nope"))).status == 404


async def approved(store: Store) -> BatchWithLines:
    built = await build_batch(fake_uow(store), ADA, "2027-01", None, None)
    return await approve_batch(fake_uow(store), BOB, built.batch.id)


async def test_payroll_pages_approved_batches_with_a_stable_cursor() -> None:
    store = fake_store()
    await january(store)
    assert await pull_page(fake_uow(store), "approved", None, 10) == ([], None)
    first = await approved(store)
    page, cursor = await pull_page(fake_uow(store), "approved", None, 10)
    assert [b.batch.id for b in page] == [first.batch.id] and cursor is not None
    assert await pull_page(fake_uow(store), "approved", cursor, 10) == ([], cursor)
    # A batch approved later appears after the cursor.
    await consume(store, on_ledger_entry, entry("f1", "5", "2027-02-02"))
    await close(store, "2027-02")
    built = await build_batch(fake_uow(store), ADA, "2027-02", None, None)
    assert (await pull_page(fake_uow(store), "approved", cursor, 10))[0] == []  # a draft is not payroll's
    second = await approve_batch(fake_uow(store), BOB, built.batch.id)
    page, after = await pull_page(fake_uow(store), "approved", cursor, 10)
    assert [b.batch.id for b in page] == [second.batch.id] and after not in (None, cursor)
    assert [b.batch.id for b in (await pull_page(fake_uow(store), "approved", None, 1))[0]] == [
        first.batch.id
    ]
    bad = await refused(pull_page(fake_uow(store), "approved", "not-a-cursor", 10))
    assert bad.status == 422 and bad.errors[0]["field"] == "after"
    assert (await refused(pull_page(fake_uow(store), "draft", None, 10))).status == 422


async def test_a_pulled_batch_cannot_be_cancelled_and_a_draft_is_not_pulled() -> None:
    store = fake_store()
    await january(store)
    built = await build_batch(fake_uow(store), ADA, "2027-01", None, None)
    assert (await refused(pull_batch(fake_uow(store), PAYROLL, built.batch.id))).status == 404
    await approve_batch(fake_uow(store), BOB, built.batch.id)
    await pull_batch(fake_uow(store), Principal("otto", "ops"), built.batch.id)  # ops reading is no pull
    assert (await pull_batch(fake_uow(store), ADA, built.batch.id)).batch.pulled_at is None
    pulled = await pull_batch(fake_uow(store), PAYROLL, built.batch.id)
    assert pulled.batch.pulled_at is not None and store.audits[-1].action == "batch.pull"
    refusal = await refused(cancel_batch(fake_uow(store), BOB, built.batch.id))
    assert refusal.status == 409 and "pulled" in refusal.detail


async def test_acknowledgements_are_idempotent_settle_lines_and_show_as_paid() -> None:
    store = fake_store()
    await january(store)
    batch = await approved(store)
    ann_commission, ann_bonus, ann_award, bob_commission, _ = (line.id for line in batch.lines)
    acks = [
        Ack(ann_commission, "paid", "PR-1"),
        Ack(ann_bonus, "paid", "PR-2"),
        Ack(bob_commission, "rejected", reason="closed bank account"),
    ]
    first = await acknowledge_lines(fake_uow(store), PAYROLL, batch.batch.id, "k1", acks)
    assert first["status"] == "approved" and first["settled"] == [ann_commission, ann_bonus, bob_commission]
    events = store.published()[1:]
    assert [(e.type, e.data["line"]["line_id"], e.data["status"]) for e in events] == [
        ("payout.line_settled", ann_commission, "paid"),
        ("payout.line_settled", ann_bonus, "paid"),
        ("payout.line_settled", bob_commission, "rejected"),
    ]
    audits = len(store.audits)
    assert await acknowledge_lines(fake_uow(store), PAYROLL, batch.batch.id, "k1", acks) == first
    assert len(store.published()) == 4 and len(store.audits) == audits  # nothing changed
    other_body = await refused(acknowledge_lines(fake_uow(store), PAYROLL, batch.batch.id, "k1", acks[:1]))
    assert other_body.status == 422 and other_body.errors[0]["field"] == "Idempotency-Key"
    conflict = await refused(
        acknowledge_lines(fake_uow(store), PAYROLL, batch.batch.id, "k2", [Ack(ann_commission, "rejected")])
    )
    assert (conflict.status, conflict.detail) == (409, f"line {ann_commission} is already paid")
    unknown = await refused(
        acknowledge_lines(
            fake_uow(store), PAYROLL, batch.batch.id, "k3", [Ack(ann_award, "paid"), Ack("L-9", "paid")]
        )
    )
    assert unknown.status == 422 and unknown.errors == [
        {"field": "lines[1].line_id", "message": f"batch {batch.batch.id} has no line 'L-9'"}
    ]
    exception_line = batch.lines[-1].id  # cy's, held back: payroll never saw it
    assert (
        await refused(
            acknowledge_lines(fake_uow(store), PAYROLL, batch.batch.id, "k4", [Ack(exception_line, "paid")])
        )
    ).status == 422
    again = await acknowledge_lines(
        fake_uow(store), PAYROLL, batch.batch.id, "k5", [Ack(ann_commission, "paid")]
    )
    assert again["settled"] == [] and again["status"] == "approved"  # the same status again: no change
    last = await acknowledge_lines(fake_uow(store), PAYROLL, batch.batch.id, "k6", [Ack(ann_award, "paid")])
    assert last["status"] == "settled"
    assert store.published()[-1].data["batch_status"] == "settled"
    paid = {p: (await rows(store, p))["2027-01"]["paid"] for p in ("ann", "bob", "cy")}
    assert paid == {"ann": "300.01", "bob": "0.00", "cy": "0.00"}  # non-cash is not paid cash


async def test_rejected_and_held_back_lines_are_carried_into_the_next_batch() -> None:
    store = fake_store()
    await january(store)
    first = await approved(store)
    bob_line = first.lines[3]
    await acknowledge_lines(
        fake_uow(store), PAYROLL, first.batch.id, "k1", [Ack(bob_line.id, "rejected", reason="bank")]
    )
    await consume(store, on_payee, payee_record("cy", payroll_id="E-3", plans=["flat"]))  # cy now has one
    await consume(store, on_ledger_entry, entry("f1", "20", "2027-02-02"))
    await close(store, "2027-02")
    second = await build_batch(fake_uow(store), ADA, "2027-02", None, None)
    assert [
        (line.payee, line.pay_period, str(line.amount), line.status, line.carried_from, line.payroll_id)
        for line in second.lines
    ] == [
        ("ann", "2027-02", "20.00", "pending", None, "E-1"),
        ("bob", "2027-01", "7.00", "pending", bob_line.id, "E-2"),
        ("cy", "2027-01", "70.00", "pending", first.lines[4].id, "E-3"),
    ]
    live: list[str] = []
    for found in await list_batches(fake_uow(store), None):
        live += [e for line in found.lines if line.status in ("pending", "paid") for e in line.entry_ids]
    assert len(live) == len(set(live))
    # Cancelling the second batch frees the carried lines for the next one again.
    await cancel_batch(fake_uow(store), BOB, second.batch.id)
    rebuilt = await build_batch(fake_uow(store), ADA, "2027-02", None, None)
    assert [line.carried_from for line in rebuilt.lines] == [None, bob_line.id, first.lines[4].id]
    total = sum(line.amount for line in rebuilt.lines if line.cash)
    assert total == Decimal("97.00")
