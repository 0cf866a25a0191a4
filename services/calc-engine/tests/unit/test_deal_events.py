"""calc-engine on deal events (on_deal and the finisher), on the fake unit of work."""

from __future__ import annotations

from decimal import Decimal

import pytest
from calc_fakes import (
    YEAR,
    CalcStore,
    commission,
    consume,
    consume_each,
    consume_envelopes,
    deal,
    drift,
    fake_uow,
    ledger_rows,
    ledger_total,
    memory_repositories,
    payee,
    plan_locks,
    plan_version,
    published,
)
from prometheus_client import REGISTRY

from calc_engine.service_layer.handlers import PENDING, Pending, on_deal, reconcile_pending
from provisio_common.inbox import PoisonMessage
from provisio_common.routes import outgoing
from provisio_common.testing.fakes import FakeStore


@pytest.fixture
async def store() -> CalcStore:
    """A plan (10% of amount) and ann, known in the CRM as generic:ann."""
    store: CalcStore = FakeStore(memory_repositories())
    await consume(store, plan_version(), payee("ann", crm_ids=["generic:ann"]))
    return store


def period_total(store: CalcStore, period: str) -> Decimal:
    return sum((row.amount for row in ledger_rows(store) if row.period == period), Decimal(0))


async def test_a_won_deal_is_held_credited_and_posted_with_its_event_as_cause(store: CalcStore) -> None:
    [env] = await consume(store, deal("D1", owner="generic:ann", amount="1000.00"))

    assert [(d.deal, d.revision, d.status) for d in await store.repos.deals.held()] == [
        ("generic:D1", 1, "won")
    ]
    [credit] = published(store, "credit")
    assert (credit.subject, credit.data["payee"], credit.data["share"], credit.data["amount"]) == (
        "ann",
        "ann",
        "1",
        "1000.00",
    )
    [entry] = ledger_rows(store)
    assert (entry.payee, entry.period, entry.deal, entry.amount, entry.cause_event) == (
        "ann",
        f"{YEAR}-Q1",
        "generic:D1",
        Decimal("100"),
        env.id,
    )
    assert entry.explanation["deal_credit"]["deal"] == "generic:D1"
    assert entry.explanation["plan_version"] == 1
    [posted] = published(store, "ledger.entry")
    assert (posted.source, posted.subject, posted.data["entry_id"]) == ("calc-engine", "ann", entry.entry_id)


async def test_a_revision_already_held_is_dropped_before_any_work(store: CalcStore) -> None:
    await consume(store, deal("D1", revision=2, amount="2000.00"))
    before = (len(store.published()), ledger_rows(store))

    uow = fake_uow(store)
    async with uow:
        await on_deal(uow, deal("D1", revision=2, amount="7000.00"))  # held already: a redelivery
        assert PENDING not in uow.state
        await uow.commit()

    assert (len(store.published()), ledger_rows(store)) == before
    [held] = await store.repos.deals.held()
    assert (held.revision, held.status) == (2, "won")


async def test_a_late_revision_joins_history_and_the_latest_stays_current(store: CalcStore) -> None:
    # Won on 02-10, cancelled on 02-20 (inside no clawback limit): the cancellation arrives
    # first, the win later (a CRM retry). History is by changed_at, so the win is credited
    # and then reversed, exactly as if they had arrived in order.
    await consume(store, deal("D1", revision=1, status="cancelled", changed=f"{YEAR}-02-20"))
    assert ledger_total(store, payee="ann") == Decimal(0)
    await consume(store, deal("D1", revision=2, status="won", changed=f"{YEAR}-02-10"))
    [held] = await store.repos.deals.held()
    assert (held.revision, held.status) == (1, "cancelled")  # still the latest in history
    entries = sorted((e.entry_date.isoformat(), e.amount) for e in ledger_rows(store) if e.payee == "ann")
    assert entries == [(f"{YEAR}-02-10", Decimal("100")), (f"{YEAR}-02-20", Decimal("-100"))]


async def test_a_cancelled_deal_inside_the_window_posts_a_reversal(store: CalcStore) -> None:
    await consume(store, deal("D1", amount="1000.00"))
    [cancel] = await consume(
        store, deal("D1", revision=2, status="cancelled", changed=f"{YEAR}-02-20", amount="1000.00")
    )

    reversal = ledger_rows(store)[-1]
    assert (reversal.amount, reversal.entry_date.isoformat(), reversal.cause_event) == (
        Decimal("-100"),
        f"{YEAR}-02-20",
        cancel.id,
    )
    assert ledger_total(store, deal="generic:D1") == 0
    assert published(store, "credit")[-1].data["status"] == "cancelled"


async def test_a_cancellation_outside_the_clawback_window_posts_nothing(store: CalcStore) -> None:
    await consume(store, deal("D1", amount="1000.00"))
    await consume(store, deal("D1", revision=2, status="cancelled", changed=f"{YEAR}-08-20"))

    assert [row.amount for row in ledger_rows(store)] == [Decimal("100")]


async def test_a_new_revision_moving_the_close_date_reconciles_both_periods(store: CalcStore) -> None:
    await consume(store, deal("D1", close=f"{YEAR}-02-10"))
    await consume(store, deal("D1", revision=2, close=f"{YEAR}-05-10"))

    assert (period_total(store, f"{YEAR}-Q1"), period_total(store, f"{YEAR}-Q2")) == (
        Decimal(0),
        Decimal("100"),
    )


async def test_a_deal_event_leaves_its_close_days_deal_and_people_for_the_finisher(store: CalcStore) -> None:
    await consume(store, deal("D1", close=f"{YEAR}-02-10"))
    uow = fake_uow(store)
    async with uow:
        # bob takes the deal over, with a split to cy: ann's lines can change too
        moved = deal(
            "D1", revision=2, close=f"{YEAR}-05-10", owner="bob", splits=[("cy", "0.5"), ("bob", "0.5")]
        )
        await on_deal(uow, moved)
        assert uow.state[PENDING] == Pending(
            days={f"{YEAR}-02-10", f"{YEAR}-05-10"}, deals={"generic:D1"}, payees={"ann", "bob", "cy"}
        )
        await on_deal(uow, deal("D2", status="open", close=None))
        assert uow.state[PENDING].everything


async def test_a_deal_event_reconciles_only_the_periods_of_its_close_days(store: CalcStore) -> None:
    await consume(store, deal("D1", close=f"{YEAR}-02-10"))
    drift(store, f"{YEAR}-Q3", f"{YEAR}-08-01", "5")

    await consume(store, deal("D2", close=f"{YEAR}-03-01"))

    assert period_total(store, f"{YEAR}-Q3") == 5  # the drift outside the deal's period stays
    assert ledger_total(store, deal="generic:D2") == Decimal("100")


async def test_a_deal_in_an_ended_contests_window_reconciles_the_whole_plan() -> None:
    store: CalcStore = FakeStore(memory_repositories())
    contest = {
        "id": "q3-contest",
        "kind": "contest",
        "window": {"from": f"{YEAR}-07-01", "to": f"{YEAR}-09-30"},
        "rank_by": {"metric": "amount"},
        "prizes": [{"rank": 1, "amount": "1000"}],
    }
    await consume(store, plan_version(commission(), contest), payee("ann"))
    await consume(store, deal("D1", close=f"{YEAR}-02-10"))
    drift(store, f"{YEAR}-Q1", f"{YEAR}-03-01", "5")

    # The contest is over and D2 closes in its window: the ranking may move, so the whole
    # plan is recomputed (a contest's window spans periods), the other period included.
    await consume(store, deal("D2", close=f"{YEAR}-08-11"))

    assert period_total(store, f"{YEAR}-Q1") == Decimal("100")  # the drift was corrected
    assert ledger_total(store, payee="ann") == Decimal("1200")  # 2 x 10%, and the prize


async def test_a_batch_reconciles_once_and_names_its_last_event() -> None:
    store: CalcStore = FakeStore(memory_repositories())
    await consume(store, plan_version(), payee("ann"))
    locks_before = len(plan_locks(store.repos))

    applied = await consume(store, deal("D1"), deal("D2", close=f"{YEAR}-05-10"))

    assert {row.cause_event for row in ledger_rows(store)} == {applied[-1].id}
    # once for the batch: a keyed run shares the plan's lock and locks ann's lines
    assert plan_locks(store.repos)[locks_before:] == ["ae (shared)", "ae:ann"]


async def test_the_finisher_does_nothing_when_no_handler_left_work(store: CalcStore) -> None:
    locks_before = plan_locks(store.repos)
    uow = fake_uow(store)
    async with uow:
        await reconcile_pending(uow, [outgoing(deal("D9"), "t").envelope])
        assert plan_locks(uow.repos) == locks_before
        assert uow.work.outbox == store.outbox


async def test_a_redelivered_deal_event_changes_nothing(store: CalcStore) -> None:
    env = outgoing(deal("D1"), "t").envelope
    await consume_envelopes(store, [env])
    before = (store.published(), ledger_rows(store))

    assert await consume_envelopes(store, [env]) == []
    assert (store.published(), ledger_rows(store)) == before


async def test_a_won_deal_without_a_close_date_is_poison(store: CalcStore) -> None:
    uow = fake_uow(store)
    async with uow:
        with pytest.raises(PoisonMessage, match="close_date"):
            await on_deal(uow, deal("D1", close=None))


async def test_a_bad_split_credits_nothing_and_is_an_exception(store: CalcStore) -> None:
    await consume(store, payee("bob"))
    await consume(store, deal("D1", splits=[("ann", "0.5"), ("bob", "0.6")]))

    assert published(store, "credit") == []
    assert ledger_rows(store) == []
    [exc] = await store.repos.exceptions.all()
    assert (exc.plan, exc.kind, exc.deal) == ("ae", "bad_split", "generic:D1")
    assert REGISTRY.get_sample_value("provisio_calc_exceptions", {"kind": "bad_split"}) == 1


async def test_splits_credit_each_payee_their_share(store: CalcStore) -> None:
    await consume(store, payee("bob"))
    await consume(store, deal("D1", amount="1000.00", splits=[("ann", "0.25"), ("bob", "0.75")]))

    credits = {c.data["payee"]: (c.data["share"], c.data["amount"]) for c in published(store, "credit")}
    assert credits == {"ann": ("0.25", "250.0000"), "bob": ("0.75", "750.0000")}
    assert (ledger_total(store, payee="ann"), ledger_total(store, payee="bob")) == (
        Decimal("25"),
        Decimal("75"),
    )


async def test_a_payee_dropped_from_the_splits_gets_a_zero_credit(store: CalcStore) -> None:
    await consume(store, payee("bob"))
    await consume(store, deal("D1", splits=[("ann", "0.5"), ("bob", "0.5")]))
    await consume(store, deal("D1", revision=2))

    latest = {c.data["payee"]: c.data["share"] for c in published(store, "credit") if c.data["revision"] == 2}
    assert latest == {"ann": "1", "bob": "0"}
    assert (ledger_total(store, payee="ann"), ledger_total(store, payee="bob")) == (
        Decimal("100"),
        Decimal(0),
    )


async def test_deals_of_payees_not_assigned_to_the_plan_post_nothing() -> None:
    store: CalcStore = FakeStore(memory_repositories())
    await consume_each(store, plan_version(), payee("ann", plans=()))
    await consume(store, deal("D1"))

    assert ledger_rows(store) == []
    assert len(published(store, "credit")) == 1
