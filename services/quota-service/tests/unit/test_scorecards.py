"""The replicas (deals.v1, activities.v1, ledger.v1), scorecards and leaderboards on the
fake unit of work."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from quota_fakes import fake_store, fake_uow

from provisio_common.auth import Principal
from provisio_common.events import ActivityRecord, DealSnapshot, LedgerEntryRecord, Schema
from provisio_common.problems import Problem
from provisio_common.testing.fakes import FakeStore
from quota_service.adapters.repositories import QuotaRepositories
from quota_service.consumers.spec import consumers
from quota_service.domain.payees import PayeeIn
from quota_service.domain.teams import TeamIn
from quota_service.service_layer.fx import put_fx_rate
from quota_service.service_layer.payees import put_payee
from quota_service.service_layer.replicas import on_activity, on_deal, on_ledger_entry
from quota_service.service_layer.scorecards import leaderboard, scorecard
from quota_service.service_layer.targets import put_target
from quota_service.service_layer.teams import put_team

ADMIN = Principal("ada", "admin")
D = Decimal


def snapshot(n: int, revision: int = 1, **fields: Any) -> DealSnapshot:
    data = {
        "source": "hubspot",
        "external_id": str(n),
        "revision": revision,
        "status": "won",
        "amount": "1000",
        "currency": "USD",
        "created_date": "2027-01-10",
        "close_date": "2027-02-09",
        "changed_at": f"2027-02-09T00:00:0{revision}Z",
        "owner": "hubspot:1",
        **fields,
    }
    return DealSnapshot.model_validate(data)


def activity(
    n: int, kind: str, owner: str = "hubspot:1", occurred: str = "2027-02-01T10:00:00Z"
) -> ActivityRecord:
    data = {
        "source": "hubspot",
        "external_id": f"a{n}",
        "kind": kind,
        "owner": owner,
        "occurred_at": occurred,
    }
    return ActivityRecord.model_validate(data)


def entry(entry_id: str, payee: str, amount: str, day: str = "2027-02-09") -> LedgerEntryRecord:
    return LedgerEntryRecord.model_validate(
        {
            "entry_id": entry_id,
            "payee": payee,
            "plan": "ae",
            "plan_version": 1,
            "component": "base",
            "period": "2027-Q1",
            "entry_date": day,
            "pay_period": "2027-02",
            "amount": amount,
            "currency": "USD",
            "cause_event": "e",
            "posted_at": "2027-02-09T00:00:00Z",
        }
    )


HANDLERS = {DealSnapshot: on_deal, ActivityRecord: on_activity, LedgerEntryRecord: on_ledger_entry}


async def deliver(store: FakeStore[QuotaRepositories], *records: Schema) -> None:
    for record in records:
        async with fake_uow(store) as uow:
            await HANDLERS[type(record)](uow, record)  # type: ignore[operator]
            await uow.commit()


async def company() -> FakeStore[QuotaRepositories]:
    """boss manages ann (hubspot:1) and bob (hubspot:2); cy stands alone. Team east: ann, bob."""
    store = fake_store()
    for payee_id, manager, crm in (
        ("boss", None, "hubspot:9"),
        ("ann", "boss", "hubspot:1"),
        ("bob", "boss", "hubspot:2"),
        ("cy", None, "hubspot:3"),
    ):
        roles = ["manager"] if payee_id == "boss" else ["rep"]
        body = PayeeIn.model_validate(
            {"name": payee_id.title(), "manager": manager, "crm_ids": [crm], "roles": roles}
        )
        await put_payee(fake_uow(store), ADMIN, payee_id, body)
    team = TeamIn.model_validate(
        {"name": "East", "lead": "boss", "members": [{"payee": "ann"}, {"payee": "bob"}]}
    )
    await put_team(fake_uow(store), ADMIN, "east", team)
    return store


def test_the_consumer_handles_credits_deals_activities_and_ledger_entries() -> None:
    [spec] = consumers()
    assert spec.name == "quota-service"
    assert spec.topics == ["activities.v1", "credits.v1", "deals.v1", "ledger.v1"]


async def test_the_deal_replica_keeps_the_latest_snapshot_in_history_order_whatever_the_arrival() -> None:
    store = fake_store()
    later, earlier = snapshot(1, 2, amount="2000"), snapshot(1, 1, amount="1000")
    await deliver(store, later, earlier, later)
    held = await store.repos.deals.current("hubspot:1")
    assert held is not None and held["amount"] == "2000"
    # a revision made later in the CRM replaces it, even when it is numbered lower
    await deliver(store, snapshot(1, 1, amount="3000", changed_at="2027-03-01T00:00:00Z"))
    held = await store.repos.deals.current("hubspot:1")
    assert held is not None and held["amount"] == "3000"


async def test_activities_and_ledger_entries_are_kept_once() -> None:
    store = fake_store()
    await deliver(
        store, activity(1, "call"), activity(1, "demo"), entry("e1", "ann", "5"), entry("e1", "ann", "9")
    )
    [kept] = await store.repos.activities.between(date(2027, 1, 1), date(2027, 12, 31))
    assert kept["kind"] == "call"
    [commission] = await store.repos.commissions.between(date(2027, 1, 1), date(2027, 12, 31))
    assert commission.amount == 5


async def sales(store: FakeStore[QuotaRepositories]) -> None:
    """Q1 2027: ann wins 1000 USD (created 01-10, 30 days) and 2000 EUR at 1.1 split with bob,
    loses one; bob wins 500; 2026-Q4: ann wins 400. Activities and commissions."""
    await put_fx_rate(fake_uow(store), ADMIN, date(2027, 1, 1), "EUR", "USD", D("1.1"))
    await deliver(
        store,
        snapshot(1),
        snapshot(
            2,
            amount="2000",
            currency="EUR",
            splits=[{"payee": "hubspot:1", "share": "0.5"}, {"payee": "bob", "share": "0.5"}],
            lines=[{"product": "p", "amount": "2000", "margin": "1000"}],
            lead_source="web",
        ),
        snapshot(3, status="lost", close_date="2027-03-01", created_date="2027-02-01"),
        snapshot(4, owner="hubspot:2", amount="500", created_date="2027-03-01", close_date="2027-03-11"),
        snapshot(5, amount="400", created_date="2026-10-01", close_date="2026-11-01"),
        snapshot(6, amount="70", currency="GBP", created_date=None),
        activity(1, "call"),
        activity(2, "call", owner="ann"),
        activity(3, "meeting"),
        activity(4, "email", owner="hubspot:2"),
        activity(5, "demo", occurred="2026-12-01T10:00:00Z"),
        entry("e1", "ann", "200"),
        entry("e2", "bob", "50"),
    )


def line(card: Any, kpi: str) -> Any:
    return next(k for k in card.kpis if k.kpi.name == kpi)


async def test_a_payee_scorecard_has_every_kpi_with_target_attainment_and_trend() -> None:
    store = await company()
    await sales(store)
    for kpi, value in (("revenue", "2000"), ("calls", "4"), ("win_rate", "0.5"), ("sales_cycle_days", "40")):
        await put_target(fake_uow(store), ADMIN, "payee:ann", kpi, "2027-Q1", D(value))
    card = await scorecard(fake_uow(store), Principal("ann", "rep"), "payee:ann", "2027-Q1", 2, "USD")
    assert (card.subject, card.currency, card.members) == ("payee:ann", "USD", [])
    assert [k.kpi.name for k in card.kpis][:4] == ["calls", "meetings", "emails", "demos"]
    revenue = line(card, "revenue")
    # d1 1000 + d2 2000 x 1.1 x 0.5 = 2100; d6 is GBP without a rate
    assert (revenue.actual, revenue.target, revenue.attainment, revenue.complete) == (
        D(2100),
        D(2000),
        D(105),
        False,
    )
    assert revenue.trend == [("2026-Q4", D(400)), ("2027-Q1", D(2100))]
    calls = line(card, "calls")
    assert (calls.actual, calls.attainment, calls.complete) == (D(2), D(50), True)
    win = line(card, "win_rate")  # won 1 + 0.5 + 1 (d6), lost 1
    assert win.actual == D("0.7142857142857142857142857143")
    cycle = line(card, "sales_cycle_days")  # d1 30, d2 30 x 0.5 (no created date for d6)
    assert (cycle.actual, cycle.attainment) == (D(30), D("133.3333333333333333333333333"))
    assert line(card, "cost_of_sales").actual == D("0.09523809523809523809523809524")  # 200 / 2100
    assert [m.item for m in card.missing_fx] == ["hubspot:6"]
    assert card.lead_conversion_by_source == {"unknown": D("0.5"), "web": D(1)}  # d1 won, d3 lost
    assert line(card, "demos").trend == [("2026-Q4", D(1)), ("2027-Q1", D(0))]


async def test_a_team_scorecard_rolls_up_its_members_with_the_teams_own_target() -> None:
    store = await company()
    await sales(store)
    await put_target(fake_uow(store), ADMIN, "team:east", "revenue", "2027-Q1", D(3000))
    card = await scorecard(fake_uow(store), Principal("boss", "manager"), "team:east", "2027-Q1", 1, "USD")
    assert card.members == ["ann", "bob"]
    revenue = line(card, "revenue")
    assert (revenue.actual, revenue.attainment) == (D(3700), D("123.3333333333333333333333333"))
    assert line(card, "emails").actual == 1 and line(card, "margin").actual == D(1100)
    assert line(card, "new_opportunities").actual == D(4)


@pytest.mark.parametrize(
    ("sub", "role", "subject", "status"),
    [
        ("ann", "rep", "payee:bob", 403),
        ("ann", "rep", "team:east", 403),
        ("cy", "manager", "payee:ann", 403),
        ("boss", "manager", "payee:zed", 403),
        ("ada", "admin", "payee:zed", 404),
        ("ada", "admin", "team:west", 404),
        ("ada", "admin", "ann", 422),
    ],
)
async def test_scorecards_are_seen_as_design_7_says(sub: str, role: Any, subject: str, status: int) -> None:
    store = await company()
    with pytest.raises(Problem) as refused:
        await scorecard(fake_uow(store), Principal(sub, role), subject, "2027-Q1", 4, "USD")
    assert refused.value.status == status


async def test_a_scorecard_checks_its_period_and_trend() -> None:
    store = await company()
    for period, trend, field in (("2027-Q5", 4, "period"), ("2027-Q1", 0, "trend"), ("2027-Q1", 13, "trend")):
        with pytest.raises(Problem) as refused:
            await scorecard(fake_uow(store), ADMIN, "payee:ann", period, trend, "USD")
        assert refused.value.errors[0]["field"] == field


async def test_a_leaderboard_ranks_reps_with_ties_sharing_the_higher_rank() -> None:
    store = await company()
    await sales(store)
    await deliver(store, activity(6, "call", owner="hubspot:2"), activity(7, "call", owner="cy"))
    board = await leaderboard(fake_uow(store), ADMIN, "calls", "2027-Q1", None, "USD", False)
    # ann 2 calls, bob 1, cy 1; boss is not a rep
    assert [(s.rank, s.payee, s.name, s.value) for s in board.standings] == [
        (1, "ann", "Ann", D(2)),
        (2, "bob", "Bob", D(1)),
        (2, "cy", "Cy", D(1)),
    ]
    cycle = await leaderboard(fake_uow(store), ADMIN, "sales_cycle_days", "2027-Q1", "east", "USD", False)
    # lower is better: bob (d2 30 days x 0.5 + d4 10 days) / 1.5 = 16.67, ann 30
    assert [(s.rank, s.payee) for s in cycle.standings] == [(1, "bob"), (2, "ann")]


async def test_a_rep_sees_every_rank_but_only_their_own_row_unless_names_are_allowed() -> None:
    store = await company()
    await sales(store)
    rep = Principal("bob", "rep")
    hidden = await leaderboard(fake_uow(store), rep, "revenue", "2027-Q1", None, "USD", False)
    assert hidden.names_hidden
    assert [(s.rank, s.payee, s.value, s.you) for s in hidden.standings] == [
        (1, None, None, False),
        (2, "bob", D(1600), True),
        (3, None, None, False),
    ]
    shown = await leaderboard(fake_uow(store), rep, "revenue", "2027-Q1", None, "USD", True)
    assert [s.payee for s in shown.standings] == ["ann", "bob", "cy"] and not shown.names_hidden


async def test_a_manager_ranks_their_subtree_only() -> None:
    store = await company()
    await sales(store)
    board = await leaderboard(
        fake_uow(store), Principal("boss", "manager"), "revenue", "2027-Q1", None, "USD", False
    )
    assert [(s.rank, s.payee) for s in board.standings] == [(1, "ann"), (2, "bob")]
    nobody = await leaderboard(
        fake_uow(store), Principal("cy", "manager"), "revenue", "2027-Q1", "east", "USD", False
    )
    assert nobody.standings == []


async def test_a_leaderboard_checks_its_kpi_period_and_team() -> None:
    store = await company()
    with pytest.raises(Problem) as bad:
        await leaderboard(fake_uow(store), ADMIN, "fun", "2027-Q9", None, "USD", False)
    assert [e["field"] for e in bad.value.errors] == ["kpi", "period"]
    with pytest.raises(Problem) as missing:
        await leaderboard(fake_uow(store), ADMIN, "calls", "2027-Q1", "west", "USD", False)
    assert missing.value.status == 404
