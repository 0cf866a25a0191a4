"""One conformance suite per repository of payout-service, run against the in-memory
fakes (`payout_fakes`) and the SQL implementations on the real embedded Postgres, so the
fakes the unit tests use cannot drift from what production does.

The Postgres database is migrated once per module; each test uses its own keys.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from payout_fakes import deal_record, fake_store, fake_uow, ledger_record

from payout_service.adapters.repositories import sql_repositories
from payout_service.adapters.tables import shared
from payout_service.bootstrap import MIGRATIONS
from payout_service.domain.accounting import DealTerms
from payout_service.domain.adjustments import Adjustment
from payout_service.domain.batches import AckRecord, Batch, BatchLine
from payout_service.domain.disputes import Dispute, DisputeMessage
from payout_service.domain.errors import Conflict
from payout_service.domain.payees import Assignment, Payee
from payout_service.domain.periods import ClosedPayPeriod
from payout_service.domain.plans import PlanVersionDoc
from payout_service.domain.statements import LedgerEntry, StatementRow
from payout_service.service_layer import PayoutUoW
from payout_service.service_layer.handlers import ledger_entry
from provisio_common.embedded import EmbeddedPostgres
from provisio_common.testing.plugin import CreateDb, migrated_units_of_work, sql_or_fake

UoWFactory = Callable[[], PayoutUoW]


@pytest.fixture(scope="module")
async def sql_uow(module_db: CreateDb, embedded_pg: EmbeddedPostgres) -> AsyncIterator[UoWFactory]:
    async with migrated_units_of_work(
        embedded_pg,
        module_db,
        "payout",
        migrations=MIGRATIONS,
        tables=shared,
        repositories=sql_repositories,
        source="payout-service",
    ) as units:
        yield units


@pytest.fixture(params=["sql", "fake"])
def uow(request: pytest.FixtureRequest) -> UoWFactory:
    store = fake_store()
    return sql_or_fake(request, "sql_uow", lambda: fake_uow(store))


@pytest.fixture
def key() -> str:
    """A prefix no other test uses (the Postgres database is shared by the module)."""
    return uuid.uuid4().hex[:8]


def entry(entry_id: str, payee: str, **fields: object) -> LedgerEntry:
    return ledger_entry(ledger_record(entry_id, payee, **fields))


class TestLedgerEntries:
    async def test_an_added_entry_reads_back_with_every_field(self, uow: UoWFactory, key: str) -> None:
        stored = entry(
            f"{key}-e1",
            f"{key}-ann",
            amount="125.555000",
            cash=False,
            deal=None,
            rounding="half_even",
            explanation={"rate": "0.10", "deal_credit": {"deal": "generic:D-1", "share": "1"}, "n": 3},
        )
        async with uow() as work:
            assert await work.repos.ledger.add(stored)
            await work.commit()
        async with uow() as work:
            assert await work.repos.ledger.by_payee(f"{key}-ann") == [stored]
            [read] = await work.repos.ledger.by_payee_and_pay_period(f"{key}-ann", "2027-02")
        assert str(read.amount) == "125.555000" and read.posted_at == stored.posted_at

    async def test_an_entry_id_is_stored_once_and_the_first_copy_stays(
        self, uow: UoWFactory, key: str
    ) -> None:
        first = entry(f"{key}-e1", f"{key}-ann", amount="125")
        async with uow() as work:
            assert await work.repos.ledger.add(first)
            assert not await work.repos.ledger.add(replace(first, amount=Decimal("1")))
            await work.commit()
        async with uow() as work:
            assert not await work.repos.ledger.add(replace(first, amount=Decimal("999")))
            await work.commit()
        async with uow() as work:
            assert await work.repos.ledger.by_payee(f"{key}-ann") == [first]

    async def test_entries_of_a_payee_come_by_date_then_id_and_only_theirs(
        self, uow: UoWFactory, key: str
    ) -> None:
        ann, bob = f"{key}-ann", f"{key}-bob"
        late = entry(f"{key}-a", ann, entry_date="2027-02-20")
        b = entry(f"{key}-b", ann)
        c = entry(f"{key}-c", ann)
        march = entry(f"{key}-0", ann, pay_period="2027-03", entry_date="2027-03-01")
        other = entry(f"{key}-d", bob)
        async with uow() as work:
            for e in (march, late, c, other, b):
                await work.repos.ledger.add(e)
            await work.commit()
        async with uow() as work:
            assert await work.repos.ledger.by_payee(ann) == [b, c, late, march]
            assert await work.repos.ledger.by_payee_and_pay_period(ann, "2027-02") == [b, c, late]
            assert await work.repos.ledger.by_payee_and_pay_period(ann, "2027-03") == [march]
            assert await work.repos.ledger.by_payee_and_pay_period(bob, "2027-03") == []
            assert await work.repos.ledger.by_payee(f"{key}-nobody") == []
        assert march.entry_date == date(2027, 3, 1)

    async def test_a_late_entry_is_read_in_the_pay_period_it_landed_in(
        self, uow: UoWFactory, key: str
    ) -> None:
        ann = f"{key}-ann"
        on_time = entry(f"{key}-a", ann)
        late = replace(entry(f"{key}-b", ann, entry_date="2027-02-20"), landed_in="2027-03")
        async with uow() as work:
            await work.repos.ledger.add(on_time)
            await work.repos.ledger.add(late)
            await work.commit()
        async with uow() as work:
            assert await work.repos.ledger.by_payee_and_pay_period(ann, "2027-02") == [on_time]
            assert await work.repos.ledger.by_payee_and_pay_period(ann, "2027-03") == [late]
            assert {ann} <= await work.repos.ledger.payees()
            assert {"2027-02", "2027-03"} <= await work.repos.ledger.pay_periods()

    async def test_an_entry_not_committed_is_not_stored(self, uow: UoWFactory, key: str) -> None:
        async with uow() as work:
            await work.repos.ledger.add(entry(f"{key}-e1", f"{key}-ann"))
        async with uow() as work:
            assert await work.repos.ledger.by_payee(f"{key}-ann") == []


class TestPayees:
    async def test_a_payee_keeps_payroll_id_and_assignments(self, uow: UoWFactory, key: str) -> None:
        ann = Payee(
            f"{key}-ann",
            "Ann",
            None,
            "E-1",
            (Assignment("ae", date(2027, 1, 1), None), Assignment("se", None, date(2027, 6, 30))),
        )
        async with uow() as work:
            await work.repos.payees.upsert(ann)
            await work.commit()
        async with uow() as work:
            assert await work.repos.payees.get(ann.id) == ann
            assert ann in await work.repos.payees.all()
            await work.repos.payees.upsert(replace(ann, payroll_id=None, assignments=()))
            await work.commit()
        async with uow() as work:
            assert await work.repos.payees.get(ann.id) == replace(ann, payroll_id=None, assignments=())

    async def test_upsert_inserts_then_replaces_name_and_manager(self, uow: UoWFactory, key: str) -> None:
        ann = Payee(f"{key}-ann", "Ann", f"{key}-mgr")
        async with uow() as work:
            assert await work.repos.payees.get(ann.id) is None
            await work.repos.payees.upsert(ann)
            await work.commit()
        async with uow() as work:
            assert await work.repos.payees.get(ann.id) == ann
            await work.repos.payees.upsert(Payee(ann.id, "Ann Lee", None))
            await work.commit()
        async with uow() as work:
            assert await work.repos.payees.get(ann.id) == Payee(ann.id, "Ann Lee", None)

    async def test_managers_map_every_payee_to_its_manager(self, uow: UoWFactory, key: str) -> None:
        hierarchy = {f"{key}-top": None, f"{key}-mgr": f"{key}-top", f"{key}-ann": f"{key}-mgr"}
        async with uow() as work:
            for payee, manager in hierarchy.items():
                await work.repos.payees.upsert(Payee(payee, payee, manager))
            await work.commit()
        async with uow() as work:
            managers = await work.repos.payees.managers()
        assert {p: m for p, m in managers.items() if p.startswith(key)} == hierarchy

    async def test_a_payee_not_committed_is_not_stored(self, uow: UoWFactory, key: str) -> None:
        async with uow() as work:
            await work.repos.payees.upsert(Payee(f"{key}-ann", "Ann", None))
        async with uow() as work:
            assert await work.repos.payees.get(f"{key}-ann") is None
            assert f"{key}-ann" not in await work.repos.payees.managers()


AT = datetime(2027, 2, 1, 12, tzinfo=UTC)


class TestPlanVersions:
    async def test_every_version_is_kept_and_the_latest_read(self, uow: UoWFactory, key: str) -> None:
        v1 = PlanVersionDoc(f"{key}-p", 1, {"id": f"{key}-p", "draw": {"amount": "1.50"}}, AT)
        v2 = PlanVersionDoc(f"{key}-p", 2, {"id": f"{key}-p", "n": [1, "x"]}, AT)
        async with uow() as work:
            assert await work.repos.plans.add(v2)
            assert await work.repos.plans.add(v1)
            assert not await work.repos.plans.add(replace(v1, document={}))
            await work.commit()
        async with uow() as work:
            assert (await work.repos.plans.latest())[f"{key}-p"] == v2
            assert await work.repos.plans.get(f"{key}-p", 1) == v1
            assert await work.repos.plans.get(f"{key}-p", 3) is None


def row(payee: str, pay_period: str, **fields: Any) -> StatementRow:
    values: dict[str, Any] = {
        "payee": payee,
        "pay_period": pay_period,
        "currency": "USD",
        "status": "closed",
        "earned": Decimal("100.005"),
        "adjustments": Decimal("-1.5"),
        "draw_topup": Decimal("0"),
        "recovered": Decimal("12.3456789012345678901234567"),
        "draw_balance": Decimal("-500"),
        "carried_in": Decimal("-2.00"),
        "carried_out": Decimal("0"),
        "payable": Decimal("84.21"),
        "non_cash": Decimal("3000"),
        "entries": 4,
        "rounding": "half_even",
        "balances": {"ae": Decimal("-500"), "se": Decimal("0")},
    }
    return StatementRow(**{**values, **fields})


class TestPayPeriods:
    async def test_a_close_keeps_its_frozen_rows_exactly(self, uow: UoWFactory, key: str) -> None:
        pay_period = f"20{int(key[:6], 16) % 80 + 10}-07"  # one per test run: closes are global
        rows = [
            row(f"{key}-ann", pay_period),
            row(f"{key}-bob", pay_period, currency="JPY", payable=Decimal(9)),
        ]
        close = ClosedPayPeriod(pay_period, AT, "ada", 2)
        async with uow() as work:
            await work.repos.pay_periods.lock(exclusive=True)
            await work.repos.pay_periods.close(close, rows)
            await work.commit()
        async with uow() as work:
            await work.repos.pay_periods.lock(exclusive=False)
            assert close in await work.repos.pay_periods.closed()
            assert await work.repos.pay_periods.frozen(f"{key}-ann") == [rows[0]]
            found = [r for r in await work.repos.pay_periods.frozen_in(pay_period) if r.payee.startswith(key)]
            assert found == rows
            [ann] = await work.repos.pay_periods.frozen(f"{key}-ann")
        assert str(ann.recovered) == "12.3456789012345678901234567" and ann.balances == rows[0].balances


def adjustment(adjustment_id: str, payee: str, **fields: Any) -> Adjustment:
    values: dict[str, Any] = {
        "id": adjustment_id,
        "payee": payee,
        "amount": Decimal("-25.505"),
        "currency": "USD",
        "reason": "by hand",
        "pay_period": "2027-02",
        "status": "pending",
        "created_by": "ada",
        "created_at": AT,
    }
    return Adjustment(**{**values, **fields})


class TestAdjustments:
    async def test_adjustments_are_stored_decided_and_found(self, uow: UoWFactory, key: str) -> None:
        ann, bob = f"{key}-ann", f"{key}-bob"
        first = adjustment(f"{key}-1", ann)
        second = adjustment(f"{key}-2", bob, created_at=AT + timedelta(seconds=1))
        third = adjustment(f"{key}-3", ann, created_at=AT + timedelta(seconds=2))
        async with uow() as work:
            for a in (third, first, second):
                await work.repos.adjustments.add(a)
            await work.commit()
        decided = replace(first, status="approved", decided_by="bob", decided_at=AT, landed_in="2027-03")
        async with uow() as work:
            assert await work.repos.adjustments.get(first.id) == first
            await work.repos.adjustments.save(decided)
            await work.commit()
        async with uow() as work:
            assert await work.repos.adjustments.get(first.id) == decided
            assert await work.repos.adjustments.find(payee=ann) == [decided, third]
            assert await work.repos.adjustments.find(payee=ann, status="pending") == [third]
            mine = [a for a in await work.repos.adjustments.find(status="pending") if a.payee.startswith(key)]
            assert mine == [second, third]
            assert await work.repos.adjustments.get(f"{key}-none") is None


def dispute(dispute_id: str, payee: str, **fields: Any) -> Dispute:
    values: dict[str, Any] = {
        "id": dispute_id,
        "payee": payee,
        "pay_period": "2027-01",
        "entry_id": None,
        "component": None,
        "message": "the spif is missing ✓",
        "status": "open",
        "opened_by": payee,
        "opened_at": AT,
    }
    return Dispute(**{**values, **fields})


class TestDisputes:
    async def test_disputes_are_stored_resolved_with_their_adjustment_and_found(
        self, uow: UoWFactory, key: str
    ) -> None:
        ann, bob = f"{key}-ann", f"{key}-bob"
        first = dispute(f"{key}-1", ann, entry_id="e-1", component="commission")
        second = dispute(f"{key}-2", bob, opened_at=AT + timedelta(seconds=1))
        third = dispute(f"{key}-3", ann, opened_at=AT + timedelta(seconds=2))
        async with uow() as work:
            for d in (third, first, second):
                await work.repos.disputes.add(d)
            await work.commit()
        money = adjustment(f"{key}-adj", ann, amount=Decimal("250.00"))
        resolved = replace(
            first,
            status="resolved",
            outcome="accepted",
            resolved_by="ada",
            resolved_at=AT + timedelta(hours=1),
            adjustment_id=money.id,
        )
        async with uow() as work:
            assert await work.repos.disputes.get(first.id, for_update=True) == first
            await work.repos.adjustments.add(money)
            await work.repos.disputes.save(resolved)
            await work.commit()
        async with uow() as work:
            assert await work.repos.disputes.get(first.id) == resolved
            assert await work.repos.disputes.find(payees=[ann]) == [resolved, third]
            assert await work.repos.disputes.find(payees={ann, bob}, status="open") == [second, third]
            assert await work.repos.disputes.find(payees=[ann], status="resolved") == [resolved]
            mine = [d for d in await work.repos.disputes.find() if d.payee.startswith(key)]
            assert mine == [resolved, second, third]
            assert await work.repos.disputes.find(payees=[]) == []
            assert await work.repos.disputes.get(f"{key}-none") is None

    async def test_a_thread_keeps_its_order_and_a_position_once(self, uow: UoWFactory, key: str) -> None:
        d = dispute(f"{key}-1", f"{key}-ann")
        messages = [
            DisputeMessage(d.id, 0, "opened", d.payee, "rep", "missing", AT),
            DisputeMessage(d.id, 1, "comment", "mgr", "manager", "looking\n", AT),
            DisputeMessage(d.id, 2, "resolved", "ada", "admin", "x" * 4000, AT + timedelta(seconds=1)),
        ]
        async with uow() as work:
            await work.repos.disputes.add(d)
            for m in reversed(messages):
                await work.repos.disputes.add_message(m)
            await work.commit()
        async with uow() as work:
            assert await work.repos.disputes.thread(d.id) == messages
            assert await work.repos.disputes.thread(f"{key}-none") == []
            with pytest.raises(Conflict):
                await work.repos.disputes.add_message(replace(messages[1], body="again"))
            await work.repos.disputes.add_message(replace(messages[1], position=3, body="later"))
            await work.commit()
        async with uow() as work:
            assert [m.body for m in await work.repos.disputes.thread(d.id)] == [
                "missing",
                "looking\n",
                "x" * 4000,
                "later",
            ]

    async def test_open_disputes_are_counted_and_the_oldest_is_open_since_its_last_reopen(
        self, uow: UoWFactory, key: str
    ) -> None:
        old = datetime(2001, 1, 1, tzinfo=UTC)
        async with uow() as work:
            count, _ = await work.repos.disputes.open_summary()
        reopened = dispute(
            f"{key}-1",
            f"{key}-ann",
            opened_at=old - timedelta(days=400),
            reopens=1,
            reopened_at=old + timedelta(days=90),
        )
        waiting = dispute(f"{key}-2", f"{key}-ann", opened_at=old)
        resolved = dispute(
            f"{key}-3",
            f"{key}-ann",
            opened_at=old - timedelta(days=800),
            status="resolved",
            outcome="rejected",
        )
        async with uow() as work:
            for d in (reopened, waiting, resolved):
                await work.repos.disputes.add(d)
            await work.commit()
        async with uow() as work:
            assert await work.repos.disputes.open_summary() == (count + 2, old)
            await work.repos.disputes.save(replace(waiting, status="resolved", outcome="accepted"))
            await work.commit()
        async with uow() as work:
            assert await work.repos.disputes.open_summary() == (count + 1, old + timedelta(days=90))


def batch(batch_id: str, **fields: Any) -> Batch:
    values: dict[str, Any] = {
        "id": batch_id,
        "pay_period": "2027-01",
        "currency": batch_id[-3:],
        "pay_date": date(2027, 1, 31),
        "status": "draft",
        "built_by": "ada",
        "built_at": AT,
    }
    return Batch(**{**values, **fields})


def line(line_id: str, batch_id: str, entry_ids: tuple[str, ...], **fields: Any) -> BatchLine:
    values: dict[str, Any] = {
        "id": line_id,
        "batch_id": batch_id,
        "payee": "ann",
        "payroll_id": "E-1",
        "pay_period": "2027-01",
        "currency": batch_id[-3:],
        "earning_code": "commission",
        "amount": Decimal("100.01"),
        "cash": True,
        "status": "pending",
        "entry_ids": entry_ids,
        "adjustment_ids": (),
    }
    return BatchLine(**{**values, **fields})


class TestBatches:
    async def test_a_batch_and_its_lines_read_back_in_order(self, uow: UoWFactory, key: str) -> None:
        b = batch(f"{key}-USD")
        lines = [
            line(f"{key}-2", b.id, (f"{key}-e1", f"{key}-e2"), payee=f"{key}-ann"),
            line(
                f"{key}-1", b.id, (), earning_code="adjustment", adjustment_ids=("a-1",), payee=f"{key}-ann"
            ),
            line(f"{key}-3", b.id, (f"{key}-e3",), status="exception", payroll_id=None, payee=f"{key}-cy"),
        ]
        async with uow() as work:
            await work.repos.batches.lock("build")
            await work.repos.batches.add(b, lines)
            await work.commit()
        async with uow() as work:
            assert await work.repos.batches.get(b.id) == b
            assert await work.repos.batches.lines([b.id, f"{key}-none"]) == {b.id: lines, f"{key}-none": []}
            assert await work.repos.batches.lines_of_payee(f"{key}-ann") == lines[:2]
            assert await work.repos.batches.for_pay_period("2027-01", b.currency) == b
            assert await work.repos.batches.carryable(b.currency) == [lines[2]]
            assert b in await work.repos.batches.find("draft")
            assert await work.repos.batches.get(f"{key}-none") is None

    async def test_an_entry_is_in_one_live_line_and_a_pay_period_in_one_live_batch(
        self, uow: UoWFactory, key: str
    ) -> None:
        first = batch(f"{key}-EUR")
        async with uow() as work:
            await work.repos.batches.add(first, [line(f"{key}-1", first.id, (f"{key}-e1",))])
            await work.commit()
        clash = batch(f"{key}-x-EUR", pay_period="2027-02", currency=first.currency)
        async with uow() as work:
            with pytest.raises(Conflict):
                await work.repos.batches.add(
                    clash, [line(f"{key}-2", clash.id, (f"{key}-e1",), currency="EUR")]
                )
        async with uow() as work:
            with pytest.raises(Conflict):  # the same pay period and currency again
                await work.repos.batches.add(batch(f"{key}-y-EUR", currency=first.currency), [])
        async with uow() as work:
            assert await work.repos.batches.get(clash.id) is None
            await work.repos.batches.save(
                replace(first, status="cancelled", cancelled_by="bob", cancelled_at=AT)
            )
            await work.repos.batches.save_lines(
                [line(f"{key}-1", first.id, (f"{key}-e1",), status="cancelled")]
            )
            await work.commit()
        async with uow() as work:  # cancelled: its entries and its pay period are free again
            await work.repos.batches.add(clash, [line(f"{key}-2", clash.id, (f"{key}-e1",), currency="EUR")])
            await work.repos.batches.add(batch(f"{key}-y-EUR", currency=first.currency), [])
            await work.commit()
        async with uow() as work:
            assert await work.repos.batches.for_pay_period("2027-01", first.currency) == batch(
                f"{key}-y-EUR", currency=first.currency
            )

    async def test_lines_settle_carry_once_and_approved_batches_page_in_order(
        self, uow: UoWFactory, key: str
    ) -> None:
        b = batch(f"{key}-GBP")
        lines = [line(f"{key}-1", b.id, (f"{key}-e1",)), line(f"{key}-2", b.id, (f"{key}-e2",))]
        async with uow() as work:
            await work.repos.batches.add(b, lines)
            seq = await work.repos.batches.next_approval_seq()
            approved = replace(b, status="approved", approved_by="bob", approved_at=AT, approval_seq=seq)
            await work.repos.batches.save(approved)
            await work.commit()
        paid = replace(lines[0], status="paid", payroll_ref="PR-1", settled_at=AT)
        rejected = replace(lines[1], status="rejected", reason="bank", settled_at=AT)
        async with uow() as work:
            assert await work.repos.batches.approved_after(["approved"], seq - 1, 10) == [approved]
            assert await work.repos.batches.approved_after(["approved"], seq, 10) == []
            assert await work.repos.batches.approved_after(["settled"], seq - 1, 10) == []
            assert await work.repos.batches.next_approval_seq() > seq
            oldest = await work.repos.batches.oldest_unsettled_approval()
            assert oldest is not None and oldest <= AT
            await work.repos.batches.save_lines([paid, rejected])
            await work.commit()
        async with uow() as work:
            assert (await work.repos.batches.lines([b.id]))[b.id] == [paid, rejected]
            assert await work.repos.batches.carryable("GBP") == [rejected]
            assert rejected in await work.repos.batches.carryable()
            assert await work.repos.batches.carryable("EUR") == []
            batches, lines_by = await work.repos.batches.counts()
            assert batches["approved"] >= 1 and lines_by["paid"] >= 1 and lines_by["rejected"] >= 1
        nxt = batch(f"{key}-n-GBP", pay_period="2027-02", currency="GBP")
        carried = replace(
            rejected, id=f"{key}-3", batch_id=nxt.id, status="pending", carried_from=rejected.id
        )
        async with uow() as work:
            await work.repos.batches.add(nxt, [carried])  # e2 is free: its line was rejected
            await work.commit()
        async with uow() as work:
            assert await work.repos.batches.carryable("GBP") == []
            again = batch(f"{key}-m-GBP", pay_period="2027-03", currency="GBP")
            with pytest.raises(Conflict):  # carried once
                await work.repos.batches.add(again, [replace(carried, id=f"{key}-4", batch_id=again.id)])

    async def test_an_acknowledgement_is_kept_under_its_key(self, uow: UoWFactory, key: str) -> None:
        record = AckRecord(
            f"{key}-k", "b-1", "f" * 64, {"batch_id": "b-1", "settled": ["l-1"], "n": None}, AT
        )
        async with uow() as work:
            assert await work.repos.batches.ack(record.key) is None
            await work.repos.batches.add_ack(record)
            await work.commit()
        async with uow() as work:
            assert await work.repos.batches.ack(record.key) == record


class TestAccountingReads:
    async def test_entries_read_by_date_through_a_day_and_by_deal(self, uow: UoWFactory, key: str) -> None:
        deal = f"generic:{key}-D"
        jan = entry(f"{key}-a", f"{key}-ann", entry_date="2027-01-31", pay_period="2027-01", deal=deal)
        feb = entry(f"{key}-b", f"{key}-bob", entry_date="2027-02-01", deal=deal)
        other = entry(f"{key}-c", f"{key}-ann", entry_date="2027-01-15", pay_period="2027-01", deal=None)
        async with uow() as work:
            for e in (feb, other, jan):
                await work.repos.ledger.add(e)
            await work.commit()
        async with uow() as work:
            through_jan = await work.repos.ledger.dated_through(date(2027, 1, 31))
            through_feb = await work.repos.ledger.dated_through(date(2027, 2, 1))
            assert [e for e in through_jan if e.entry_id.startswith(key)] == [other, jan]
            assert [e for e in through_feb if e.entry_id.startswith(key)] == [other, jan, feb]
            assert await work.repos.ledger.by_deal(deal) == [jan, feb]
            assert await work.repos.ledger.by_deal(f"generic:{key}-none") == []


def terms(key: str, **fields: object) -> DealTerms:
    record = deal_record(f"{key}-D", **fields)
    return DealTerms.of(record.key, record.to_data())


class TestDeals:
    async def test_terms_read_back_with_every_field_and_are_replaced(self, uow: UoWFactory, key: str) -> None:
        dated = terms(key, contract_months=36, contract_start="2027-02-01", close_date="2027-01-15")
        stamped = terms(key, contract_months=None, close_date="2027-01-31T23:30:00-05:00", revision=2)
        bare = terms(f"{key}-2", close_date=None)
        async with uow() as work:
            assert await work.repos.deals.get(dated.deal) is None
            await work.repos.deals.put(dated)
            await work.repos.deals.put(bare)
            await work.commit()
        async with uow() as work:
            assert await work.repos.deals.get(dated.deal, for_update=True) == dated
            assert await work.repos.deals.many([dated.deal, bare.deal, "generic:nope"]) == {
                dated.deal: dated,
                bare.deal: bare,
            }
            await work.repos.deals.put(stamped)
            await work.commit()
        async with uow() as work:
            held = await work.repos.deals.get(dated.deal)
        assert held == stamped
        assert held is not None and isinstance(held.close_date, datetime) and held.close_date.utcoffset()
        assert held.order == stamped.order

    async def test_terms_not_committed_are_not_stored(self, uow: UoWFactory, key: str) -> None:
        async with uow() as work:
            await work.repos.deals.put(terms(key, contract_months=24))
        async with uow() as work:
            assert await work.repos.deals.get(f"generic:{key}-D") is None
